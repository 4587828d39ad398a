"""Single-writer locks that a crash cannot leave behind.

``fcntl.flock`` locks belong to the open file: the kernel drops them when the
process dies, however it dies (SIGKILL included), so a lock is never stale.
The file keeps the holder's pid and start time only to tell a person who
holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

from attgit.errors import Locked


@contextlib.contextmanager
def file_lock(path: Path, what: str, wait: float = 0.0,
              after_crash: Optional[Callable[[int], None]] = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path``; raise Locked if another holds it.

    ``wait`` seconds are spent retrying before giving up.  A holder that
    ends cleanly empties the file; one that was killed leaves its pid in
    it, and ``after_crash(pid)`` is then called, the lock held, to clear
    what the killed holder may have left half-done.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, what, wait)
        killed = _pid_in(os.pread(fd, 64, 0))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {int(time.time())}\n".encode(), 0)
        try:
            if killed and after_crash is not None:
                after_crash(killed)
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, what: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise Locked(f"{what} is locked by another attgit process{_holder(fd)}; "
                             "wait for it to finish and try again (or pass --wait SECONDS)") from None
            time.sleep(0.05)


def _pid_in(text: bytes) -> int:
    """The pid a holder wrote (``<pid> <start>``), else 0."""
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return 0


def _holder(fd: int) -> str:
    try:
        pid, started = os.pread(fd, 64, 0).split()[:2]
        age = int(time.time()) - int(started)
        return f" (pid {int(pid)}, for {age} s)"
    except (ValueError, OSError):
        return ""
