"""backup_data: Property 2 (a full backup holds exactly the database's
companies and records), Property 3 (its metadata counts what it holds) and
Property 12 (an incremental backup holds exactly the records updated since)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from dj_helpers import keys, reset_db
from django.core.management import CommandError, call_command
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from strategies import datasets

from attgit.format import records as rec
from django_adapter.models import AttendanceRecord, BackupLog, Company, User

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 11, 1, tzinfo=dt.timezone.utc)
MOMENTS = st.integers(-3, 3).map(lambda hours: T0 + dt.timedelta(hours=hours))


def backup(path, *args) -> dict:
    """backup_data into ``path`` (--force: each Hypothesis example writes the same file again)."""
    call_command("backup_data", "--output", str(path), "--force", *args, stdout=None)
    with open(path, "rb") as f:
        return json.load(f)


def file_keys(document) -> set:
    return {(r["ep_no"], r["company_name"], r["date"]) for r in document["attendance_records"]}


@given(dataset=datasets(max_size=25), empty_companies=st.integers(0, 2))
def test_full_backup_holds_the_database_and_counts_it(wc, tmp_path, dataset, empty_companies):
    reset_db()
    wc.bulk_load(dataset)
    for n in range(empty_companies):
        Company.objects.create(name=f"Empty {n}")

    document = backup(tmp_path / "full.json", "--type", "full")
    meta = document["metadata"]
    # Property 2: exactly the database's companies and records.
    assert meta["total_companies"] == Company.objects.count() == len(document["companies"])
    assert meta["total_attendance_records"] == AttendanceRecord.objects.count()
    assert {c["name"] for c in document["companies"]} == set(wc.companies())
    assert file_keys(document) == keys(dataset)
    # Property 3: the metadata counts what the file holds.
    assert meta["total_attendance_records"] == len(document["attendance_records"])
    assert meta["backup_type"] == "full"
    by_key = {rec.key(r): r for r in dataset}
    for line in document["attendance_records"]:
        record = rec.normalise(line)
        assert record == by_key[rec.key(record)]
        assert line["checksum"] == rec.checksum(record)


@given(dataset=datasets(min_size=1, max_size=25), stamps=st.data(), since=MOMENTS)
def test_incremental_backup_holds_exactly_the_records_updated_since(wc, tmp_path, dataset,
                                                                     stamps, since):
    reset_db()
    wc.bulk_load(dataset)
    updated = {}
    for row in AttendanceRecord.objects.select_related("company"):
        moment = stamps.draw(MOMENTS)
        AttendanceRecord.objects.filter(pk=row.pk).update(updated_at=moment)
        updated[(row.ep_no, row.company.name, row.date.isoformat())] = moment

    document = backup(tmp_path / "inc.json", "--type", "incremental", "--since", since.isoformat())
    got = file_keys(document)
    # Property 12: every record in the file was updated on or after since...
    assert all(updated[k] >= since for k in got)
    # ...and none updated since is missing; every company is listed.
    assert got == {k for k, moment in updated.items() if moment >= since}
    assert document["metadata"]["total_attendance_records"] == len(got)
    assert document["metadata"]["total_companies"] == Company.objects.count()
    assert document["metadata"]["backup_type"] == "incremental"


def test_since_may_be_a_date_in_the_site_time_zone(wc, tmp_path):
    wc.bulk_load([rec.normalise({"ep_no": e, "company": "A", "date": "2025-01-01",
                                 "status": "P"}) for e in ("old", "new")])
    AttendanceRecord.objects.filter(ep_no="old").update(updated_at=T0 - dt.timedelta(seconds=1))
    AttendanceRecord.objects.filter(ep_no="new").update(updated_at=T0)
    document = backup(tmp_path / "inc.json", "--type", "incremental", "--since", "2025-11-01")
    assert file_keys(document) == {("new", "A", "2025-01-01")}


def test_each_backup_is_logged(wc, tmp_path):
    wc.bulk_load([rec.normalise({"ep_no": "E1", "company": "A", "date": "2025-01-01",
                                 "status": "P"})])
    User.objects.create_user("root", role=User.ROOT)
    backup(tmp_path / "full.json", "--user", "root")
    log = BackupLog.objects.get()
    assert (log.operation, log.success, log.companies_count, log.records_count) == (
        "backup_full", True, 1, 1)
    assert log.user.username == "root" and log.filename.endswith("full.json")
    assert backup(tmp_path / "full.json")["metadata"]["created_by"]


def test_default_output_is_a_timestamped_file_in_the_backup_dir(wc, tmp_path, settings):
    settings.ATTGIT_BACKUP_DIR = str(tmp_path / "backups")
    call_command("backup_data", stdout=None)
    [written] = (tmp_path / "backups").iterdir()
    assert written.name.startswith("backup_full_") and written.suffix == ".json"


@pytest.mark.parametrize("args,message", [
    (["--type", "incremental"], "needs --since"),
    (["--type", "incremental", "--since", "last tuesday"], "--since must be a date"),
    (["--since", "2025-01-01"], "--type incremental only"),
    (["--user", "ghost"], "no user 'ghost'"),
])
def test_bad_arguments_get_one_clear_line(tmp_path, args, message):
    with pytest.raises(CommandError, match=message) as info:
        call_command("backup_data", "--output", str(tmp_path / "x.json"), *args)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "x.json").exists()


def test_an_unwritable_output_is_a_clear_error_and_is_logged(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CommandError, match="cannot write the backup file"):
        call_command("backup_data", "--output", str(blocker / "x.json"))
    assert not BackupLog.objects.get().success


def test_a_failed_backup_leaves_no_partial_file_and_logs_the_error(wc, tmp_path, monkeypatch):
    import attgit.format.backup as backup_format

    wc.bulk_load([rec.normalise({"ep_no": "E1", "company": "A", "date": "2025-01-01",
                                 "status": "P"})])

    def broken(out, *args, **kwargs):
        out.write(b'{"metadata": ')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup_format, "write_backup", broken)
    with pytest.raises(CommandError, match="No space left"):
        call_command("backup_data", "--output", str(tmp_path / "x.json"))
    assert list(tmp_path.iterdir()) == []
    log = BackupLog.objects.get()
    assert not log.success and "No space left" in log.error_message


def test_naive_since_is_read_in_the_site_time_zone():
    from django_adapter.backups import parse_since

    assert parse_since("2025-11-01") == timezone.make_aware(dt.datetime(2025, 11, 1))
    assert parse_since("2025-11-01T10:00:00+05:30").utcoffset() == dt.timedelta(hours=5, minutes=30)
