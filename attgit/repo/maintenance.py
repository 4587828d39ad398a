"""Repositories that stay small: git's own packing, on attgit's terms.

Every commit stores each changed company's whole file as a new loose object;
a year of nightly commits would keep a full compressed copy of the data per
day.  Packed, older versions become deltas of newer ones.  So after
every write, :func:`auto` looks at the loose objects (a directory listing,
no object is read) and when they pass a threshold runs ``git repack -a -d``:
one new pack with every reachable object, existing deltas reused, only the
new objects searched for a delta.  ``attgit gc`` (:func:`gc`) runs a full
``git gc`` by hand.

Why this is safe beside attgit's own writers: git's packing never deletes
an object that is not in the new pack (``-d`` removes only packs it read
and loose objects now packed), and a loose object that no ref reaches yet
(a commit being written) stays loose; readers (libgit2 too) find an object
again in the new pack when an old one vanishes.  So maintenance takes its
own lock (two repacks at once waste work), not the repository's: it never
makes another attgit command wait or fail.

What packing cannot do yet (bench/growth.py): with delta reuse, a
company's newest file, whose search window holds other companies' files,
often becomes a delta of one of those (under git's "half the size" limit,
no smaller than the file compressed) and keeps that delta in every later
repack; ``git repack -f`` finds the ideal ~100-byte deltas but costs the
whole history each time.  Packing still removes the loose copies.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from attgit.errors import AttgitError, Locked
from attgit.repo import cgit, locking

LOCK_FILE = "attgit-maintenance.lock"
# Pack when the loose objects weigh this much and more than LOOSE_RATIO of the packs:
# the repository then never holds much more than the packs plus a quarter, and a
# repack, which costs about the size of the packs, runs at most once per quarter grown.
LOOSE_MIN_BYTES = 512 * 1024
LOOSE_RATIO = 0.25
LOOSE_MAX_OBJECTS = 2_000  # however small: thousands of files make every listing slow
PACK_LIMIT = 20  # fetches each leave a pack; consolidate them
# Delta search window for a repack.  Objects are sorted by path then size, so the
# previous version of a company's file sits right next to the new one; a wider window
# (git's default is 10) tries other companies' files: more memory, nothing saved.
REPACK_WINDOW = 3
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Usage:
    """What the object store holds, by a directory listing."""

    loose_objects: int
    loose_bytes: int
    packs: int
    pack_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.loose_bytes + self.pack_bytes


@dataclass
class MaintenanceResult:
    """What a maintenance run did: why it ran (None: it did not), the
    object store before and after, and how long it took."""

    reason: Optional[str]
    before: Usage
    after: Usage
    seconds: float = 0.0

    @property
    def ran(self) -> bool:
        return self.reason is not None

    def to_dict(self) -> dict:
        return {"ran": self.ran, "reason": self.reason, "before": asdict(self.before),
                "after": asdict(self.after), "seconds": round(self.seconds, 3)}


def usage(path: Path) -> Usage:
    """Count loose objects and their bytes, packs and theirs."""
    objects = Path(path) / "objects"
    count = size = 0
    for fan in _fanout_dirs(objects):
        for entry in os.scandir(fan):
            if len(entry.name) >= 38 and entry.is_file(follow_symlinks=False):
                count += 1
                size += entry.stat(follow_symlinks=False).st_size
    packs = [e for e in _scan(objects / "pack") if e.name.endswith(".pack") and e.is_file()]
    return Usage(count, size, len(packs), sum(e.stat().st_size for e in packs))


def _fanout_dirs(objects: Path) -> list:
    return [e.path for e in _scan(objects) if len(e.name) == 2 and set(e.name) <= _HEX and e.is_dir()]


def _scan(path: Path) -> list:
    try:
        return list(os.scandir(path))
    except FileNotFoundError:
        return []


def reason_to_pack(u: Usage) -> Optional[str]:
    """Why the store should be packed now, or None."""
    if u.loose_objects >= LOOSE_MAX_OBJECTS:
        return f"{u.loose_objects} loose objects"
    if u.loose_bytes >= max(LOOSE_MIN_BYTES, LOOSE_RATIO * u.pack_bytes):
        return f"{_mb(u.loose_bytes)} of loose objects beside {_mb(u.pack_bytes)} of packs"
    if u.packs >= PACK_LIMIT:
        return f"{u.packs} packs"
    return None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def auto(path: Path, background: bool = False) -> MaintenanceResult:
    """Pack the repository at ``path`` if it is past a threshold; called
    after every write.  Quietly does nothing when another process is
    packing it, and never fails the write that called it.

    ``background`` leaves the packing to a detached process (the command
    that wrote returns at once: packing a large first commit costs more than
    the commit); the environment variable ``ATTGIT_MAINTENANCE`` can say
    ``sync`` (pack before returning: tests, benchmarks that count it) or
    ``off``."""
    mode = os.environ.get("ATTGIT_MAINTENANCE", "background" if background else "sync")
    before = usage(path)
    reason = reason_to_pack(before)
    if reason is None or mode == "off":
        return MaintenanceResult(None, before, before)
    if mode == "background":
        _detach(path)
        return MaintenanceResult(f"{reason} (packing in the background)", before, before)
    try:
        with locking.file_lock(Path(path) / LOCK_FILE, f"maintenance of {path}"):
            return _timed(path, reason, before, repack)
    except (Locked, AttgitError):
        return MaintenanceResult(None, before, usage(path))


def _detach(path: Path) -> None:
    """Start ``python -m attgit.repo.maintenance PATH`` in its own session,
    not waited for; it takes the maintenance lock itself."""
    with contextlib.suppress(OSError):
        subprocess.Popen([sys.executable, "-m", "attgit.repo.maintenance", str(path)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True,
                         env={**os.environ, "ATTGIT_MAINTENANCE": "sync"})


def gc(path: Path, wait: float = 0.0) -> MaintenanceResult:
    """``attgit gc``: git's full garbage collection (pack everything, drop
    unreachable objects older than two weeks, pack refs)."""
    before = usage(path)
    with locking.file_lock(Path(path) / LOCK_FILE, f"maintenance of {path}", wait):
        return _timed(path, "by hand", before, _full_gc)


def _timed(path: Path, reason: str, before: Usage, work) -> MaintenanceResult:
    started = time.monotonic()
    work(Path(path))
    return MaintenanceResult(reason, before, usage(path), time.monotonic() - started)


def repack(path: Path) -> None:
    """One pack of everything reachable; deltas already made are reused."""
    _check(cgit.run(["repack", "-a", "-d", "-q", f"--window={REPACK_WINDOW}"], path), "git repack")


def _full_gc(path: Path) -> None:
    _check(cgit.run(["gc", "--quiet"], path, config=(*cgit.QUIET_CONFIG, f"pack.window={REPACK_WINDOW}")), "git gc")


def _check(done: cgit.Result, what: str) -> None:
    if not done.ok:
        raise AttgitError(f"{what} failed: {done.error()}")


if __name__ == "__main__":  # the detached packer of auto(background=True)
    auto(Path(sys.argv[1]))
