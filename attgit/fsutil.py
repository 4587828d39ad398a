"""Files attgit writes for people to keep: the one rule for writing them,
and the free-space check that comes before.

A backup file is written under a hidden temporary name in its target
folder (mode 0600 from the first byte: it holds everyone's attendance),
flushed to disk with fsync, then renamed into place; on any failure the
temporary file is removed, so a reader never sees half a file and nothing
partial is left behind.  Before writing, the folder must have room for the
estimated size (and a margin): a full disk is refused up front with a clear
message rather than discovered half way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO, Iterator, Union

from attgit.errors import NoSpace, NotFound

#: Space kept free beyond the estimate: the system and the database need room too.
MARGIN = 16 << 20

#: Average bytes of one record's line in a backup file or a snapshot blob
#: (measured on the demo data: ~190 in a backup file, ~215 in a blob).
RECORD_BYTES = 256

PRIVATE = 0o600


def free_bytes(folder: Union[str, os.PathLike]) -> int:
    """Bytes free for an unprivileged writer in ``folder``."""
    return shutil.disk_usage(folder).free


def check_free_space(folder: Union[str, os.PathLike], needed: int, what: str) -> None:
    """Refuse (NoSpace) when ``folder`` has less than ``needed`` bytes plus
    the margin free; ``what`` names the file for the message."""
    free = free_bytes(folder)
    if needed + MARGIN > free:
        raise NoSpace(
            f"not enough free disk space for {what} in {os.fspath(folder)}: it needs about "
            f"{_mb(needed + MARGIN)} (estimate plus a {_mb(MARGIN)} margin), {_mb(free)} is free; "
            "free some space or choose another folder. Nothing was written"
        )


def estimate(records: int, per_record: int = RECORD_BYTES) -> int:
    """The size of a file of ``records`` records (records x average line)."""
    return max(records, 0) * per_record + 4096


@contextlib.contextmanager
def private_file(path: Union[str, os.PathLike], needed: int = 0, what: str = "the file") -> Iterator[BinaryIO]:
    """Write ``path`` by the one rule: a hidden temporary file in the same
    folder, mode 0600, fsync, rename.  Yields the open binary file.

    The folder must exist (NotFound otherwise: attgit does not invent
    folders from a typo).  If the body raises, the temporary file is
    removed and ``path`` is untouched.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise NotFound(f"cannot write {os.fspath(target)!r}: no folder {os.fspath(folder)!r} (it does not exist); "
                       "create it first or choose another")
    check_free_space(folder, needed, what)
    partial = folder / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.partial"
    out = open(partial, "xb", opener=_private_opener)  # noqa: SIM115 - closed below
    try:
        with out:
            yield out
        os.chmod(partial, PRIVATE)  # the umask only narrows it; a helper (gpg) may have rewritten it
        _fsync(partial, os.O_RDONLY)
        os.replace(partial, target)
        _fsync(folder, os.O_RDONLY)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, PRIVATE)


def _fsync(path: Path, flags: int) -> None:
    """Flush a file's data (or a folder's entries: the rename) to disk;
    harmless where a folder cannot be opened."""
    with contextlib.suppress(IsADirectoryError, PermissionError):
        fd = os.open(path, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` (on this machine) still runs: what every sweep
    of leftovers asks before it removes a folder or file a process named by
    its pid (spools, previews, clones, backup claims, job progress) left."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
