"""Records, layout and the snapshot format: canonical, deterministic,
verified (design Properties 4, 9, 10 and the round trip)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attgit.errors import ChecksumMismatch, ValidationError
from attgit.format import layout
from attgit.format import records as rec
from attgit.format.snapshot import (
    Snapshot,
    SnapshotBuilder,
    decode_company,
    encode_company,
)
from attgit.ops.commit import snapshot_database
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from .helpers import AUTHOR, fsck, git, record
from .strategies import ANY_COMPANY_NAME, datasets, records


@given(records())
def test_property_4_checksum_is_stable(r):
    """Property 4: the same record gives the same checksum, every time."""
    assert rec.checksum(r) == rec.checksum(dict(r)) == rec.checksum(rec.normalise(r))
    assert rec.from_line(rec.to_line(r)) == r


@given(records(), records())
def test_property_10_checksum_differs_iff_content_differs(a, b):
    """Property 10 (and 9: the key decides identity, the checksum content)."""
    assert (rec.checksum(a) == rec.checksum(b)) == (a == b)


@given(st.lists(ANY_COMPANY_NAME, min_size=2, max_size=6, unique=True))
def test_company_files_are_safe_and_distinct(names):
    files = [layout.company_file_name(n) for n in names]
    assert len(set(files)) == len(files)
    assert len({f.lower() for f in files}) == len(files)  # case-insensitive filesystems too
    for f in files:
        assert re.fullmatch(r"[a-z0-9-]+\.[0-9a-f]{20}\.jsonl", f) and len(f) < 80


@pytest.mark.parametrize("name", ["..", ".", "a/b", "ABC Corp", "abc corp", "x" * 255, "日本株式会社", " ", "CON"])
def test_hard_company_names_round_trip(tmp_path, name):
    repo = Repository.init(tmp_path / "r.git")
    db = MemoryWorkingCopy.from_records([record(company=name.strip() or "blank")])
    commit = snapshot_database(repo, db, AUTHOR).commit
    snap = repo.snapshot(commit)
    assert list(snap.iter_records()) == db.all_records()
    fsck(repo.path)


@given(datasets(max_size=25))
def test_round_trip_database_snapshot_records(tmp_path_factory, data):
    """Database -> snapshot -> records gives back exactly the database."""
    repo = Repository.init(tmp_path_factory.mktemp("rt") / "r.git")
    db = MemoryWorkingCopy.from_records(data)
    result = snapshot_database(repo, db, AUTHOR)
    if not data:
        assert not result.created
        return
    snap = repo.snapshot(result.commit)
    assert sorted(snap.iter_records(), key=rec.key) == sorted(data, key=rec.key)
    assert snap.companies() == sorted({r["company"] for r in data})
    assert snap.count_records() == len(data) == result.records


@given(datasets(min_size=1, max_size=25), st.randoms())
def test_same_data_same_tree_in_any_order(tmp_path_factory, data, random):
    shuffled = list(data)
    random.shuffle(shuffled)
    trees = []
    for rows in (data, shuffled):
        repo = Repository.init(tmp_path_factory.mktemp("det") / "r.git")
        builder = SnapshotBuilder(repo.git)
        for company in {r["company"] for r in rows}:
            builder.put_records(company, sorted((r for r in rows if r["company"] == company), key=rec.sort_key))
        trees.append(str(builder.write()))
    assert trees[0] == trees[1]


def test_c_git_accepts_what_attgit_writes(tmp_path):
    repo = Repository.init(tmp_path / "r.git")
    db = MemoryWorkingCopy.from_records([record("E1"), record("E2", company="Zeta/Works")])
    snapshot_database(repo, db, AUTHOR)
    db.data["Zeta/Works"].clear()
    snapshot_database(repo, db, AUTHOR)
    fsck(repo.path)
    assert len(git("-C", str(repo.path), "log", "--oneline").splitlines()) == 2
    shown = git("-C", str(repo.path), "show", "HEAD:companies.jsonl")
    assert '"name":"ABC Corp"' in shown and '"name":"Zeta/Works"' in shown
    git("clone", "-q", str(repo.path), str(tmp_path / "clone"))
    assert (tmp_path / "clone" / "attgit.json").exists()


def test_tampered_line_is_rejected_with_its_place():
    good = rec.to_line(record())
    bad = good.replace(b'"status":"P"', b'"status":"A"')
    with pytest.raises(ChecksumMismatch) as err:
        decode_company("ABC Corp", bad, "records/x.jsonl")
    assert "records/x.jsonl line 1" in str(err.value) and err.value.expected != err.value.got


def test_a_checksum_mismatch_shows_12_characters_of_each_checksum():
    good = rec.to_line(record())
    bad = good.replace(b'"status":"P"', b'"status":"A"')
    with pytest.raises(ChecksumMismatch) as err:
        decode_company("ABC Corp", bad, "records/x.jsonl")
    expected, got = err.value.expected, err.value.got
    assert len(expected) == len(got) == 64  # the error keeps them whole
    said = re.search(r"checksum mismatch: stored '([0-9a-f]+)…', content hashes to '([0-9a-f]+)…'", str(err.value))
    assert said and said.groups() == (expected[:12], got[:12]), str(err.value)


@pytest.mark.parametrize("mutation, message", [
    ({"status": "ZZ"}, "status"),
    ({"date": "2025-02-30"}, "not a real date"),
    ({"date": "20250101"}, "YYYY-MM-DD"),
    ({"in_time": "25:00"}, "not a real time"),
    ({"ep_no": ""}, "missing or empty"),
    ({"ep_name": "x" * 129}, "longer than 128"),
    ({"shift": ["Day"]}, "must be text"),
])
def test_validation_names_field_and_place(mutation, message):
    raw = {**record(), **mutation}
    with pytest.raises(ValidationError, match=message) as err:
        rec.normalise(raw, "record 7")
    assert "record 7" in str(err.value)


def test_blob_refuses_unsorted_or_foreign_records():
    with pytest.raises(ValidationError, match="out of order"):
        encode_company("ABC Corp", [record(date="2025-11-21"), record(date="2025-11-20")])
    with pytest.raises(ValidationError, match="of company"):
        encode_company("ABC Corp", [record(company="Zeta")])


def test_not_an_attgit_tree_is_refused(tmp_path):
    repo = Repository.init(tmp_path / "r.git")
    tree = repo.git.TreeBuilder().write()
    with pytest.raises(ValidationError, match="not an attgit snapshot"):
        Snapshot(repo.git, repo.git[tree])


@given(st.lists(st.tuples(st.sampled_from(["E1 ", "E2"]), st.sampled_from(["P", "A", "HD"]),
                          st.sampled_from(["09:00:00", "17:30:15", None, ""]),
                          st.sampled_from(["2024-02-29", "2025-01-01"])), min_size=1, max_size=5))
def test_fast_db_row_path_equals_normalise(rows):
    for ep_no, status, t, date in rows:
        row = (ep_no, " Name ", "Co", date, "Day", status, t, None, " 1 ")
        assert rec.from_db_row(row) == rec.normalise(dict(zip(rec.FIELDS, row)))


@given(records(), st.sampled_from([("ep_name", " padded "), ("status", "p"), ("in_time", "9:00"),
                                   ("date", "2024-1-01"), ("overstay", 1), ("shift", None)]))
def test_fast_line_path_accepts_exactly_canonical_lines(r, mutation):
    """The fast path of from_line agrees with the careful one: canonical
    lines parse to themselves; a non-canonical line, even with a checksum
    that matches its bytes, is refused with its place."""
    import hashlib

    import orjson

    assert rec._fast_line(rec.to_line(r)) == r == rec.from_line(rec.to_line(r))
    field, value = mutation
    body = orjson.dumps({**r, field: value}, option=orjson.OPT_SORT_KEYS)
    line = b'{"checksum":"' + hashlib.sha256(body).hexdigest().encode() + b'",' + body[1:]
    assert rec._fast_line(line) is None
    with pytest.raises(ValidationError):
        rec.from_line(line, "records/x.jsonl line 3")
