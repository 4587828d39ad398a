"""The change log on the in-memory working copy: a commit built from the
log (rows by key, blobs spliced) is byte-identical to a full re-read after
any sequence of edits, and it consumes exactly what it read."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attgit.errors import Rejected
from attgit.format import records as rec
from attgit.format.snapshot import encode_sorted
from attgit.format.splice import find_lines, splice
from attgit.ops.capture import Pending, database_tree
from attgit.ops.commit import snapshot_database
from attgit.ops.compare import diff_database, status
from attgit.ops.restore import checkout
from attgit.repo.repository import Repository
from attgit.workingcopy import CompanyChange, MemoryWorkingCopy

from .helpers import AUTHOR, record
from .strategies import DATES, STATUSES, datasets, records

COMPANIES = st.sampled_from(["ABC Corp", "Zeta/Works", "Ünïcode Ltd", "New Co", "x" * 40])


def full_tree(repo: Repository, db) -> str:
    """The database re-read whole, as `commit --full` does."""
    return str(database_tree(repo, db, repo.snapshot(None), Pending(None, True)).tree.id)


@st.composite
def edit_steps(draw):
    """A list of edit operations (applied by ``perform``), with commits between."""
    kinds = ["insert", "update", "update_whole", "move_date", "move_company", "delete",
             "rename", "drop_company", "create_company", "commit"]
    return draw(st.lists(st.tuples(st.sampled_from(kinds), st.integers(0, 10_000), records(company=COMPANIES),
                                   COMPANIES, DATES, STATUSES), max_size=25))


def perform(db: MemoryWorkingCopy, step) -> None:
    kind, pick, new, other, date, status_ = step
    companies = db.companies()
    if kind == "create_company":
        if other not in db.data:
            db.data[other] = {}
        return
    if not companies:
        return
    company = companies[pick % len(companies)]
    rows = db.data[company]
    keys = sorted(rows)
    if kind == "insert":
        r = {**new, "company": company}
        if rec.key(r) not in rows:
            rows[rec.key(r)] = r
    elif kind == "rename":
        if other not in db.data:
            db.rename_company(company, other)
    elif kind == "drop_company":
        del db.data[company]
    elif not keys:
        return
    else:
        k = keys[pick % len(keys)]
        if kind == "update":
            rows[k]["status"] = status_  # a field set in place
        elif kind == "update_whole":
            rows[k] = {**new, "ep_no": k[0], "company": k[1], "date": k[2]}
        elif kind == "delete":
            del rows[k]
        elif kind in ("move_date", "move_company"):
            target = other if kind == "move_company" else company
            moved = {**rows[k], "company": target, "date": date}
            if target in db.data and rec.key(moved) not in db.data[target]:
                rows.pop(k)
                db.data[target][rec.key(moved)] = moved


@given(datasets(max_size=40, company=COMPANIES), edit_steps())
def test_a_commit_from_the_log_is_byte_identical_to_a_full_read(dataset, steps):
    with tempfile.TemporaryDirectory() as tmp:
        repo = Repository.init(Path(tmp) / "r.git")
        db = MemoryWorkingCopy.from_records(dataset)
        snapshot_database(repo, db, AUTHOR)
        for step in steps + [("commit", 0, None, None, None, None)]:
            if step[0] != "commit":
                perform(db, step)
                continue
            expected = full_tree(repo, db)
            seen = status(repo, db)
            proof = status(repo, db, full=True)
            assert (seen.added, seen.changed, seen.deleted) == (proof.added, proof.changed, proof.deleted)
            assert sorted(seen.companies) == sorted(proof.companies)
            result = snapshot_database(repo, db, AUTHOR)
            head = repo.head()
            assert head is None or str(repo.git[head].tree_id) == expected or not db.companies()
            assert db.log_size() == 0
            if result.created and result.parent:  # after a first commit, the log alone
                assert result.kind == "incremental"
            assert status(repo, db, full=True).clean


@given(datasets(min_size=1, max_size=40), st.data())
def test_splice_equals_encoding_again(dataset, data):
    company = dataset[0]["company"]
    rows = {rec.key(r): r for r in dataset if r["company"] == company}
    old, _ = encode_sorted(company, rows)
    after = dict(rows)
    changed = {}
    for r in data.draw(st.lists(records(company=st.just(company)), max_size=10)):
        after[rec.key(r)] = r
        changed[rec.sort_key(r)] = rec.to_line(r)
    for k in data.draw(st.lists(st.sampled_from(sorted(rows)), max_size=5)):
        after.pop(k, None)
        changed[(k[2], k[0])] = None
    assert splice(old, changed) == encode_sorted(company, after)[0]
    wanted = {(k[2], k[0]) for k in rows}
    assert {o: line for o, line in find_lines(old, wanted).items()} == \
        {rec.sort_key(r): rec.to_line(r) for r in rows.values()}


@pytest.fixture
def env(tmp_path):
    repo = Repository.init(tmp_path / "a.git")
    db = MemoryWorkingCopy.from_records([record(f"E{n}", date=f"2025-11-{n:02d}") for n in range(1, 21)]
                                        + [record("E1", company="Zeta")])
    snapshot_database(repo, db, AUTHOR)
    return repo, db


def test_a_commit_reads_only_the_logged_rows(env):
    repo, db = env
    db.data["ABC Corp"][("E3", "ABC Corp", "2025-11-03")]["status"] = "A"
    read = []
    original = db.records_at
    db.records_at = lambda company, keys: (read.append((company, set(keys))), original(company, keys))[1]
    db.records = lambda company: pytest.fail(f"{company} read whole")
    result = snapshot_database(repo, db, AUTHOR)
    assert result.created and result.changed_companies == ["ABC Corp"]
    assert read == [("ABC Corp", {("E3", "ABC Corp", "2025-11-03")})]


def test_an_edit_made_while_a_commit_runs_is_in_the_next_commit(env):
    repo, db = env
    db.data["ABC Corp"][("E3", "ABC Corp", "2025-11-03")]["status"] = "A"

    def edit_meanwhile(company):  # called per company, after the log was read
        if company == "ABC Corp":
            db.data["Zeta"][("E1", "Zeta", "2025-11-20")]["status"] = "L"

    first = snapshot_database(repo, db, AUTHOR, progress=edit_meanwhile)
    assert first.created and db.log_size() == 1  # the later edit was not consumed
    assert repo.snapshot(repo.head()).records("Zeta")[("E1", "Zeta", "2025-11-20")]["status"] == "P"
    second = snapshot_database(repo, db, AUTHOR)
    assert second.created and second.changed_companies == ["Zeta"]
    assert repo.snapshot(repo.head()).records("Zeta")[("E1", "Zeta", "2025-11-20")]["status"] == "L"
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)


def test_without_a_log_everything_is_compared_and_said(env):
    repo, db = env
    db.capture = False  # the triggers were dropped: this edit goes unlogged
    db.data["Zeta"][("E1", "Zeta", "2025-11-20")]["status"] = "A"
    seen = status(repo, db)
    assert seen.capture_missing and seen.scanned_all and (seen.changed, seen.companies) == (1, ["Zeta"])
    assert [d.company for d in diff_database(repo, db)] == ["Zeta"]
    result = snapshot_database(repo, db, AUTHOR)
    assert result.created and result.capture_missing and result.kind == "full"
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)


def test_apply_refuses_an_edit_beyond_the_watermark_and_consumes_its_own(env):
    repo, db = env
    seen = db.changes().watermark
    db.data["Zeta"][("E1", "Zeta", "2025-11-20")]["status"] = "A"
    change = CompanyChange("Zeta", updates=[record("E1", company="Zeta", status="L")])
    with pytest.raises(Rejected):
        db.apply([change], "f" * 40, expect=seen)
    assert db.data["Zeta"][("E1", "Zeta", "2025-11-20")]["status"] == "A" and db.log_size() == 1
    db.apply([change], "f" * 40, expect=db.changes().watermark)
    assert db.log_size() == 0 and db.state().commit == "f" * 40


def test_the_log_is_empty_and_true_after_a_checkout(env):
    repo, db = env
    first = repo.head()
    db.data["ABC Corp"].pop(("E3", "ABC Corp", "2025-11-03"))
    db.data["Zeta"][("E2", "Zeta", "2025-11-21")] = record("E2", company="Zeta", date="2025-11-21")
    snapshot_database(repo, db, AUTHOR)
    checkout(repo, db, AUTHOR, str(first))
    assert db.log_size() == 0 and str(repo.git[repo.head()].tree_id) == full_tree(repo, db)
    assert status(repo, db, full=True).clean
