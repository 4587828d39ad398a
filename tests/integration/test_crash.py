"""Crash safety: a real ``attgit pull`` is killed with SIGKILL at random
moments (and at five exact points), over and over, and each time

- the database is exactly as before the pull or exactly as after it
  (compared as the snapshot tree id of its content),
- ``git fsck --strict`` accepts the repository,
- the next ``attgit pull`` finishes the job: the database holds, and
  records, the merged snapshot that main points at.

Runs on SQLite files, and on PostgreSQL (a database per environment) when
DATABASE_URL names a server.  The pull merges ~7,000 records another
environment changed (in all four companies) with one local uncommitted edit
(merged cell by cell with the other side's change to that record), so it
passes every phase: the pre-pull commit, the fetch, the merge writing
objects, the database transaction, the branch move.  The kill delays are
uniform over the measured duration of an unkilled pull (one in each of
TRIALS equal slices of it, so together they cover all of it).
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..helpers import fsck
from .envs import EXAMPLES, Databases, Env, Inspector, Saved, big_change, local_edit, new_hub

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("ATTGIT_CRASH_TRIALS", "20"))
RECORDS, COMPANIES = 10_000, 4
CRASHPOINT = str(Path(__file__).with_name("crashpoint.py"))
POINTS = ("fetched", "pre-commit", "objects", "mid-apply", "applied")


@dataclass
class Scenario:
    """Environment ``a`` about to pull ``hub``, and how to put it back."""

    env: Env
    databases: Databases
    saved_db: Saved
    saved_repo: Path
    before: str  # tree id of the database's content before the pull
    inspector: Inspector
    saved_head: str = ""
    after: str = ""
    duration: float = 0.0

    def reset(self) -> None:
        self.databases.restore(self.env.db, self.saved_db)
        shutil.rmtree(self.env.repo_path)
        shutil.copytree(self.saved_repo, self.env.repo_path)

    def state(self) -> dict:
        return self.inspector.ask("tree")


@pytest.fixture(scope="module")
def scenario(databases, tmp_path_factory):
    """a and b share a hub; b changes ~7,000 records and pushes; a edits one
    record and does not commit it.  a's database and repository are saved."""
    root = tmp_path_factory.mktemp("crash")
    a = Env("a", root, databases.create("crash_a"))
    a.seed(RECORDS, COMPANIES)
    a.attgit("init")
    a.attgit("commit", "-m", "first")
    hub = new_hub(root)
    a.attgit("remote", "add", "hub", str(hub))
    a.attgit("push", "hub")
    b = Env("b", root, databases.copy(a.db, "crash_b"))
    shutil.copytree(a.repo_path, b.repo_path)
    assert big_change(b) >= 5000
    b.attgit("commit", "-m", "b's big change")
    b.attgit("push", "hub")
    assert local_edit(a) == 1
    saved_repo = root / "a-saved.git"
    shutil.copytree(a.repo_path, saved_repo)
    inspector = a.inspector()
    s = Scenario(a, databases, databases.save(a.db), saved_repo, "", inspector)
    s.before, s.saved_head = s.state()["tree"], a.head()
    yield s
    inspector.close()


def measured_pull(s: Scenario) -> None:
    """One unkilled pull: its duration and the state it ends in."""
    s.reset()
    started = time.monotonic()
    result = s.env.attgit("pull", "hub", "--json").json()
    s.duration = time.monotonic() - started
    assert result["status"] == "merged" and result["counts"]["total"] >= 5000, result["counts"]
    s.after = s.env.assert_in_sync()
    assert s.after != s.before
    fsck(s.env.repo_path)


def classify(s: Scenario, state: dict) -> str:
    """Where the kill landed, as seen from outside."""
    if state["tree"] == s.before:
        return "before" if s.env.head() == s.saved_head else "before (pre-pull commit on main)"
    if state["commit"] != s.env.head():
        return "after (database ahead of main)"
    return "after"


def check_and_finish(s: Scenario, what: str) -> str:
    """The assertions of every trial; returns where the kill landed."""
    state = s.state()
    assert state["tree"] in (s.before, s.after), f"{what}: the database is half-applied ({state})"
    phase = classify(s, state)
    fsck(s.env.repo_path)
    again = s.env.attgit("pull", "hub", "--json")
    assert again.json()["status"] in ("merged", "up-to-date"), f"{what}: {again}"
    if phase == "after (database ahead of main)":
        assert "attgit: finished an interrupted apply" in again.err, f"{what}: {again}"
    final = s.env.assert_in_sync()
    assert final == s.after, f"{what}: the next pull did not end in the after state"
    fsck(s.env.repo_path)
    return phase


def test_sigkill_at_random_moments_never_half_applies(scenario):
    s = scenario
    measured_pull(s)
    seed = int(os.environ.get("ATTGIT_CRASH_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    delays = [s.duration * (i + rng.random()) / TRIALS for i in range(TRIALS)]
    rng.shuffle(delays)
    phases = collections.Counter()
    for n, delay in enumerate(delays):
        s.reset()
        process = s.env.start("pull", "hub")
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        phases[check_and_finish(s, f"trial {n} (seed {seed}, kill after {delay:.2f} s)")] += 1
    print(f"\n{s.databases.vendor}: unkilled pull {s.duration:.2f} s; {TRIALS} kills landed: {dict(phases)}")


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_each_phase_boundary(scenario, point):
    s = scenario
    if not s.after:
        measured_pull(s)
    s.reset()
    done = subprocess.run([sys.executable, CRASHPOINT, point, "pull", "hub"], env=s.env.environ(),
                          cwd=str(EXAMPLES), capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, f"{point}: the pull was not killed: {done.stderr}"
    expected = {"fetched": "before", "pre-commit": "before", "objects": "before",
                "mid-apply": "before", "applied": "after (database ahead of main)"}[point]
    phase = check_and_finish(s, f"kill at {point}")
    assert phase.startswith(expected), (point, phase)


# --- clone (issue 18.4) ----------------------------------------------------------------------

def test_sigkill_of_a_clone_at_random_moments_is_finished_by_the_next_clone(scenario, tmp_path):
    """A real ``attgit clone`` of the hub into a new environment is killed
    at random moments: the database is empty or holds the hub's main (never
    half), no half repository sits at the path, and the next ``attgit
    clone`` into the same path finishes the job (or says the database is
    loaded already when the kill came after it)."""
    s = scenario
    hub = s.env.git().remotes["hub"].url
    c = Env("clone", tmp_path, s.databases.create("crash_clone"))
    empty = s.databases.save(c.db)

    def reset() -> None:
        s.databases.restore(c.db, empty)
        shutil.rmtree(c.repo_path, ignore_errors=True)
        for leftover in tmp_path.glob(f".{c.repo_path.name}.clone-*"):
            shutil.rmtree(leftover)

    reset()
    nothing = c.db_tree()["tree"]
    started = time.monotonic()
    c.attgit("clone", hub)
    duration = time.monotonic() - started
    target = c.assert_in_sync()
    seed = int(os.environ.get("ATTGIT_CRASH_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    landed = collections.Counter()
    for n in range(TRIALS):
        reset()
        delay = duration * (n + rng.random()) / TRIALS
        process = c.start("clone", hub)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        what = f"clone trial {n} (seed {seed}, kill after {delay:.2f} s)"
        state = c.db_tree()
        assert state["tree"] in (nothing, target) and (state["commit"] is None) == (state["tree"] == nothing), \
            f"{what}: the database is half-loaded ({state})"
        assert not c.repo_path.exists() or (c.repo_path / "HEAD").exists(), f"{what}: a half repository"
        if state["commit"] is None:
            landed["before the load" if c.repo_path.exists() else "before the repository"] += 1
            c.attgit("clone", hub)
        else:
            landed["after"] += 1
            assert "database is not empty" in c.attgit("clone", hub, code=2).err
        assert c.assert_in_sync() == target, f"{what}: the next clone did not end in main's snapshot"
        fsck(c.repo_path)
    print(f"\n{s.databases.vendor}: unkilled clone {duration:.2f} s; {TRIALS} kills landed: {dict(landed)}")
