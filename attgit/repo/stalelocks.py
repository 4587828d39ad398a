"""Git's lock files that a killed attgit left in its repository.

Git (and libgit2) update a ref by writing ``<ref>.lock`` and renaming it
over the ref; a process killed between the two leaves the ``.lock`` file,
and every later update of that ref fails ("failed to lock file") until a
person removes it, as git itself asks.  attgit knows more than git does:
its own writers hold the repository's lock (:mod:`attgit.repo.locking`),
and one that was killed leaves its pid in that lock's file.  So when the
lock is taken after a killed holder, the lock files it may have left are
removed, each once it has stood still for :data:`SETTLE` seconds (a git
child of the killed process may still be finishing a write of its own;
such a write holds its lock for moments, not seconds).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: How long a lock file must have stood unchanged to be judged left behind.
SETTLE = 2.0
#: Git's lock files outside refs/ that a writer of this repository takes.
_TOP = ("HEAD.lock", "packed-refs.lock", "config.lock", "FETCH_HEAD.lock", "shallow.lock")


def git_locks(repo_path: Path) -> list[Path]:
    """Every git lock file of the repository at ``repo_path``."""
    found = [repo_path / name for name in _TOP if (repo_path / name).exists()]
    refs = repo_path / "refs"
    if refs.is_dir():
        found.extend(sorted(p for p in refs.rglob("*.lock") if p.is_file()))
    return found


def clear_after_crash(repo_path: Path, killed_pid: int) -> str | None:
    """Remove the git lock files a killed attgit (``killed_pid``) left; a
    sentence saying which, or None when there were none."""
    removed = [lock for lock in git_locks(repo_path) if _left_behind(lock)]
    for lock in removed:
        lock.unlink(missing_ok=True)
    if not removed:
        return None
    names = ", ".join(str(p.relative_to(repo_path)) for p in removed)
    return f"removed git's lock file{'s' if len(removed) > 1 else ''} {names}, left by attgit process {killed_pid} (killed)"


def _left_behind(lock: Path) -> bool:
    """True once ``lock`` has stood unchanged for SETTLE seconds; False if
    it went meanwhile (a live writer finished)."""
    while True:
        try:
            age = time.time() - os.stat(lock).st_mtime
        except FileNotFoundError:
            return False
        if age >= SETTLE:
            return True
        time.sleep(min(0.05, SETTLE - age))
