"""Crash safety of the other writing commands: a real ``attgit commit``,
``attgit checkout`` and ``attgit import`` are killed with SIGKILL (their
whole process group, git children included) at random moments, over and
over, and each time

- the database holds exactly what it held before the command or exactly
  what an unkilled run leaves (compared as the snapshot tree id of its
  content), never part of it,
- ``git fsck --strict`` accepts the repository, and main is the commit it
  was or a descendant of it,
- ``attgit status`` agrees with ``attgit status --full`` (the change log
  is exact after the kill),
- running the same command again ends where an unkilled run ends.

``test_crash.py`` does the same for ``pull`` (and its phase boundaries),
``test_crash_clone.py`` and ``test_crash.py`` for ``clone``.  Runs on
SQLite files, and on PostgreSQL when DATABASE_URL names a server.  The kill
delays are uniform over the measured duration of an unkilled run (one in
each of TRIALS equal slices of it).  The trial counts go in the closing
notes: ``ATTGIT_CRASH_TRIALS=20 pytest -m slow tests/integration/test_crash_commands.py -s``.
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..helpers import fsck
from .envs import Databases, Env, Inspector, Saved, big_change, compared_status, local_edit

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("ATTGIT_CRASH_TRIALS", "20"))
RECORDS, COMPANIES = 10_000, 4


@dataclass
class World:
    """Environment ``a`` with two commits (``first``, and ``second``:
    ~7,000 records changed or deleted in all four companies), a backup
    file of ``second``'s content, and how to put a state back."""

    env: Env
    databases: Databases
    root: Path
    inspector: Inspector
    first: str
    second: str
    backup: Path

    def save(self) -> tuple[Saved, Path]:
        saved_repo = self.root / f"saved-{time.monotonic_ns()}.git"
        shutil.copytree(self.env.repo_path, saved_repo)
        return self.databases.save(self.env.db), saved_repo

    def reset(self, saved: tuple[Saved, Path]) -> None:
        self.databases.restore(self.env.db, saved[0])
        shutil.rmtree(self.env.repo_path)
        shutil.copytree(saved[1], self.env.repo_path)

    def tree(self) -> str:
        return self.inspector.ask("tree")["tree"]


@pytest.fixture(scope="module")
def world(databases, tmp_path_factory):
    root = tmp_path_factory.mktemp("crash-commands")
    a = Env("a", root, databases.create("kills_a"))
    a.seed(RECORDS, COMPANIES)
    a.attgit("init")
    a.attgit("commit", "-m", "first")
    first = a.head()
    assert big_change(a) >= 5000
    a.attgit("commit", "-m", "second")
    second = a.head()
    backup = root / "second.json"
    a.attgit("export", str(backup))
    inspector = a.inspector()
    yield World(a, databases, root, inspector, first, second, backup)
    inspector.close()


def killed_at_random(w: World, saved, command: tuple, finish: tuple, check=None) -> str:
    """TRIALS kills of ``attgit COMMAND`` from the saved state; after each,
    the shared assertions, ``check(trial)`` for the command's own, then
    ``attgit FINISH`` and the state an unkilled run ends in.  Returns the
    unkilled run's database content (a tree id)."""
    env = w.env
    w.reset(saved)
    before, head_before = w.tree(), env.head()
    started = time.monotonic()
    env.attgit(*command)
    duration = time.monotonic() - started
    after, main_after = w.tree(), env.main_tree()
    seed = int(os.environ.get("ATTGIT_CRASH_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    delays = [duration * (i + rng.random()) / TRIALS for i in range(TRIALS)]
    rng.shuffle(delays)
    landed = collections.Counter()
    for n, delay in enumerate(delays):
        what = f"{command[0]} trial {n} (seed {seed}, kill after {delay:.2f} s of {duration:.2f} s)"
        w.reset(saved)
        process = env.start(*command, start_new_session=True)
        time.sleep(delay)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.communicate()
        tree = w.tree()
        assert tree in (before, after), f"{what}: the database is half-applied"
        fsck(env.repo_path)
        head = env.head()
        assert head == head_before or head_before in env.commits(), f"{what}: main moved off its history"
        quick, full = compared_status(env), compared_status(env, "--full")
        assert quick == full, f"{what}: status {quick} but status --full {full}"
        content = "content as it was" if before == after else "before" if tree == before else "after"
        landed[content + (", main kept" if head == head_before else ", main moved")] += 1
        if check:
            check(what)
        env.attgit(*finish)
        assert w.tree() == after and env.main_tree() == main_after, f"{what}: the next run did not finish"
        env.assert_in_sync()
        fsck(env.repo_path)
    print(f"\n{w.databases.vendor}: unkilled {command[0]} {duration:.2f} s; {TRIALS} kills landed: {dict(landed)}")
    return after


def test_commit_killed_at_random_moments(world):
    """~5,000 records changed since ``second``: a kill leaves main at
    ``second`` (the change still pending, and status says so) or at the
    new commit; the next commit records the change once."""
    w = world
    w.reset(w.save())
    w.env.attgit("checkout", w.first)  # a new commit holding first's content
    assert big_change(w.env) >= 5000
    saved = w.save()

    w.reset(saved)
    head = w.env.head()

    def check(what: str) -> None:
        pending = compared_status(w.env)[1]
        committed = w.env.head() != head
        assert pending["clean"] == committed, f"{what}: main moved: {committed}, status {pending}"

    killed_at_random(w, saved, ("commit", "-m", "the change"), ("commit", "-m", "again"), check)


def test_checkout_killed_at_random_moments(world):
    """The database at ``second`` with one uncommitted edit checks out
    ``first``: it holds its own content or first's, never a mix, and the
    next checkout of ``first`` ends there with the edit committed on the way."""
    w = world
    w.reset(w.save())
    assert local_edit(w.env) == 1
    saved = w.save()
    first_tree = str(w.env.git()[w.first].tree_id)
    assert killed_at_random(w, saved, ("checkout", w.first), ("checkout", w.first)) == first_tree


def test_import_killed_at_random_moments(world):
    """The database at ``first`` with one uncommitted edit imports the
    backup of ``second`` (theirs wins): all of the file's changes or none."""
    w = world
    w.reset(w.save())
    w.env.attgit("checkout", w.first)
    assert local_edit(w.env) == 1
    saved = w.save()
    w.reset(saved)
    before = w.tree()
    command = ("import", str(w.backup), "--strategy", "theirs")
    assert killed_at_random(w, saved, command, command) != before
