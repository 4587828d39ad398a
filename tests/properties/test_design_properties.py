"""The design document's restore properties on the real database, with
Hypothesis (100+ examples each): 5-8 and 11 through a restore of a backup
file, 13 (atomicity) and 15 (round trip)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attgit.format import records as rec
from attgit.format.backup import read_backup, write_backup
from attgit.ops.restore import import_backup
from attgit.repo.repository import Repository
from attgit.workingcopy import CompanyChange
from django_adapter.models import AttendanceRecord, BackupLog, Company, SyncState
from django_adapter.workingcopy import DjangoWorkingCopy

from ..helpers import AUTHOR
from ..strategies import datasets, edits

pytestmark = pytest.mark.django_db(transaction=True)


def reset() -> DjangoWorkingCopy:
    BackupLog.objects.all().delete()
    AttendanceRecord.objects.all().delete()
    Company.objects.all().delete()
    SyncState.objects.all().delete()
    return DjangoWorkingCopy()


def load(db: DjangoWorkingCopy, data: list) -> None:
    by_company: dict = {}
    for r in data:
        by_company.setdefault(r["company"], []).append(r)
    db.apply([CompanyChange(c, inserts=rs, create=True) for c, rs in by_company.items()], None)


def content(db: DjangoWorkingCopy) -> dict:
    return {rec.key(r): r for c in db.companies() for r in db.records(c)}


def backup_of(data: list, tmp_path) -> object:
    buffer = io.BytesIO()
    companies = [{"name": n, "created_at": None} for n in sorted({r["company"] for r in data})]
    write_backup(buffer, companies, sorted(data, key=rec.key), backup_type="full", created_by="test")
    path = tmp_path / "backup.json"
    path.write_bytes(buffer.getvalue())
    return path


@given(db_data=datasets(max_size=15), file_data=datasets(max_size=15),
       strategy=st.sampled_from(["backup_wins", "database_wins"]))
def test_properties_5_to_8_and_11_restore_on_the_database(tmp_path_factory, db_data, file_data, strategy):
    """Identical records are skipped (5), new keys inserted (6), differing
    ones updated under backup_wins (7), counts add up to the file (8), and a
    record's missing company is created (11)."""
    db = reset()
    load(db, db_data)
    before = content(db)
    tmp = tmp_path_factory.mktemp("p")
    repo = Repository.init(tmp / "r.git")
    with read_backup(backup_of(file_data, tmp)) as backup:
        result = import_backup(repo, db, AUTHOR, backup, "backup.json", strategy=strategy)
    after = content(db)
    c = result.counts
    assert c["added"] + c["updated"] + c["skipped"] == len(file_data) == c["records_in_file"]
    for r in file_data:
        k = rec.key(r)
        if k not in before:
            assert after[k] == r  # 6 and 11: the company exists now
        elif before[k] == r:
            assert after[k] == r  # 5
        else:
            assert after[k] == (r if strategy == "backup_wins" else before[k])  # 7
    assert set(before) <= set(after)  # a restore never deletes
    assert len(after) == len(set(before) | {rec.key(r) for r in file_data})  # no duplicates
    assert {r["company"] for r in file_data} <= set(db.companies())


@given(data=datasets(min_size=1, max_size=20), new=st.data())
def test_property_13_a_failed_apply_changes_nothing(data, new):
    """An apply that fails at any point (an exception from inside it, or a
    database error on its last statement) leaves the database as it was."""
    db = reset()
    load(db, data)
    before, state = content(db), db.state()
    changes = _changes(data, new.draw(edits(data)))
    total = sum(len(ch) for ch in changes)
    if new.draw(st.booleans(), label="fail from inside") and total:
        fail_at = new.draw(st.integers(1, total), label="fail after")

        def progress(done, _total):
            if done >= fail_at:
                raise RuntimeError("failure injected during apply")

        with pytest.raises(RuntimeError):
            db.apply(changes, "0" * 40, progress, total)
    else:
        dup = rec.normalise({**data[0], "ep_no": "DUPLICATE"})
        with pytest.raises(Exception) as err:
            db.apply(changes + [CompanyChange(dup["company"], inserts=[dup, dup])], "0" * 40)
        assert "unique" in str(err.value).lower() or "duplicate" in str(err.value).lower()
    assert content(db) == before and db.state() == state


def _changes(old: list, new: list) -> list:
    from attgit.merge.diff import diff_company

    olds, news = {}, {}
    for r in old:
        olds.setdefault(r["company"], {})[rec.key(r)] = r
    for r in new:
        news.setdefault(r["company"], {})[rec.key(r)] = r
    return [diff_company(c, olds.get(c, {}), news.get(c, {})).to_change(create=c not in olds)
            for c in sorted(set(olds) | set(news))]


@given(data=datasets(max_size=20))
def test_property_15_backup_then_restore_into_empty_database(tmp_path_factory, data):
    """Backup, restore into an empty database: the same records again."""
    db = reset()
    load(db, data)
    original = content(db)
    tmp = tmp_path_factory.mktemp("rt")
    path = tmp / "b.json"
    with open(path, "wb") as out:
        write_backup(out, db.companies_with_created_at(), (r for c in db.companies() for r in db.records(c)),
                     backup_type="full", created_by="test")
    db = reset()
    with read_backup(path) as backup:
        import_backup(Repository.init(tmp / "r.git"), db, AUTHOR, backup, "b.json")
    assert content(db) == original


# --- the same properties through the design document's Python API ------------------------------

@given(db_data=datasets(max_size=15), file_data=datasets(max_size=15),
       strategy=st.sampled_from(["backup_wins", "database_wins", "manual"]))
def test_properties_5_to_8_and_11_through_the_services(tmp_path_factory, settings, db_data, file_data, strategy):
    """RestoreService.restore_backup and ConflictResolver, under every
    strategy: 5, 6, 7 and 11 as above; 8 (added + updated + skipped = the
    file's records, pending conflicts counted as skipped and also apart) in
    the result and in the BackupLog row."""
    from attgit.ops.mergestate import MergeState
    from django_adapter.services import ConflictResolver, RestoreService

    db = reset()
    load(db, db_data)
    before = content(db)
    tmp = tmp_path_factory.mktemp("s")
    settings.ATTGIT_REPO = str(tmp / "r.git")
    outcome = RestoreService().restore_backup(backup_of(file_data, tmp), merge_strategy=strategy)
    assert outcome["success"], outcome
    after = content(db)
    assert outcome["added"] + outcome["updated"] + outcome["skipped"] == len(file_data)
    differing = [r for r in file_data if rec.key(r) in before and before[rec.key(r)] != r]
    assert outcome["pending"] == (len(differing) if strategy == "manual" else 0)
    log = BackupLog.objects.get(operation="restore")
    assert log.records_added + log.records_updated + log.records_skipped == len(file_data) == log.records_count
    resolver = ConflictResolver()
    for r in file_data:
        k = rec.key(r)
        assert resolver.detect_conflicts(r, before.get(k)) == (k in before and before[k] != r)  # 9, 10
        assert after[k] == resolver.apply_merge_strategy(r, before.get(k), strategy)  # 5, 6, 7, 11
    assert set(before) <= set(after)
    assert {r["company"] for r in file_data} <= set(db.companies())
    waiting = MergeState.load(Repository.open(tmp / "r.git"))
    assert (waiting is not None and len(waiting.pending()) == len(differing)) if outcome["pending"] \
        else waiting is None


@given(data=datasets(max_size=20))
def test_property_15_through_the_services(tmp_path_factory, settings, data):
    """BackupService.create_backup, then RestoreService.restore_backup into
    an empty database: the same records; validate_backup finds it valid and
    the metadata counts what the file holds (2, 3)."""
    from django_adapter.services import BackupService, RestoreService

    db = reset()
    load(db, data)
    original = content(db)
    tmp = tmp_path_factory.mktemp("srt")
    settings.ATTGIT_REPO = str(tmp / "r.git")
    made = BackupService().create_backup("full", output=tmp / "b.json")
    assert made["success"] and made["record_count"] == len(data)
    assert made["metadata"]["total_attendance_records"] == len(data)
    assert made["metadata"]["total_companies"] == len(db.companies())
    assert RestoreService().validate_backup(made["file_path"])["valid"]
    db = reset()
    assert RestoreService().restore_backup(made["file_path"])["success"]
    assert content(db) == original
