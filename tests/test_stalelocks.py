"""A git lock file is judged left behind only once it has stood still: a git
process still finishing its write (a child of the killed attgit) keeps its
lock for moments, and that lock is not taken from it."""

from __future__ import annotations

import os
import threading

from attgit.repo import stalelocks


def _lock(root, name: str, age: float):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x\n")
    past = path.stat().st_mtime - age
    os.utime(path, (past, past))
    return path


def test_locks_that_stood_still_are_removed_and_named(tmp_path):
    head = _lock(tmp_path, "refs/heads/main.lock", 60)
    remote = _lock(tmp_path, "refs/remotes/hub/main.lock", 60)
    packed = _lock(tmp_path, "packed-refs.lock", 60)
    other = _lock(tmp_path, "objects/pack/tmp.lock", 60)  # not a lock of git's refs: kept
    note = stalelocks.clear_after_crash(tmp_path, 4242)
    assert note == ("removed git's lock files packed-refs.lock, refs/heads/main.lock, refs/remotes/hub/main.lock, "
                    "left by attgit process 4242 (killed)")
    assert not head.exists() and not remote.exists() and not packed.exists() and other.exists()


def test_a_lock_a_live_writer_removes_meanwhile_is_not_named(tmp_path):
    fresh = _lock(tmp_path, "refs/heads/main.lock", 0)
    finishing = threading.Timer(0.2, fresh.unlink)  # the writer renames its lock over the ref
    finishing.start()
    try:
        assert stalelocks.clear_after_crash(tmp_path, 4242) is None
    finally:
        finishing.join()
    assert not fresh.exists()


def test_no_lock_files_no_note(tmp_path):
    (tmp_path / "refs" / "heads").mkdir(parents=True)
    assert stalelocks.clear_after_crash(tmp_path, 4242) is None
