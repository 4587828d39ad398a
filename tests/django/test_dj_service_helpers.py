"""BackupService's helpers the design document names: _generate_checksum,
_serialize_record and _create_metadata, held to what create_backup writes."""

from __future__ import annotations

import json

import pytest
from dj_helpers import reset_db

from attgit.errors import UsageError
from attgit.format import records as rec
from django_adapter.models import AttendanceRecord, Company, User
from django_adapter.services import BackupService

pytestmark = pytest.mark.django_db

RECORD = rec.normalise({"ep_no": "EMP001", "ep_name": "John Doe", "company": "ABC Corp", "date": "2025-11-20",
                        "shift": "Day", "status": "P", "in_time": "09:00", "out_time": "17:00", "overstay": "0"})


@pytest.fixture
def written(wc, tmp_path):
    """The database holding RECORD (and an empty company), and the full
    backup create_backup wrote of it."""
    reset_db()
    wc.bulk_load([RECORD])
    Company.objects.create(name="Empty Co")
    made = BackupService().create_backup("full", output=tmp_path / "b.json")
    with open(made["file_path"], "rb") as f:
        return json.load(f)


def instance() -> AttendanceRecord:
    return AttendanceRecord.objects.select_related("company").get()


def test_generate_checksum_is_the_files_checksum_of_the_model_instance(written):
    [line] = written["attendance_records"]
    service = BackupService()
    assert service._generate_checksum(instance()) == line["checksum"] == rec.checksum(RECORD)
    assert service._generate_checksum(line) == line["checksum"]  # the file's own spelling


def test_generate_checksum_ignores_timestamps_and_changes_with_the_data():
    service = BackupService()
    base = service._generate_checksum(RECORD)
    assert service._generate_checksum({**RECORD, "created_at": "2020-01-01T00:00:00Z",
                                       "updated_at": "2021-01-01T00:00:00Z"}) == base
    assert service._generate_checksum({**RECORD, "status": "A"}) != base
    assert len(base) == 64 and int(base, 16) >= 0


def test_serialize_record_is_the_files_line(written):
    [line] = written["attendance_records"]
    service = BackupService()
    assert service._serialize_record(instance()) == line
    assert service._serialize_record(RECORD) == line
    assert list(line) == ["ep_no", "ep_name", "company_name", "date", "shift", "status", "in_time",
                          "out_time", "overstay", "checksum"]


def test_serialize_record_refuses_an_invalid_record():
    with pytest.raises(Exception, match="status"):
        BackupService()._serialize_record({**RECORD, "status": "nonsense"})


def test_create_metadata_is_what_create_backup_writes(written):
    root = User.objects.create_user("root", role=User.ROOT)
    made = BackupService(user=root)._create_metadata(1)
    expected = {**written["metadata"], "created_by": "root"}
    assert {k: v for k, v in made.items() if k != "created_at"} == {
        k: v for k, v in expected.items() if k != "created_at"}
    assert made["total_companies"] == Company.objects.count() == 2
    assert made["created_at"].endswith("Z")


def test_create_metadata_of_an_incremental_backup_names_since(written):
    made = BackupService()._create_metadata(0, "incremental", since="2025-11-01", companies_count=5)
    assert (made["backup_type"], made["total_companies"], made["total_attendance_records"]) == (
        "incremental", 5, 0)
    assert made["since"].startswith("2025-1")


def test_create_metadata_refuses_an_unknown_backup_type(written):
    with pytest.raises(UsageError, match="weekly"):
        BackupService()._create_metadata(1, "weekly")
