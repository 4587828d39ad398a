"""verify checks company files on every core: the same result as the
one-process walk, on sound repositories and on damaged or invalid ones (a
file a worker finds wrong is named by the main walk, with its commit and
path, as before)."""

from __future__ import annotations

import zlib

import pytest

from attgit.format import objects
from attgit.format.snapshot import Snapshot, SnapshotBuilder
from attgit.ops import verify as verifying
from attgit.ops.commit import snapshot_database
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from .helpers import AUTHOR, record


@pytest.fixture
def repo(tmp_path):
    """Two commits over three companies, every object loose."""
    repo = Repository.init(tmp_path / "a.git")
    db = MemoryWorkingCopy.from_records([record(f"E{n}", company=c, date=f"2025-01-{1 + n:02d}")
                                         for c in ("Alpha", "Beta", "Gamma") for n in range(20)])
    snapshot_database(repo, db, AUTHOR)
    db = MemoryWorkingCopy.from_records([dict(r, status="A") if r["company"] == "Beta" else r
                                         for r in db.all_records()])
    snapshot_database(repo, db, AUTHOR)
    return repo


def both_ways(repo: Repository, monkeypatch) -> dict:
    monkeypatch.setattr(verifying, "PARALLEL_BYTES", 1 << 40)
    alone = verifying.verify(repo).to_dict()
    monkeypatch.setattr(verifying, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(verifying.os, "cpu_count", lambda: 2)
    together = verifying.verify(repo).to_dict()
    assert together == alone
    return together


def test_a_sound_repository_verifies_the_same_on_two_cores(repo, monkeypatch):
    result = both_ways(repo, monkeypatch)
    assert result["ok"] and result["commits"] == 2 and result["blobs"] == 4 and result["records"] == 80
    monkeypatch.setattr(verifying, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(verifying.os, "cpu_count", lambda: 2)
    assert sorted(verifying._count_in_parallel(repo).values()) == [20, 20, 20, 20]


def test_an_invalid_file_is_named_by_either_way(repo, monkeypatch):
    head = repo.head()
    builder = SnapshotBuilder(repo.git, repo.snapshot(head))
    good = repo.snapshot(head).company_bytes("Gamma")
    builder.put_blob("Gamma", good.replace(b'"status":"P"', b'"status":"A"', 1))  # checksum now wrong
    commit = repo.write_commit(builder.write(), [head], "bad", {}, AUTHOR)
    repo.move_head(head, commit, "test")
    result = both_ways(repo, monkeypatch)
    assert not result["ok"] and any("Gamma" in p or "checksum" in p for p in result["problems"]), result


def test_a_damaged_object_is_named_by_either_way(repo, monkeypatch):
    snap: Snapshot = repo.snapshot(repo.head())
    path = objects.loose_path(repo.git, snap.blob_id("Alpha"))
    data = bytearray(zlib.decompress(path.read_bytes()))
    data[-10] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(zlib.compress(bytes(data)))
    objects._HASHED.clear()  # this process wrote the object: forget it, as a new process knows nothing
    result = both_ways(repo, monkeypatch)
    assert not result["ok"] and result["damaged"], result
    assert str(snap.blob_id("Alpha")) in {d["object"] for d in result["damaged"]}
