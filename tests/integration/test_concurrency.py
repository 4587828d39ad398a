"""Writers at the same time, as real processes on one repository and one
database: two pulls, a pull and a commit, a pull and a person's edit.

Without ``--wait`` the second writer is refused at once with the "locked"
message and exit code 6 (ExitCode.LOCKED); with ``--wait`` it waits its
turn.  The first writer is paused (SIGSTOP) while it holds the lock, so the
two surely meet there however fast the first one's work is.  Either way nothing is half-applied, no commit is lost (every commit
a process reported is reachable from main), the database ends equal to
main, and SQLite never says "database is locked".
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from attgit.errors import ExitCode

from ..helpers import fsck
from .envs import EXAMPLES, Env, Pair, Result

LAUNCH = str(Path(__file__).with_name("launch.py"))
PULL = ("pull", "hub", "--json")
COMMIT = ("commit", "--json")
COMMIT_FULL = ("commit", "--full", "--json")  # re-reads every company: holds the lock a while
LOCAL = {"status": "OD", "overstay": "4"}


class Racer:
    """A process started now (Python and Django loaded) and run on go()."""

    def __init__(self, env: Env, *args: str):
        self.args = args
        self.process = subprocess.Popen([sys.executable, LAUNCH, *args], env=env.environ(), cwd=str(EXAMPLES),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout.readline().strip() == "ready", self.process.stderr.read()

    @property
    def pid(self) -> int:
        return self.process.pid

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> Result:
        out, err = self.process.communicate(timeout=300)
        return Result(list(self.args), self.process.returncode, out, err)


def wait_until_holding(env: Env, racer: Racer, timeout: float = 60) -> None:
    """Until ``racer`` holds the repository's lock (the lock file names it)."""
    lock = env.repo_path / "attgit.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().startswith(f"{racer.pid} "):
            return
        assert racer.process.poll() is None, f"{racer.args} ended before it took the lock: {racer.result()}"
        time.sleep(0.002)
    raise AssertionError(f"{racer.args} never took the lock")


@pytest.fixture(scope="module")
def template(databases, tmp_path_factory):
    """b changed ~3,000 of 6,000 records and pushed; a edited one record
    and has not committed it."""
    pair = Pair(databases, tmp_path_factory.mktemp("race"), records=6000, companies=3)
    names = pair.a.snapshot().companies()
    pair.b.edit({"op": "update_many", "company": names[0], "fields": {"overstay": "7"}},
                {"op": "update_many", "company": names[1], "fields": {"status": "A", "in_time": None,
                                                                      "out_time": None}, "every": 2})
    pair.b.attgit("commit", "-m", "b's change")
    pair.b.attgit("push", "hub")
    pair.local_key = _first_key(pair.a, names[2])
    pair.a.edit(_set(pair.local_key, LOCAL))
    pair.save()
    return pair


@pytest.fixture
def pair(template) -> Pair:
    return template.restore()


def _first_key(env: Env, company: str) -> tuple:
    return min(env.snapshot().records(company))


def _set(key: tuple, fields: dict) -> dict:
    ep_no, company, date = key
    return {"op": "set", "company": company, "ep_no": ep_no, "date": date, "fields": fields}


def reported_commits(results) -> set:
    """Every commit id a successful process said it made."""
    out = set()
    for r in results:
        if r.code == 0 and "--json" in r.args:
            data = orjson.loads(r.out)
            out |= {data.get(k) for k in ("commit", "pre_commit")} - {None}
    return out


def check_outcome(pair: Pair, results) -> None:
    """Nothing lost, nothing half-applied, the database equal to main."""
    a = pair.a
    for r in results:
        assert "database is locked" not in r.err, r
    assert reported_commits(results) <= a.commits(), "a commit a process made is not reachable from main"
    a.attgit("commit")  # what a refused commit left uncommitted
    a.assert_in_sync()
    record = a.snapshot().records(pair.local_key[1])[pair.local_key]
    assert {k: record[k] for k in LOCAL} == LOCAL, "the local edit was lost"
    if any(r.code == 0 and "pull" in r.args for r in results):
        assert pair.b.head() in a.commits(), "the pulled commit is not in main"
    fsck(a.repo_path)


RACES = [pytest.param(PULL, PULL, id="pull+pull"), pytest.param(PULL, COMMIT, id="pull+commit"),
         pytest.param(COMMIT_FULL, PULL, id="commit+pull")]


@contextlib.contextmanager
def paused_holding_the_lock(env: Env, racer: Racer):
    """Run ``racer`` until it holds the repository lock, then stop it
    (SIGSTOP: as a slow disk or a busy machine would) until the block ends.
    However short its work, the other writer surely meets the lock."""
    racer.go()
    wait_until_holding(env, racer)
    os.kill(racer.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(racer.pid, signal.SIGCONT)


@pytest.mark.parametrize("first,second", RACES)
def test_the_second_writer_is_refused_while_the_first_works(pair, first, second):
    one, two = Racer(pair.a, "attgit", *first), Racer(pair.a, "attgit", *second)
    with paused_holding_the_lock(pair.a, one):
        two.go()
        lost = two.result()
    won = one.result()
    assert won.code == 0, won
    assert lost.code == ExitCode.LOCKED, lost
    assert "is locked by another attgit process" in lost.err and f"(pid {one.pid}" in lost.err, lost
    assert "--wait" in lost.err and lost.out == ""
    check_outcome(pair, [won, lost])


@pytest.mark.parametrize("first,second", RACES)
def test_with_wait_the_second_writer_takes_its_turn(pair, first, second):
    one = Racer(pair.a, "attgit", "--wait", "120", *first)
    two = Racer(pair.a, "attgit", "--wait", "120", *second)
    with paused_holding_the_lock(pair.a, one):
        two.go()
        time.sleep(1)
        assert two.process.poll() is None, f"the second writer did not wait: {two.result()}"
    results = [one.result(), two.result()]
    assert [r.code for r in results] == [0, 0], results
    if first == second == PULL:
        assert [orjson.loads(r.out)["status"] for r in results] == ["merged", "up-to-date"]
    check_outcome(pair, results)


def wait_until_main_moves(env: Env, racer: Racer, timeout: float = 60) -> None:
    """Until main leaves where it is (the pull's pre-pull commit)."""
    start, deadline = env.head(), time.monotonic() + timeout
    while env.head() == start:
        assert racer.process.poll() is None and time.monotonic() < deadline, "main never moved"
        time.sleep(0.002)


@pytest.mark.parametrize("moment", ["pull-starts", "pre-pull-commit-made"])
def test_an_edit_made_during_a_pull_is_kept(pair, moment):
    """A person saves a record while a pull runs: the save waits or goes
    through (never "database is locked"), and the edit survives: the pull
    either includes it (saved before the pull snapshots the database) or
    refuses to apply over it (saved while the merge was being computed),
    and runs again."""
    key = _first_key(pair.a, pair.a.snapshot().companies()[0])
    pull, edit = Racer(pair.a, "attgit", *PULL), Racer(pair.a, "edit", orjson.dumps([_set(key, {"shift": "Night"})]).decode())
    pull.go()
    wait_until_holding(pair.a, pull)
    if moment == "pre-pull-commit-made":
        wait_until_main_moves(pair.a, pull)
    edit.go()
    edited, pulled = edit.result(), pull.result()
    assert edited.code == 0 and "database is locked" not in edited.err, edited
    assert pulled.code in (0, ExitCode.REJECTED), pulled
    results = [pulled]
    print(f"\n{moment}: the pull {'was refused' if pulled.code else 'went through'}")
    if pulled.code == ExitCode.REJECTED:
        assert "changed while attgit was working" in pulled.err, pulled
        results.append(pair.a.attgit("pull", "hub", "--json"))
    check_outcome(pair, results)
    record = pair.a.snapshot().records(key[1])[key]
    assert record["shift"] == "Night" and record["overstay"] == "7", "the edit or the pulled change was lost"
