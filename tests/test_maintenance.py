"""Repositories that stay small: after a write, attgit packs the loose
objects with git's own ``git repack`` once they pass a threshold, and
``attgit gc`` runs ``git gc`` by hand.  C git judges the result
(``git fsck --strict``, ``git count-objects``); attgit still reads every
snapshot it wrote."""

from __future__ import annotations

import random
import string
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attgit.errors import Locked
from attgit.ops.commit import snapshot_database
from attgit.ops.reconcile import exclusive
from attgit.repo import locking, maintenance
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from .helpers import AUTHOR, as_set, fsck, git, record

STATUSES = ("P", "A", "L", "OD")


def _commit_days(repo, db, days):
    heads = []
    for day in range(days):
        for n in range(40):
            r = record(f"E{n:03d}", company=f"Co {n % 4}", date=f"2025-01-{day + 1:02d}")
            db.data.setdefault(r["company"], {})[(r["ep_no"], r["company"], r["date"])] = r
        with exclusive(repo, db):
            heads.append(snapshot_database(repo, db, AUTHOR).commit)
    return heads


def _loose(path) -> int:
    counts = dict(line.split(": ") for line in git("-C", str(path), "count-objects", "-v").splitlines())
    return int(counts["count"])


def test_a_write_past_the_threshold_packs_the_repository(tmp_path, monkeypatch):
    monkeypatch.setattr(maintenance, "LOOSE_MIN_BYTES", 1)
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy()
    heads = _commit_days(repo, db, 5)
    assert _loose(repo.path) == 0 and maintenance.usage(repo.path).packs == 1
    fsck(repo.path)
    again = Repository.open(repo.path)
    assert as_set(MemoryWorkingCopy.from_records(r for c in again.snapshot(heads[-1]).companies()
                                                 for r in again.snapshot(heads[-1]).records(c).values())) == as_set(db)
    assert [c.id for c in again.log()] == heads[::-1]


def test_writers_leave_the_packing_to_a_detached_process(tmp_path, monkeypatch):
    """What users get: the write returns at once, a process of its own packs."""
    monkeypatch.setenv("ATTGIT_MAINTENANCE", "background")
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy()
    rnd = random.Random(7)
    for n in range(12_000):  # ~1 MB of loose objects: past the default threshold
        r = {**record(f"E{n:05d}", company=f"Co {n % 8}", date="2025-01-01"),
             "ep_name": "".join(rnd.choice(string.ascii_letters) for _ in range(40))}
        db.data.setdefault(r["company"], {})[(r["ep_no"], r["company"], r["date"])] = r
    with exclusive(repo, db):
        head = snapshot_database(repo, db, AUTHOR).commit
    deadline = time.monotonic() + 120
    while _loose(repo.path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _loose(repo.path) == 0 and maintenance.usage(repo.path).packs == 1
    fsck(repo.path)
    assert str(Repository.open(repo.path).head()) == head


def test_below_the_threshold_nothing_is_packed(tmp_path):
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy()
    _commit_days(repo, db, 2)
    before = maintenance.usage(repo.path)
    assert before.loose_objects > 0 and before.loose_bytes < maintenance.LOOSE_MIN_BYTES
    result = maintenance.auto(repo.path)
    assert not result.ran and result.after == before and maintenance.usage(repo.path).packs == 0


def test_thresholds_are_relative_to_the_packs():
    u = maintenance.Usage
    assert maintenance.reason_to_pack(u(10, 400_000, 1, 100_000_000)) is None
    assert "loose objects beside" in maintenance.reason_to_pack(u(10, 30_000_000, 1, 100_000_000))
    assert "2,000 loose objects" in maintenance.reason_to_pack(u(2000, 1000, 1, 10**9))
    assert "20 packs" in maintenance.reason_to_pack(u(0, 0, 20, 10**9))


def test_maintenance_in_progress_elsewhere_is_skipped_not_awaited(tmp_path, monkeypatch):
    monkeypatch.setattr(maintenance, "LOOSE_MIN_BYTES", 1)
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy()
    with locking.file_lock(repo.path / maintenance.LOCK_FILE, "test"):
        _commit_days(repo, db, 2)  # the writes succeed; packing waits for the next one
        assert maintenance.usage(repo.path).packs == 0
        with pytest.raises(Locked, match="maintenance of"):
            maintenance.gc(repo.path)
    assert maintenance.auto(repo.path).ran and _loose(repo.path) == 0
    fsck(repo.path)


def test_gc_by_hand_packs_everything_and_keeps_history(tmp_path):
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy()
    heads = _commit_days(repo, db, 3)
    result = maintenance.gc(repo.path)
    assert result.ran and result.after.loose_objects == 0 and result.after.packs == 1
    assert result.to_dict()["before"]["loose_objects"] == result.before.loose_objects > 0
    assert git("-C", str(repo.path), "rev-list", "main").split() == heads[::-1]
    fsck(repo.path)


def _live_day(db, rnd, day, employees=60, companies=6):
    """One record per employee for ``day``, and a correction to an earlier
    day: what a nightly commit holds (bench/growth.py at small scale)."""
    date = f"2025-{1 + day // 28:02d}-{1 + day % 28:02d}"
    for n in range(employees):
        r = record(f"E{n:04d}", company=f"Co {n % companies}", date=date, status=rnd.choice(STATUSES),
                   in_time=f"09:{rnd.randrange(60):02d}", out_time=f"17:{rnd.randrange(60):02d}")
        db.data.setdefault(r["company"], {})[(r["ep_no"], r["company"], r["date"])] = r
    if day:
        company = rnd.choice(sorted(db.data))
        key = rnd.choice(sorted(db.data[company]))
        db.data[company][key] = record(key[0], company=company, date=key[2], status="L")


def _where(path) -> dict:
    """Each blob of the history: the path it was first seen at."""
    where = {}
    for commit in git("-C", str(path), "rev-list", "--reverse", "--all").split():
        for line in git("-C", str(path), "ls-tree", "-r", commit).splitlines():
            meta, name = line.split("\t")
            where.setdefault(meta.split()[2], name)
    return where


def _stored(path) -> dict:
    """blob id -> (its delta base in the packs, None when stored whole; its size),
    by ``git verify-pack -v``."""
    stored = {}
    for idx in (Path(path) / "objects" / "pack").glob("*.idx"):
        for line in git("verify-pack", "-v", str(idx)).splitlines():
            f = line.split()
            if len(f) >= 5 and len(f[0]) == 40 and f[1] == "blob":
                stored[f[0]] = (f[6] if len(f) > 6 else None, int(f[2]))
    return stored


def _assert_newest_whole_and_deltas_within_their_path(path):
    where, stored = _where(path), _stored(path)
    head = {meta.split()[2] for meta in (x.split("\t")[0] for x in
                                         git("-C", str(path), "ls-tree", "-r", "main").splitlines())}
    assert head <= set(stored)
    assert [b for b in head if stored[b][0] is not None] == []
    crossed = [(where[b], where.get(base)) for b, (base, _) in stored.items()
               if base is not None and b in where and where.get(base) != where[b]]
    assert crossed == []
    # every older version is a delta (git tries none for objects under 50 bytes)
    assert [b for b, (base, size) in stored.items() if b in where and b not in head and base is None
            and size >= 50] == []


def test_daily_packing_keeps_each_newest_version_whole_and_deltas_within_a_path(tmp_path, monkeypatch):
    """The growth scenario's failure, in small: packed day after day, a
    company file's newest version used to become a delta of another
    company's file, reused for ever.  Now each newest version is whole and
    every older one a delta of its own path's versions."""
    monkeypatch.setattr(maintenance, "LOOSE_MIN_BYTES", 1)
    repo, db, rnd = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy(), random.Random(3)
    for day in range(12):
        _live_day(db, rnd, day)
        with exclusive(repo, db):
            head = snapshot_database(repo, db, AUTHOR, message=f"day {day}").commit
        assert _loose(repo.path) == 0
    _assert_newest_whole_and_deltas_within_their_path(repo.path)
    assert git("-C", str(repo.path), "for-each-ref", "--format=%(refname)").split() == ["refs/heads/main"]
    # what git upload-pack reads when it serves a clone: the chains are not cut at 50
    assert git("-C", str(repo.path), "config", "pack.depth").strip() == str(maintenance.REPACK_DEPTH)
    fsck(repo.path)
    again = Repository.open(repo.path)
    assert as_set(MemoryWorkingCopy.from_records(r for c in again.snapshot(head).companies()
                                                 for r in again.snapshot(head).records(c).values())) == as_set(db)
    maintenance.gc(repo.path)  # git gc's own repack knows no islands; attgit gc repacks after it
    _assert_newest_whole_and_deltas_within_their_path(repo.path)
    fsck(repo.path)


def _write_unreachable(path, text: str, packed: bool) -> str:
    blob = subprocess.run(["git", "-C", str(path), "hash-object", "-w", "--stdin"], input=text,
                          capture_output=True, text=True, check=True).stdout.strip()
    if packed:  # as a fetch leaves it: a pack of its own, the ref not moved yet
        subprocess.run(["git", "-C", str(path), "pack-objects", "-q", "objects/pack/pack"], input=blob + "\n",
                       capture_output=True, text=True, check=True)
        git("-C", str(path), "prune-packed")
    return blob


def test_packing_keeps_objects_no_ref_reaches_yet(tmp_path, monkeypatch):
    """A fetch writes its pack before it moves its ref, a commit its
    objects before the branch: packing in between must keep them.  (Plain
    ``git repack -a -d`` deletes unreachable objects that sit in a pack.)"""
    monkeypatch.setattr(maintenance, "LOOSE_MIN_BYTES", 1)
    monkeypatch.setattr(maintenance, "LOOSE_RATIO", 0)
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy()
    _commit_days(repo, db, 1)
    blobs = [_write_unreachable(repo.path, "fetched, not referenced yet\n", packed=True),
             _write_unreachable(repo.path, "written, not committed yet\n", packed=False)]
    assert maintenance.auto(repo.path).ran
    assert maintenance.usage(repo.path).packs == 1 and _loose(repo.path) == 0
    for blob in blobs:
        git("-C", str(repo.path), "cat-file", "-e", blob)
    fsck(repo.path)


def test_island_refs_left_by_a_killed_run_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(maintenance, "LOOSE_MIN_BYTES", 1)
    monkeypatch.setattr(maintenance, "LOOSE_RATIO", 0)
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy()
    _commit_days(repo, db, 1)
    blob = git("-C", str(repo.path), "rev-parse", "main:companies.jsonl").strip()
    git("-C", str(repo.path), "update-ref", f"{maintenance.ISLAND_REFS}0/{blob}", blob)
    _live_day(db, random.Random(1), 5)
    with exclusive(repo, db):
        snapshot_database(repo, db, AUTHOR)
    assert _loose(repo.path) == 0
    assert git("-C", str(repo.path), "for-each-ref", "--format=%(refname)").split() == ["refs/heads/main"]
    fsck(repo.path)


@given(st.lists(st.sampled_from(["commit", "loose", "packed", "repack", "gc"]), min_size=1, max_size=8),
       st.integers(0, 2**16))
def test_no_sequence_of_writes_and_packings_loses_an_object(steps, seed):
    """Whatever interleaving of commits, objects no ref reaches (loose or in
    a pack of their own) and packings: every object written is still there,
    the repository passes ``git fsck --strict``, and the newest versions
    are whole."""
    rnd = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        repo, db = Repository.init(Path(tmp) / "a.git"), MemoryWorkingCopy()
        written, day = [], 0
        for step in steps:
            if step == "commit":
                _live_day(db, rnd, day, employees=12, companies=3)
                day += 1
                snapshot_database(repo, db, AUTHOR, message=f"day {day}")
            elif step in ("loose", "packed"):
                written.append(_write_unreachable(repo.path, f"{step} {rnd.random()}\n", step == "packed"))
            elif step == "repack":
                maintenance.repack(repo.path)
            else:
                maintenance.gc(repo.path)
        maintenance.repack(repo.path)
        if day:
            written += [line.split()[0] for line in
                        git("-C", str(repo.path), "rev-list", "--objects", "main").splitlines()]
            _assert_newest_whole_and_deltas_within_their_path(repo.path)
        for oid in written:
            git("-C", str(repo.path), "cat-file", "-e", oid)
        assert git("-C", str(repo.path), "for-each-ref", "--format=%(refname)").split() == (
            ["refs/heads/main"] if day else [])
        fsck(repo.path)


def test_a_pack_depth_set_by_hand_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(maintenance, "LOOSE_MIN_BYTES", 1)
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy()
    git("-C", str(repo.path), "config", "pack.depth", "20")
    _commit_days(repo, db, 2)
    assert maintenance.usage(repo.path).packs == 1
    assert git("-C", str(repo.path), "config", "pack.depth").strip() == "20"
