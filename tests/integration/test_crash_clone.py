"""Crash safety of the fast load into an empty database: a real
``attgit clone`` (which loads main with the change-log triggers and the
secondary indexes away, inside the transaction that records the commit) is
killed with SIGKILL, with its git child, at random moments, and each time

- the database is empty or holds exactly the hub's snapshot (never part of it),
- the next ``attgit status`` agrees with ``attgit status --full`` (the change
  log is exact: the load left no entry behind and missed none),
- the change-log triggers are all there, so a later edit is logged.

Runs on SQLite files, and on PostgreSQL when DATABASE_URL names a server.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time

import pytest

from .envs import Env, new_hub
from .envs import compared_status as status

pytestmark = pytest.mark.slow

TRIALS = int(os.environ.get("ATTGIT_CRASH_TRIALS", "12"))
RECORDS, COMPANIES = 10_000, 4


@pytest.fixture(scope="module")
def scenario(databases, tmp_path_factory):
    """A hub holding a's first commit, and d: an empty migrated database
    (saved, to be put back after each kill) with no repository yet."""
    root = tmp_path_factory.mktemp("crash-clone")
    a = Env("a", root, databases.create("clone_a"))
    a.seed(RECORDS, COMPANIES)
    a.attgit("init")
    a.attgit("commit", "-m", "first")
    hub = new_hub(root)
    a.attgit("remote", "add", "hub", str(hub))
    a.attgit("push", "hub")
    d = Env("d", root, databases.create("clone_d"))
    inspector = d.inspector()
    yield a, hub, d, databases.save(d.db), inspector
    inspector.close()


def reset(databases, d: Env, saved) -> None:
    databases.restore(d.db, saved)
    shutil.rmtree(d.repo_path, ignore_errors=True)


def test_clone_killed_at_random_moments_leaves_the_log_exact(scenario, databases):
    a, hub, d, saved, inspector = scenario
    reset(databases, d, saved)
    started = time.monotonic()
    d.attgit("clone", str(hub), "--name", "hub")
    duration = time.monotonic() - started
    full_tree = a.main_tree()
    assert inspector.ask("tree")["tree"] == full_tree
    seed = int(os.environ.get("ATTGIT_CRASH_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    delays = [duration * (i + rng.random()) / TRIALS for i in range(TRIALS)]
    landed = {"empty": 0, "loaded": 0}
    for n, delay in enumerate(delays):
        what = f"trial {n} (seed {seed}, kill after {delay:.2f} s of {duration:.2f} s)"
        reset(databases, d, saved)
        process = d.start("clone", str(hub), "--name", "hub", start_new_session=True)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        state = inspector.ask("tree")
        loaded = state["records"] > 0
        assert state["tree"] == full_tree if loaded else state["companies"] == [], f"{what}: {state}"
        landed["loaded" if loaded else "empty"] += 1
        if not d.repo_path.joinpath("HEAD").exists():
            continue  # killed inside git clone: no repository to ask
        quick, full = status(d), status(d, "--full")
        assert quick == full, f"{what}: status {quick} but status --full {full}"
        if quick[0] == 0 and quick[1]["clean"]:  # the triggers are back: an edit is logged
            d.edit({"op": "update_many", "company": state["companies"][0] if loaded else "x",
                    "fields": {"overstay": "99"}, "limit": 1})
            after = status(d)
            assert after == status(d, "--full") and after[1]["changed"] == int(loaded), f"{what}: {after}"
    print(f"\n{databases.vendor}: unkilled clone {duration:.2f} s; {TRIALS} kills landed: {landed}")
