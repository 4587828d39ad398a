"""Repositories that stay small: after a write, attgit packs the loose
objects with git's own ``git repack`` once they pass a threshold, and
``attgit gc`` runs ``git gc`` by hand.  C git judges the result
(``git fsck --strict``, ``git count-objects``); attgit still reads every
snapshot it wrote."""

from __future__ import annotations

import random
import string
import time

import pytest

from attgit.errors import Locked
from attgit.ops.commit import snapshot_database
from attgit.ops.reconcile import exclusive
from attgit.repo import locking, maintenance
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from .helpers import AUTHOR, as_set, fsck, git, record


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
    assert "2000 loose objects" in maintenance.reason_to_pack(u(2000, 1000, 1, 10**9))
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
