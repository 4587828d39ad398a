"""The design document's 15 correctness properties, one Hypothesis test
each, named after the property (test_p1_... to test_p15_...), on the real
database and through the document's own interfaces: the list page,
BackupService, RestoreService and ConflictResolver.  Each runs at least 100
examples (the profiles in tests/conftest.py).

The library holds the same properties without Django in tests/test_merge.py,
tests/test_snapshot.py and tests/test_backupfile.py; these are the
document's statements as a user of the Django app meets them.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from attgit.format import records as rec
from attgit.format.backup import write_backup
from django_adapter.models import AttendanceRecord, BackupLog, Company, SyncState, User
from django_adapter.services import STRATEGIES, BackupService, ConflictResolver, RestoreService
from django_adapter.workingcopy import DjangoWorkingCopy

from ..strategies import EP_NOS, datasets, records

pytestmark = pytest.mark.django_db(transaction=True)

#: companies no dataset strategy draws: certainly new to the database
NEW_COMPANIES = st.sampled_from(["Brand New Ltd", "Neue GmbH", "新会社"])


# --- helpers ------------------------------------------------------------------------------------

def reset() -> DjangoWorkingCopy:
    """An empty database (at the start of every example)."""
    BackupLog.objects.all().delete()
    AttendanceRecord.objects.all().delete()
    get_user_model().objects.all().delete()
    Company.objects.all().delete()
    SyncState.objects.all().delete()
    return DjangoWorkingCopy()


def loaded(data: list) -> DjangoWorkingCopy:
    db = reset()
    db.bulk_load(data)
    return db


def content(db: DjangoWorkingCopy) -> dict:
    """key -> record: everything the database holds."""
    return {rec.key(r): r for c in db.companies() for r in db.records(c)}


def backup_file(data: list, folder) -> str:
    """A backup file holding ``data`` (written by the one writer)."""
    buffer = io.BytesIO()
    companies = [{"name": n, "created_at": None} for n in sorted({r["company"] for r in data})]
    write_backup(buffer, companies, sorted(data, key=rec.key), backup_type="full", created_by="test")
    path = folder / "backup.json"
    path.write_bytes(buffer.getvalue())
    return str(path)


@pytest.fixture
def site(tmp_path_factory, settings):
    """A fresh folder and repository setting per example: returns a
    function giving the example's folder.

    pytest-django's ``settings`` stacks a new override on every assignment,
    each reading through the one below: 2,000 examples (the ``deep``
    profile) ended in a RecursionError.  So the fixture makes one override,
    undone at the test's end, and each example changes the value in it."""
    from django.conf import settings as site_settings

    settings.ATTGIT_REPO = None

    def example_folder():
        folder = tmp_path_factory.mktemp("p")
        site_settings.ATTGIT_REPO = str(folder / "r.git")  # in the test's override, not a new one
        return folder
    return example_folder


def changed(record: dict, field: str, value) -> dict:
    return rec.normalise({**record, field: value})


@st.composite
def differing(draw, record: dict) -> dict:
    """``record`` with one value field changed (same key, different data)."""
    field = draw(st.sampled_from(rec.VALUE_FIELDS))
    other = draw(records().filter(lambda r: r[field] != record[field]))
    return changed(record, field, other[field])


# --- P1 -----------------------------------------------------------------------------------------

@given(data=datasets(max_size=30), empty=st.integers(0, 2))
def test_p1_root_user_data_visibility(client, data, empty):
    """Every record of every company is on a root user's attendance list
    (every page of it)."""
    loaded(data)
    for n in range(empty):
        Company.objects.create(name=f"Empty {n}")
    client.force_login(get_user_model().objects.create_user("root", role=User.ROOT))
    seen, page = set(), 1
    while True:
        response = client.get(f"/attendance/?page={page}")
        assert response.status_code == 200
        seen |= {(r.ep_no, r.company.name, r.date.isoformat()) for r in response.context["page"]}
        if not response.context["page"].has_next():
            break
        page += 1
    assert seen == {rec.key(r) for r in data}


# --- P2, P3, P4: backups ------------------------------------------------------------------------

@given(data=datasets(max_size=30), empty=st.integers(0, 2))
def test_p2_backup_completeness(site, data, empty):
    """A full backup holds exactly the database's companies and records."""
    db = loaded(data)
    for n in range(empty):
        Company.objects.create(name=f"Empty {n}")
    made = BackupService().create_backup("full", output=site() / "b.json")
    with open(made["file_path"], "rb") as f:
        document = json.load(f)
    assert len(document["companies"]) == Company.objects.count() == len(db.companies())
    assert {c["name"] for c in document["companies"]} == set(db.companies())
    assert len(document["attendance_records"]) == AttendanceRecord.objects.count() == len(data)
    assert {rec.key(rec.normalise(r)) for r in document["attendance_records"]} == {rec.key(r) for r in data}


@given(data=datasets(max_size=30), backup_type=st.sampled_from(["full", "incremental"]),
       since_hours=st.integers(-2, 2))
def test_p3_backup_metadata_accuracy(site, data, backup_type, since_hours):
    """The metadata counts exactly what the file's data sections hold (a
    full or an incremental backup) and returns the same metadata."""
    loaded(data)
    since = timezone.now() + dt.timedelta(hours=since_hours) if backup_type == "incremental" else None
    made = BackupService().create_backup(backup_type, since, output=site() / "b.json")
    with open(made["file_path"], "rb") as f:
        document = json.load(f)
    meta = document["metadata"]
    assert meta["total_companies"] == len(document["companies"])
    assert meta["total_attendance_records"] == len(document["attendance_records"]) == made["record_count"]
    assert meta["backup_type"] == backup_type
    assert made["metadata"] == meta


@given(record=records(), copy_through=st.sampled_from(["dict", "file spelling", "model", "backup file"]))
def test_p4_checksum_consistency(site, record, copy_through):
    """A record's checksum is the same each time it is generated, whatever
    carried the unchanged record: a dict, the file's spelling, the
    database's model instance, a backup file's stored checksum."""
    service = BackupService()
    first = service._generate_checksum(record)
    assert service._generate_checksum(dict(record)) == first
    if copy_through == "file spelling":
        again = service._generate_checksum(service._serialize_record(record))
    elif copy_through == "model":
        loaded([record])
        again = service._generate_checksum(AttendanceRecord.objects.select_related("company").get())
    elif copy_through == "backup file":
        loaded([record])
        made = service.create_backup("full", output=site() / "b.json")
        with open(made["file_path"], "rb") as f:
            [line] = json.load(f)["attendance_records"]
        assert service._generate_checksum(line) == line["checksum"]
        again = line["checksum"]
    else:
        again = service._generate_checksum({**record, "created_at": "2020-01-01T00:00:00Z", "checksum": "x"})
    assert again == first


# --- P5 to P11: restores ------------------------------------------------------------------------

@given(data=datasets(min_size=1, max_size=20), pick=st.data())
def test_p5_duplicate_prevention(site, data, pick):
    """Restoring records the database already holds, identical, skips
    them all and duplicates none."""
    db = loaded(data)
    before = content(db)
    subset = pick.draw(st.lists(st.sampled_from(data), unique_by=rec.key, min_size=1))
    outcome = RestoreService().restore_backup(backup_file(subset, site()))
    assert outcome["success"], outcome
    assert (outcome["added"], outcome["updated"], outcome["skipped"]) == (0, 0, len(subset))
    assert AttendanceRecord.objects.count() == len(data)
    assert content(db) == before


@given(data=datasets(max_size=15), new=datasets(min_size=1, max_size=15),
       strategy=st.sampled_from(STRATEGIES))
def test_p6_new_record_insertion(site, data, new, strategy):
    """Every record whose key the database lacks is inserted, whatever the
    strategy."""
    db = loaded(data)
    have = {rec.key(r) for r in data}
    fresh = [r for r in new if rec.key(r) not in have] or [changed(new[0], "ep_no", "NEW-EMPLOYEE")]
    outcome = RestoreService().restore_backup(backup_file(fresh, site()), merge_strategy=strategy)
    assert outcome["success"], outcome
    assert outcome["added"] == len(fresh)
    after = content(db)
    assert all(after[rec.key(r)] == r for r in fresh)
    assert len(after) == len(data) + len(fresh)


@given(data=datasets(min_size=1, max_size=20), pick=st.data())
def test_p7_record_update_detection(site, data, pick):
    """A record matching a database record by key with different values
    replaces it (backup_wins, the default); the rest stay."""
    db = loaded(data)
    targets = pick.draw(st.lists(st.sampled_from(data), unique_by=rec.key, min_size=1))
    modified = [pick.draw(differing(r)) for r in targets]
    outcome = RestoreService().restore_backup(backup_file(modified, site()))
    assert outcome["success"], outcome
    assert (outcome["added"], outcome["updated"], outcome["skipped"]) == (0, len(modified), 0)
    after = content(db)
    assert all(after[rec.key(r)] == r for r in modified)
    untouched = {rec.key(r) for r in data} - {rec.key(r) for r in modified}
    assert all(after[k] == r for r in data if (k := rec.key(r)) in untouched)
    assert len(after) == len(data)


@given(db_data=datasets(max_size=15), file_data=datasets(max_size=15), strategy=st.sampled_from(STRATEGIES))
def test_p8_restore_summary_accuracy(site, db_data, file_data, strategy):
    """added + updated + skipped is the number of records in the file, in
    the result and in the BackupLog row, under every strategy."""
    loaded(db_data)
    outcome = RestoreService().restore_backup(backup_file(file_data, site()), merge_strategy=strategy)
    assert outcome["success"], outcome
    assert outcome["added"] + outcome["updated"] + outcome["skipped"] == len(file_data)
    log = BackupLog.objects.get(operation="restore")
    assert log.records_added + log.records_updated + log.records_skipped == len(file_data) == log.records_count
    assert (log.records_added, log.records_updated, log.records_skipped) == (
        outcome["added"], outcome["updated"], outcome["skipped"])


@given(a=records(), b=records(), same_key=st.booleans())
def test_p9_unique_key_consistency(site, a, b, same_key):
    """Two records with the same (ep_no, company_name, date) are the same
    record for merging: one row after restoring the second over the
    first, the backup's values in it; with different keys, two rows."""
    if same_key:
        b = rec.normalise({**b, "ep_no": a["ep_no"], "company": a["company"], "date": a["date"]})
    same = rec.key(a) == rec.key(b)
    assert (RestoreService()._get_unique_key(a) == RestoreService()._get_unique_key(b)) == same
    db = loaded([a])
    outcome = RestoreService().restore_backup(backup_file([b], site()))
    assert outcome["success"], outcome
    after = content(db)
    assert len(after) == (1 if same else 2)
    assert after[rec.key(b)] == b
    if same:
        assert ConflictResolver().apply_merge_strategy(b, a, "backup_wins") == b
        assert ConflictResolver().detect_conflicts(b, a) == (a != b)
        assert outcome["added"] == 0


@given(a=records(), b=records(), same_content=st.booleans())
def test_p10_checksum_based_change_detection(site, a, b, same_content):
    """Two records with the same key: their checksums differ exactly when
    their data differ, and a restore's preview counts the backup's record
    as an update exactly then."""
    b = dict(a) if same_content else rec.normalise({**b, "ep_no": a["ep_no"], "company": a["company"],
                                                    "date": a["date"]})
    service = BackupService()
    differ = service._generate_checksum(a) != service._generate_checksum(b)
    assert differ == (a != b) == ConflictResolver()._records_differ(a, b)
    loaded([a])
    preview = RestoreService().preview_changes(backup_file([b], site()))
    assert (preview["to_update"], preview["to_skip"]) == ((1, 0) if differ else (0, 1))


@given(data=datasets(max_size=10),
       new=st.lists(records(company=NEW_COMPANIES), min_size=1, max_size=10, unique_by=rec.key),
       strategy=st.sampled_from(STRATEGIES))
def test_p11_referential_integrity_preservation(site, data, new, strategy):
    """A record whose company the database lacks gets its company created
    first, and lands in it."""
    db = loaded(data)
    known = set(Company.objects.values_list("name", flat=True))
    outcome = RestoreService().restore_backup(backup_file(new, site()), merge_strategy=strategy)
    assert outcome["success"], outcome
    assert set(Company.objects.values_list("name", flat=True)) == known | {r["company"] for r in new}
    for r in new:
        row = AttendanceRecord.objects.select_related("company").get(
            ep_no=r["ep_no"], company__name=r["company"], date=r["date"])
        assert row.company.name == r["company"]
    assert all(content(db)[rec.key(r)] == r for r in new)


# --- P12: incremental backups -------------------------------------------------------------------

T0 = dt.datetime(2025, 11, 1, tzinfo=dt.timezone.utc)
MOMENTS = st.integers(-3, 3).map(lambda hours: T0 + dt.timedelta(hours=hours))


@given(data=datasets(min_size=1, max_size=20), stamps=st.data(), since=MOMENTS)
def test_p12_incremental_backup_filtering(site, data, stamps, since):
    """Every record of an incremental backup was updated at or after
    since_date, and none so updated is left out."""
    loaded(data)
    updated = {}
    for row in AttendanceRecord.objects.select_related("company"):
        moment = stamps.draw(MOMENTS)
        AttendanceRecord.objects.filter(pk=row.pk).update(updated_at=moment)
        updated[(row.ep_no, row.company.name, row.date.isoformat())] = moment
    made = BackupService().create_backup("incremental", since_date=since, output=site() / "i.json")
    with open(made["file_path"], "rb") as f:
        got = {rec.key(rec.normalise(r)) for r in json.load(f)["attendance_records"]}
    assert all(updated[k] >= since for k in got)
    assert got == {k for k, moment in updated.items() if moment >= since}


# --- P13, P14, P15 ------------------------------------------------------------------------------

@given(data=datasets(max_size=15), file_data=datasets(max_size=15), pick=st.data())
def test_p13_transaction_atomicity(site, data, file_data, pick):
    """A restore that fails part way (after any number of written records)
    leaves the database exactly as it was; the same restore without the
    failure changes it."""
    db = loaded(data)
    before, have = content(db), {rec.key(r) for r in data}
    file_data = file_data + [rec.normalise({"ep_no": "NEW-EMPLOYEE", "company": "A", "date": "2024-01-01",
                                            "status": "P"})]  # at least one write
    writes = sum(1 for r in file_data if rec.key(r) not in have or before[rec.key(r)] != r)
    fail_at = pick.draw(st.integers(1, writes), label="fail after this many written records")
    path = backup_file(file_data, site())

    def progress(done, _total):
        if done >= fail_at:
            raise RuntimeError("failure injected during restore")

    with pytest.raises(RuntimeError):
        RestoreService().restore_backup(path, progress_callback=progress)
    assert content(db) == before
    assert RestoreService().restore_backup(path)["success"]
    assert content(db) != before


FIELDS_OF_A_FILE = ("metadata", "companies", "attendance_records")


@st.composite
def broken_documents(draw):
    """A backup document with a required section missing, of the wrong
    type, or not JSON at all; and what the database must keep."""
    good = {"metadata": {"version": "1.0", "created_at": "2025-11-25T10:30:00Z", "backup_type": "full",
                         "total_companies": 1, "total_attendance_records": 1, "created_by": "root"},
            "companies": [{"id": 1, "name": "ABC Corp", "created_at": None}],
            "attendance_records": [{"ep_no": draw(EP_NOS), "ep_name": "", "company_name": "ABC Corp",
                                    "date": "2025-11-20", "shift": "", "status": "P", "in_time": None,
                                    "out_time": None, "overstay": ""}]}
    how = draw(st.sampled_from(["drop", "wrong type", "not json", "not an object"]))
    if how == "not json":
        text = json.dumps(good)
        return text[:draw(st.integers(0, len(text) - 1))].encode()
    if how == "not an object":
        return json.dumps(draw(st.sampled_from([[], "backup", 1, None, [good]]))).encode()
    section = draw(st.sampled_from(FIELDS_OF_A_FILE))
    if how == "drop":
        del good[section]
    else:
        good[section] = draw(st.sampled_from([None, 1, "text", True] + ([[]] if section == "metadata" else [{}])))
    return json.dumps(good).encode()


@given(data=datasets(max_size=10), document=broken_documents())
def test_p14_backup_file_validation(site, data, document):
    """A file without the required sections (metadata, companies,
    attendance_records) of the right types is rejected by validation, with
    a message, and a restore of it changes nothing."""
    db = loaded(data)
    before = content(db)
    path = site() / "upload.json"
    path.write_bytes(document)
    checked = RestoreService().validate_backup(path)
    assert not checked["valid"] and checked["errors"]
    outcome = RestoreService().restore_backup(path)
    assert not outcome["success"] and outcome["errors"]
    assert content(db) == before


@given(data=datasets(max_size=20), empty=st.integers(0, 2))
def test_p15_backup_round_trip_consistency(site, data, empty):
    """Back up, restore into an empty database: the same companies and
    records again (timestamps aside)."""
    db = loaded(data)
    for n in range(empty):
        Company.objects.create(name=f"Empty {n}")
    original, companies = content(db), set(db.companies())
    folder = site()
    made = BackupService().create_backup("full", output=folder / "b.json")
    assert made["success"] and RestoreService().validate_backup(made["file_path"])["valid"]
    db = reset()
    assert RestoreService().restore_backup(made["file_path"])["success"]
    assert content(db) == original
    assert set(db.companies()) == companies
