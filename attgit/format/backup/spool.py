"""The spool: validated records, one temporary file per company, so a file
of any size is held in bounded memory.

The records are plain text (possibly of an encrypted backup), so a spool
never sits in a shared temporary folder: it is a private folder (0700)
under the repository's own directory (``<repo>/attgit-spool/``), holding
a lock (``flock``) for as long as its process lives.  It is removed when
the reading ends, fails or is interrupted (SIGINT, and SIGTERM/SIGHUP,
which the commands turn into an interruption), and a spool whose process
died without cleaning up (SIGKILL, power loss) is swept by the next
reader, or by :func:`sweep` at the start of the next command.
"""


from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
import weakref
from pathlib import Path
from typing import Iterator, Optional, Union

from attgit.fsutil import process_alive
from attgit.interrupts import held

#: The spools' folder inside a repository (a bare git repository ignores it).
SPOOL_FOLDER = "attgit-spool"

_PREFIX = "attgit-backup-"
_LOCK = ".owner"


def spool_parent(repo_path: Union[str, os.PathLike, None]) -> Optional[Path]:
    """Where a repository's spools go.  None when no repository is named or
    it does not exist yet (its folder is not made here: a restore that
    creates the repository would find a folder that is no repository); the
    spool then goes to the system's temporary folder, private all the same."""
    if not repo_path or not os.path.isdir(repo_path):
        return None
    return Path(repo_path) / SPOOL_FOLDER


def sweep(parent: Union[str, os.PathLike, None]) -> int:
    """Remove the spools under ``parent`` whose process is gone (its lock is
    free); return how many.  Safe while other processes read: a live
    spool's lock is held."""
    if parent is None or not os.path.isdir(parent):
        return 0
    removed = 0
    for entry in os.scandir(os.fspath(parent)):
        if entry.name.startswith(_PREFIX) and entry.is_dir(follow_symlinks=False) and _abandoned(entry.path):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


#: Folders earlier versions left in the system's temporary folder: a spool
#: (no pid in its name, no lock) and a decrypted copy.
_LEGACY = ("attgit-backup-", "attgit-decrypt-")
#: A legacy folder is swept once this old (its process is surely gone).
_LEGACY_AGE = 3600


def sweep_temporary() -> int:
    """Remove this user's abandoned spools from the system's temporary
    folder: the fallback spools of a process that is gone, and what earlier
    versions left there (plain-text records of killed imports).  Returns
    how many."""
    removed = 0
    folder = tempfile.gettempdir()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if entry.name.startswith(_LEGACY) and _ours(entry) and _stale(entry.path):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


def _ours(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_uid == os.getuid()
    except OSError:
        return False


def _stale(folder: str) -> bool:
    """A folder with a lock or a pid is judged by them; one with neither (an
    earlier version's) by its age."""
    if os.path.exists(os.path.join(folder, _LOCK)) or _owner_pid(folder):
        return _abandoned(folder)
    try:
        return time.time() - os.stat(folder).st_mtime > _LEGACY_AGE
    except OSError:
        return False


def _abandoned(folder: str) -> bool:
    try:
        fd = os.open(os.path.join(folder, _LOCK), os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:  # its lock not made yet, or already removed: ask for its process
        return not process_alive(_owner_pid(folder))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # its process holds the lock: alive
    finally:
        os.close(fd)
    return True


def _owner_pid(folder: str) -> int:
    """The pid in a spool's name (``attgit-backup-<pid>-<random>``), else 0."""
    name = os.path.basename(folder)
    parts = name[len(_PREFIX):].split("-", 1) if name.startswith(_PREFIX) else []
    return int(parts[0]) if len(parts) == 2 and parts[0].isdigit() else 0  # earlier names had no pid


def _private_parent(parent: Union[str, os.PathLike, None]) -> str:
    """``parent`` made if missing and kept private (0700); the system's
    temporary folder when no repository is named (a library caller)."""
    if parent is None:
        return tempfile.gettempdir()
    os.makedirs(parent, mode=0o700, exist_ok=True)
    if os.stat(parent).st_mode & 0o077:
        os.chmod(parent, 0o700)
    return os.fspath(parent)


class _Spool:
    """Validated records as canonical JSON lines, one temporary file per
    company, written through bounded buffers."""

    FLUSH_BYTES = 8 << 20

    def __init__(self, parent: Union[str, os.PathLike, None] = None):
        where = _private_parent(parent)
        if parent is not None:
            sweep(where)
        else:
            sweep_temporary()
        self._make(where)
        self.files: dict = {}  # company -> file name
        self.counts: dict = {}  # company -> records
        self.buffers: dict = {}
        self.pending: dict = {}  # company -> lines buffered, not yet counted
        self.buffered = 0

    def _make(self, where: str) -> None:
        """The folder, its lock and its clean-up, made with the interrupting
        signals held back: a SIGTERM or Ctrl-C handled between the folder
        and its clean-up would leave the folder behind (found by CI: a
        SIGTERM at the moment ``mkdtemp`` returned).  A signal that came
        meanwhile interrupts right after, with the clean-up in place."""
        self.dir = ""
        try:
            with held():
                self.dir = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=where)  # mode 0700
                self._lock = os.open(os.path.join(self.dir, _LOCK), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
                self._cleanup = weakref.finalize(self, _remove, self.dir, self._lock)
                fcntl.flock(self._lock, fcntl.LOCK_EX)
        except BaseException:
            if hasattr(self, "_cleanup"):
                self._cleanup()
            elif self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def add(self, company: str, line: bytes) -> None:
        """Buffer one line (without its newline); counts are exact after flush().

        Lines are copied into one bytearray per company: holding orjson's
        own result objects would keep a 4 KiB allocation per record alive.
        """
        buffer = self.buffers.get(company)
        if buffer is None:
            buffer = self._buffer(company)
        buffer += line
        buffer += b"\n"
        self.pending[company] = self.pending.get(company, 0) + 1
        self.buffered += len(line) + 1
        if self.buffered > self.FLUSH_BYTES:
            self.flush()

    def _buffer(self, company: str) -> bytearray:
        if company not in self.files:
            self.files[company] = f"{len(self.files):06d}.jsonl"
            self.counts[company] = 0
        buffer = self.buffers[company] = bytearray()
        return buffer

    def flush(self) -> None:
        for company, data in self.buffers.items():
            with open(os.path.join(self.dir, self.files[company]), "ab") as fh:
                fh.write(data)
            self.counts[company] += self.pending.get(company, 0)
        self.buffers.clear()
        self.pending.clear()
        self.buffered = 0

    def lines(self, company: str) -> Iterator[bytes]:
        name = self.files.get(company)
        if name is None:
            return
        with open(os.path.join(self.dir, name), "rb") as fh:
            yield from fh

    def close(self) -> None:
        self.buffers.clear()
        self._cleanup()


def _remove(folder: str, lock: int) -> None:
    """The spool's clean-up, run once (``weakref.finalize``): a signal handled
    in the middle of it would leave the rest of the folder, so it waits."""
    with held():
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(lock)
