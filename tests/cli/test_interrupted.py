"""An interrupted clone is finished by the next one, and status says what
happened (issue 18.4); gc refused by a running git gc is a held lock."""

from __future__ import annotations

import os
import socket

import orjson
import pytest

from attgit.errors import ExitCode
from attgit.ops.capture import Pending, database_tree
from attgit.repo import transport
from attgit.repo.repository import Repository
from django_adapter.models import AttendanceRecord, ChangeLog, Company, SyncState
from django_adapter.workingcopy import DjangoWorkingCopy

from ..helpers import fsck
from .test_cli import run

pytestmark = pytest.mark.django_db(transaction=True)


def empty_database() -> None:
    """A database that never matched a commit (a new environment's)."""
    AttendanceRecord.objects.all().delete()
    Company.objects.all().delete()
    SyncState.objects.all().delete()
    ChangeLog.objects.all().delete()


def database_tree_id(repo: Repository) -> str:
    return str(database_tree(repo, DjangoWorkingCopy(), repo.snapshot(None), Pending(None, True)).tree.id)


def test_a_clone_killed_before_its_load_is_finished_by_the_next_clone(seeded, tmp_path):
    run(seeded, "commit", "-m", "source")
    source = Repository.open(seeded)
    empty_database()
    target = tmp_path / "copy.git"
    transport.clone(str(seeded), target)  # what a clone killed after git, before the load, leaves

    out = run(target, "status")
    assert "has never been loaded" in out and "attgit clone URL" in out and "deleted" not in out, out
    assert orjson.loads(run(target, "status", "--json"))["unloaded"]
    out = run(target, "clone", str(seeded))
    assert "300 records loaded" in out, out
    repo = Repository.open(target)
    assert repo.head() == source.head() and database_tree_id(repo) == str(repo.git[repo.head()].tree_id)
    assert "nothing to commit" in run(target, "status")
    fsck(target)


def test_a_clone_into_another_repository_is_still_refused(seeded, tmp_path):
    run(seeded, "commit", "-m", "source")
    empty_database()
    other = tmp_path / "other.git"
    run(other, "init")
    out = run(other, "clone", str(seeded), code=ExitCode.USAGE)
    assert "exists and is not empty" in out


def test_a_killed_clones_leftover_is_swept_and_never_at_the_path(seeded, tmp_path):
    run(seeded, "commit", "-m", "source")
    empty_database()
    target = tmp_path / "copy.git"
    leftover = tmp_path / ".copy.git.clone-999999999"  # a process id no process has
    leftover.mkdir()
    (leftover / "HEAD").write_text("half\n")
    run(target, "clone", str(seeded))
    assert not leftover.exists() and not list(tmp_path.glob(".copy.git.clone-*"))
    fsck(target)


def test_gc_refused_by_a_running_git_gc_exits_with_the_lock_code(seeded):
    run(seeded, "commit", "-m", "one")
    (seeded / "gc.pid").write_text(f"{os.getpid()} {socket.gethostname()}")
    out = run(seeded, "gc", code=ExitCode.LOCKED)
    assert "another git gc is running" in out, out


def _left_ref_lock(repo_path, age: float = 60.0):
    """What libgit2 leaves when killed between writing ``main.lock`` and
    renaming it over ``main``: the lock file, ``age`` seconds old."""
    lock = repo_path / "refs" / "heads" / "main.lock"
    lock.write_text("0" * 40 + "\n")
    past = lock.stat().st_mtime - age
    os.utime(lock, (past, past))
    return lock


def _killed_holder(repo_path) -> int:
    """The repository lock's file as a killed attgit leaves it: its pid."""
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(gone.stdout)
    (repo_path / "attgit.lock").write_text(f"{pid} 1700000000\n")
    return pid


def _one_edit() -> None:
    record = AttendanceRecord.objects.order_by("pk").first()
    record.overstay = "77"
    record.save()


def test_a_ref_lock_left_by_a_killed_attgit_is_cleared_by_the_next_writer(seeded):
    """A pull killed between libgit2's main.lock and its rename left the lock,
    and the next pull failed ("internal error: failed to lock file", CI).
    The next lock holder knows its predecessor was killed (its pid stayed in
    attgit.lock) and removes the git lock files it left, saying so."""
    run(seeded, "commit", "-m", "first")
    first = Repository.open(seeded).head()
    _one_edit()
    lock, pid = _left_ref_lock(seeded), _killed_holder(seeded)
    out = run(seeded, "commit", "-m", "second")
    assert f"removed git's lock file refs/heads/main.lock, left by attgit process {pid} (killed)" in out, out
    assert not lock.exists() and (seeded / "attgit.lock").read_text() == ""
    repo = Repository.open(seeded)
    assert repo.head() != first and repo.is_ancestor(first, repo.head())
    assert "nothing to commit" in run(seeded, "status")
    fsck(seeded)


def test_a_ref_lock_of_a_live_or_unknown_git_is_said_as_git_says_it(seeded):
    """Without a killed attgit before it, a lock file is another git's: it is
    left alone, and the refusal says whose file it is and what to do (it was
    an internal error)."""
    run(seeded, "commit", "-m", "first")
    first = Repository.open(seeded).head()
    _one_edit()
    lock = _left_ref_lock(seeded)
    out = run(seeded, "commit", "-m", "second", code=ExitCode.LOCKED)
    assert f"git's lock file {lock} exists" in out and "remove that file" in out, out
    assert "internal error" not in out and lock.exists()
    assert Repository.open(seeded).head() == first
    lock.unlink()
    run(seeded, "commit", "-m", "second")
    assert Repository.open(seeded).head() != first
