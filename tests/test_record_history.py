"""The history of one company or one record (attgit.ops.history, issue 22):
a timeline built from random histories equals the history the test made
(edits, deletes, re-adds, pulls both ways, conflicts settled by a strategy
or by hand either way); the bisection finds exactly the lines a full parse
finds; a mistyped company or record is named with the closest ones."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

import orjson
import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

from attgit.errors import NotFound, UsageError
from attgit.format import records as rec
from attgit.format.lines import find_line, keys_near
from attgit.format.snapshot import encode_sorted
from attgit.ops.commit import snapshot_database
from attgit.ops.history import company_log, parse_key, record_timeline
from attgit.ops.manual import conclude
from attgit.ops.mergestate import MergeState
from attgit.ops.pull import pull_commit
from attgit.ops.reconcile import reconcile
from attgit.repo import transport
from attgit.repo.repository import Author, Repository
from attgit.workingcopy import MemoryWorkingCopy

from .helpers import fsck, record
from .histories import Model, field_changes
from .strategies import records

CO = "ABC Corp"
KEYS = [("E1", CO, "2025-11-20"), ("E2", CO, "2025-11-20"), ("E1", CO, "2025-11-21")]
#: lines around the tracked keys, so the bisection has lines to skip on both sides
BACKGROUND = [record(f"E{n}", CO, day) for n in (0, 3, 9) for day in ("2025-11-19", "2025-11-20", "2025-11-22")]
AUTHORS = {"prod": Author("pat", "pat@example.com", 1_700_000_000),
           "dev": Author("dev-ann", "ann@example.com", 1_700_000_000)}
OTHER = {"prod": "dev", "dev": "prod"}


# --- the bisection ------------------------------------------------------------------

@given(st.lists(records(company=st.just(CO)), max_size=40), st.lists(records(company=st.just(CO)), max_size=5))
def test_find_line_finds_exactly_the_lines_a_full_parse_holds(present, probes):
    blob = encode_sorted(CO, {rec.key(r): r for r in present})[0]
    held = {rec.key(r): rec.to_line(r)[:-1] for r in present}
    for r in [*present, *probes]:
        assert find_line(blob, rec.sort_key(r)) == held.get(rec.key(r))
    for r in probes:
        near = keys_near(blob, rec.sort_key(r), 2)
        assert near == sorted(near) and len(near) <= min(5, len(held))
        assert set(near) <= {(k[2], k[0]) for k in held}


# --- random histories -----------------------------------------------------------------

class World:
    """Two environments pulling from each other, and what the test knows
    of every commit it made (:class:`tests.histories.Model`)."""

    def __init__(self, tmp: Path, initial: dict):
        self.repos = {side: Repository.init(tmp / f"{side}.git") for side in ("prod", "dev")}
        for side, repo in self.repos.items():
            transport.add_remote(repo, OTHER[side], str(self.repos[OTHER[side]].path))
        self.dbs = {"prod": MemoryWorkingCopy.from_records([*BACKGROUND, *initial.values()]),
                    "dev": MemoryWorkingCopy()}
        self.model = Model()
        self.clock = 1_700_000_000
        self.commit("prod")
        self.pull("dev", "theirs", ["theirs"])  # dev starts from prod's history (a fast-forward)

    def author(self, side: str) -> Author:
        """The side's user, a minute later than the last commit (log order is time order)."""
        self.clock += 60
        return Author(AUTHORS[side].name, AUTHORS[side].email, self.clock)

    def tracked(self, side: str) -> dict:
        rows = self.dbs[side].data.get(CO, {})
        return {k: dict(rows[k]) if k in rows else None for k in KEYS}

    def learn(self, side: str, kind: str) -> None:
        head = self.repos[side].head()
        if head is not None:
            self.model.learn(str(head), self.repos[side].info(head).parents, self.tracked(side), AUTHORS[side].name,
                             kind)

    def commit(self, side: str) -> None:
        snapshot_database(self.repos[side], self.dbs[side], self.author(side))
        self.learn(side, "snapshot")

    def put(self, side: str, n: int, status: str, shift: str) -> None:
        k = KEYS[n]
        self.dbs[side].data.setdefault(CO, {})[k] = record(k[0], CO, k[2], status=status, shift=shift)

    def delete(self, side: str, n: int) -> None:
        self.dbs[side].data.get(CO, {}).pop(KEYS[n], None)

    def clash(self, n: int, prod: Optional[str], dev: Optional[str], side: str, strategy: str, choices: list) -> None:
        """Both sides change (None: delete) one record, then one pulls: the
        likeliest way to a conflict."""
        for where, status in (("prod", prod), ("dev", dev)):
            if status is None:
                self.delete(where, n)
            else:
                self.put(where, n, status, "Night" if where == "prod" else "Day")
        self.commit(OTHER[side])
        self.pull(side, strategy, choices)

    def pull(self, side: str, strategy: str, choices: list) -> None:
        repo, db = self.repos[side], self.dbs[side]
        self.commit(side)  # so the pull's own pre-pull snapshot has nothing to add
        if self.repos[OTHER[side]].head() is None:
            return
        reconcile(repo, db)
        transport.fetch(repo, OTHER[side])
        tip = transport.remote_tip(repo, OTHER[side])
        if tip is None:
            return
        result = pull_commit(repo, db, self.author(side), tip, OTHER[side], strategy)
        sides: dict = {}
        if result.status == "conflicts":
            state = MergeState.load(repo)
            for n, conflict in enumerate(state.conflicts):
                sides[conflict.id] = choices[n % len(choices)]
                state.resolve(conflict.id, sides[conflict.id])
            state.save(repo)
            conclude(repo, db, self.author(side))
            conflicts = state.conflicts
        else:
            conflicts = result.conflicts
            sides = {c.id: strategy for c in conflicts}
        self.learn(side, "pull/merge")
        self.model.settle(str(repo.head()), strategy, conflicts, sides)


SIDES = st.sampled_from(["prod", "dev"])
STRATEGIES = st.sampled_from(["theirs", "ours", "manual"])
CHOICES = st.lists(st.sampled_from(["ours", "theirs"]), min_size=1, max_size=3)
STATUS = st.sampled_from(["P", "A", "L", None])
STEPS = st.one_of(
    st.tuples(st.just("put"), SIDES, st.integers(0, 2), st.sampled_from(["P", "A", "L"]),
              st.sampled_from(["Day", "Night"])),
    st.tuples(st.just("delete"), SIDES, st.integers(0, 2)),
    st.tuples(st.just("commit"), SIDES),
    st.tuples(st.just("pull"), SIDES, STRATEGIES, CHOICES),
    st.tuples(st.just("clash"), st.integers(0, 2), STATUS, STATUS, SIDES, STRATEGIES, CHOICES),
)


@given(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(["P", "A"]), max_size=3),
       st.lists(STEPS, min_size=1, max_size=14))
def test_a_timeline_is_the_history_that_was_made(initial, steps):
    with tempfile.TemporaryDirectory(prefix="attgit-history-") as tmp:
        world = World(Path(tmp), {k: record(k[0], CO, k[2], status=s) for k, s in initial.items()})
        for step in steps:
            getattr(world, step[0])(*step[1:])
        for side in ("prod", "dev"):
            world.commit(side)
            if world.repos[side].head() is None:
                continue
            for key in KEYS:
                _check_timeline(world, side, key)
        settled = len(world.model.settled)
        event(f"merges that settled conflicts: {min(settled, 3)}{'+' if settled > 2 else ''}")
        if len(steps) > 10:
            fsck(world.repos["dev"].path)


def _check_timeline(world: World, side: str, key: tuple) -> None:
    model = world.model
    expected = model.expected(str(world.repos[side].head()), key)
    try:
        events = record_timeline(world.repos[side], key)
    except NotFound:
        events = []
    got = {e.info.id: (e.action, e.old, e.new, e.resolution.chosen if e.resolution else None) for e in events}
    note(f"{side} {key}: expected {expected}, got {got}")
    assert got == {c: tuple(e) for c, e in expected.items()}
    for e in events:
        assert e.info.trailers.get("Created-By") == model.actors[e.info.id]
        assert e.kind == model.kind(e.info.id, expected[e.info.id])
        assert [(c.field, c.old, c.new) for c in e.changes] == field_changes(e.old, e.new)
        if e.resolution is not None:
            assert e.resolution.by == model.settled_by(e.info.id)
            assert (e.resolution.ours, e.resolution.theirs) == model.sides(e.info.id, key)
    ids = [e.info.id for e in events]
    log = [c.id for c in world.repos[side].log()]
    assert ids == [c for c in log if c in expected]  # newest first, as `attgit log`


# --- one pull with a conflict settled by hand ----------------------------------------------

@pytest.fixture
def settled(tmp_path):
    """dev pulled prod, then both changed E1's status; dev's pull stopped on
    the conflict and ann resolved it with theirs."""
    world = World(tmp_path, {KEYS[0]: record("E1", CO, "2025-11-20")})
    world.pull("dev", "theirs", ["theirs"])
    world.put("dev", 0, "A", "Day")
    world.put("prod", 0, "L", "Night")
    world.commit("prod")
    world.pull("dev", "manual", ["theirs"])
    return world


def test_a_conflict_settled_by_hand_names_who_took_which_side(settled):
    repo = settled.repos["dev"]
    events = record_timeline(repo, KEYS[0])
    merge = events[0]
    assert merge.kind == "conflict resolution" and merge.action == "changed"
    assert merge.resolution.strategy == "manual" and merge.resolution.by == "dev-ann (by hand)"
    assert merge.resolution.chosen == {"status": "theirs"}
    assert (merge.resolution.ours["status"], merge.resolution.theirs["status"]) == ("A", "L")
    assert [(c.field, c.old, c.new) for c in merge.changes] == [("shift", "Day", "Night"), ("status", "A", "L")]
    assert [e.action for e in events] == ["changed", "changed", "changed", "added"]
    assert [e.info.trailers["Created-By"] for e in events] == ["dev-ann", "dev-ann", "pat", "pat"]
    assert merge.resolution.conflict in settled.model.conflict_ids  # the id `attgit conflicts` and the audit log show


def test_company_log_lists_the_commits_that_changed_its_file(settled):
    repo = settled.repos["dev"]
    commits = company_log(repo, CO)
    changed = [c.id for c in repo.log()
               if not c.parents or repo.snapshot(c.id).blob_id(CO) != repo.snapshot(c.parents[0]).blob_id(CO)]
    assert [c.info.id for c in commits] == changed
    assert commits[-1].change == "added" and {c.change for c in commits[:-1]} == {"changed"}
    for c in commits:  # the company's records added, changed, deleted, and its total, as a full diff counts them
        before = repo.snapshot(c.info.parents[0]).records(CO) if c.info.parents else {}
        after = repo.snapshot(c.info.id).records(CO)
        assert (c.counts.added, c.counts.changed, c.counts.deleted, c.counts.records) == (
            len(after.keys() - before.keys()), sum(before.get(k, r) != r for k, r in after.items()),
            len(before.keys() - after.keys()), len(after))
    assert [(c.counts.added, c.counts.changed) for c in commits] == [(0, 1), (0, 1), (0, 1), (len(BACKGROUND) + 1, 0)]


def test_a_mistyped_company_or_record_names_the_closest(settled):
    repo = settled.repos["dev"]
    with pytest.raises(NotFound, match=r"no company 'ABC Crop' in the history; did you mean 'ABC Corp'\?"):
        company_log(repo, "ABC Crop")
    with pytest.raises(NotFound, match=r"no company 'ABC Crop'"):
        record_timeline(repo, ("E1", "ABC Crop", "2025-11-20"))
    with pytest.raises(NotFound, match=r"no record E11 @ ABC Corp on 2025-11-20 in the history; closest: E1@ABC Corp@"):
        record_timeline(repo, ("E11", CO, "2025-11-20"))


def test_a_key_is_given_in_one_argument_or_three():
    assert parse_key("E1@ABC Corp@2025-11-20") == ("E1", CO, "2025-11-20")
    assert parse_key("E1@a@b Ltd@2025-11-20") == ("E1", "a@b Ltd", "2025-11-20")
    assert parse_key("E1 @ ABC Corp on 2025-11-20") == ("E1", CO, "2025-11-20")
    assert parse_key("E1", CO, "2025-11-20") == ("E1", CO, "2025-11-20")
    with pytest.raises(UsageError, match="EP_NO@COMPANY@YYYY-MM-DD"):
        parse_key("E1")
    with pytest.raises(UsageError, match="expected YYYY-MM-DD"):
        parse_key("E1", CO, "20-11-2025")
    with pytest.raises(UsageError, match="--company and --date"):
        parse_key("E1", CO, None)


def test_the_cli_prints_the_timeline_and_the_company_log(settled):
    from click.testing import CliRunner

    from attgit.cli.app import cli

    repo = str(settled.repos["dev"].path)

    def run(*args, code=0):
        result = CliRunner().invoke(cli, ["--repo", repo, *args])
        assert result.exit_code == code or getattr(result.exception, "exit_code", None) == code, result.output
        return result

    text = run("log", "--record", "E1", "--company", CO, "--date", "2025-11-20").output
    assert "History of E1 @ ABC Corp on 2025-11-20" in text
    assert "changed by dev-ann  (conflict resolution: Merge prod into main" in text
    assert "status: ours 'A', theirs 'L' -> took theirs" in text and "shift: 'Day' -> 'Night'" in text
    data = orjson.loads(run("log", "--record", "E1@ABC Corp@2025-11-20", "--json").output)
    assert data["key"] == {"ep_no": "E1", "company": CO, "date": "2025-11-20"}
    assert [e["commit"]["actor"] for e in data["events"]] == ["dev-ann", "dev-ann", "pat", "pat"]
    assert data["events"][0]["resolution"]["chosen"] == {"status": "theirs"}
    log = orjson.loads(run("log", "--company", CO, "--json").output)
    assert log["company"] == CO and log["commits"][0]["company_records"] == len(BACKGROUND) + 1
    assert log["commits"][0]["company_changes"] == {"added": 0, "changed": 1, "deleted": 0}
    assert log["commits"][-1]["company_changes"] == {"added": len(BACKGROUND) + 1, "changed": 0, "deleted": 0}
    text = run("log", "--company", CO).output.splitlines()
    assert "pull/merge" in text[0] and "+0 ~1 -0  10 records of 10  Merge prod into main" in text[0]
    assert isinstance(run("log", "--company", "ABC Crop", code=3).exception, NotFound)


# --- packed versions, read through their deltas -------------------------------------------

@given(st.lists(st.tuples(st.integers(0, 299), st.integers(0, 2**32 - 1)), min_size=2, max_size=8),
       st.lists(st.tuples(st.integers(0, 90_000), st.integers(0, 400)), min_size=1, max_size=6))
def test_packed_versions_read_by_range_equal_the_blobs(edits, ranges):
    """Versions of one file, packed by C git into delta chains: every range
    read through the chain, and every line found, equals the blob's."""
    from attgit.format import packdelta
    from attgit.repo import cgit

    with tempfile.TemporaryDirectory(prefix="attgit-packdelta-") as tmp:
        repo = Repository.init(Path(tmp) / "r.git")
        db = MemoryWorkingCopy.from_records([record(f"E{n:03d}", CO, "2025-11-20") for n in range(300)])
        snapshot_database(repo, db, AUTHORS["prod"])
        for n, seed in edits:  # one record changed, one added at the end, per version
            k = (f"E{n:03d}", CO, "2025-11-20")
            db.data[CO][k] = record(k[0], CO, k[2], ep_name=f"N{seed}", status="A" if seed % 2 else "L")
            day = f"2025-12-{1 + seed % 28:02d}"
            db.data[CO][(f"E{n:03d}", CO, day)] = record(f"E{n:03d}", CO, day)
            snapshot_database(repo, db, AUTHORS["prod"])
        cgit.run(["repack", "-a", "-d", "-q", "--depth=50", "--window=50"], repo.path)
        kept = packdelta._DELTAS_KEPT
        packdelta._DELTAS_KEPT = len(edits) // 2  # some bases are evicted and parsed again
        try:
            _compare_versions(repo, ranges, edits)
        finally:
            packdelta._DELTAS_KEPT = kept


def _compare_versions(repo, ranges, edits) -> None:
    from attgit.format import layout, packdelta
    from attgit.repo.pathlog import blob_source

    reader = packdelta.Reader(str(repo.path))
    deltas = 0
    for info in repo.log():
        oid = repo.snapshot(info.id).blob_id(CO)
        data = repo.git.odb.read(oid)[1]
        source = blob_source(repo, reader, oid, layout.company_path(CO), info.id)
        deltas += not isinstance(source, packdelta.Whole)
        assert source.size == len(data) and source.read(0, source.size) == data
        assert source.lines() == data.count(b"\n")
        whole = packdelta.Whole(data)
        for start, length in ranges:
            assert source.read(start, start + length) == data[start:start + length]
            assert whole.lines(start, start + 100 * length) == data.count(b"\n", start, start + 100 * length)
        for r in [record(f"E{n:03d}", CO, "2025-11-20") for n, _ in edits] + [record("E999", CO, "2025-11-20")]:
            assert find_line(source, rec.sort_key(r)) == find_line(data, rec.sort_key(r))
    assert deltas  # C git made deltas of the older versions
