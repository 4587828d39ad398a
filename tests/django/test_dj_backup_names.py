"""Backup files never overwrite each other (issue 17 part 2): default names
are unique (time to the microsecond, a random part, created with O_EXCL),
an explicit output that exists is refused unless --force, and an output
in a missing folder is "not found" (no folder is made)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from attgit.format import records as rec
from django_adapter import backups
from django_adapter.models import AttendanceRecord, BackupLog
from django_adapter.services import BackupService

pytestmark = pytest.mark.django_db(transaction=True)

MOMENT = dt.datetime(2026, 12, 7, 16, 0, 0, 123456, tzinfo=dt.timezone.utc)


@pytest.fixture
def site(wc, settings, tmp_path):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    settings.ATTGIT_BACKUP_DIR = str(tmp_path / "backups")
    wc.bulk_load([rec.normalise({"ep_no": f"E{i}", "company": "A Corp", "date": "2025-01-02", "status": "P"})
                  for i in range(3)])
    return tmp_path


# --- the folder without ATTGIT_BACKUP_DIR ---------------------------------------------

@pytest.mark.parametrize("unset", ["absent", "empty"])
def test_without_a_backup_dir_backups_go_beside_the_repository(settings, tmp_path, unset):
    from django_adapter.web.jobs import job_dir
    from django_adapter.web.uploads import upload_dir

    settings.ATTGIT_REPO = str(tmp_path / "site" / "attendance.git")
    for name in ("ATTGIT_BACKUP_DIR", "ATTGIT_UPLOAD_DIR", "ATTGIT_JOB_DIR"):
        if unset == "absent":
            delattr(settings, name)
        else:
            setattr(settings, name, "")
    folder = backups.backup_folder()
    assert folder == tmp_path / "site" / "attgit-files" / "backups" and folder.is_dir()
    assert upload_dir() == folder.parent / "uploads" and job_dir() == folder.parent / "jobs"


def test_without_a_backup_dir_or_a_repository_the_folder_is_under_the_current_one(settings, tmp_path,
                                                                                   monkeypatch):
    del settings.ATTGIT_BACKUP_DIR
    settings.ATTGIT_REPO = None
    monkeypatch.chdir(tmp_path)
    assert backups.backup_folder() == tmp_path / "attgit-files" / "backups"
    assert (tmp_path / "attgit-files" / "backups").is_dir()


def test_fifty_backups_in_the_same_microsecond_make_fifty_files_matching_their_log(site, monkeypatch):
    """The clock stands still and the random part repeats each value once:
    every backup after the first meets a taken name, and O_EXCL sends it on."""
    monkeypatch.setattr(timezone, "now", lambda: MOMENT)
    draws = itertools.count()
    monkeypatch.setattr(backups, "_random_part", lambda: f"{next(draws) // 2:06x}")
    first = AttendanceRecord.objects.order_by("id").first()
    for i in range(50):
        AttendanceRecord.objects.filter(pk=first.pk).update(ep_name=f"Name {i}")
        if i % 2:
            call_command("backup_data", stdout=io.StringIO())
        else:
            assert BackupService().create_backup("full")["success"]
    files = sorted((site / "backups").iterdir())
    assert len(files) == 50 and len({f.name for f in files}) == 50
    assert all(f.name.startswith("backup_full_20261207T160000.123456Z_") for f in files)
    assert next(draws) > 50 * 2 - 2  # the collisions happened and were stepped over
    logs = list(BackupLog.objects.filter(operation="backup_full", success=True).order_by("id"))
    assert len(logs) == 50 and len({log.filename for log in logs}) == 50
    for i, log in enumerate(logs):
        document = json.loads(open(log.filename, "rb").read())
        names = {r["ep_name"] for r in document["attendance_records"] if r["ep_no"] == first.ep_no}
        assert names == {f"Name {i}"}, log.filename
        assert log.records_count == len(document["attendance_records"]) == 3


def test_an_existing_output_is_refused_unless_forced(site):
    target = site / "mine.json"
    target.write_text("keep me")
    with pytest.raises(CommandError, match="already exists: choose another name, or pass --force"):
        call_command("backup_data", "--output", str(target), stdout=io.StringIO())
    assert target.read_text() == "keep me"
    refused = BackupService().create_backup("full", output=target)
    assert not refused["success"] and "already exists" in refused["error"]
    assert target.read_text() == "keep me"
    assert not BackupLog.objects.filter(success=True).exists()
    assert BackupLog.objects.filter(success=False).count() == 2  # a refusal is logged too

    call_command("backup_data", "--output", str(target), "--force", stdout=io.StringIO())
    assert len(json.loads(target.read_bytes())["attendance_records"]) == 3
    forced = BackupService().create_backup("full", output=target, force=True)
    assert forced["success"] and forced["file_path"] == str(target)


def test_an_output_in_a_missing_folder_is_not_found_and_makes_no_folder(site):
    missing = site / "no" / "such" / "folder" / "b.json"
    made = BackupService().create_backup("full", output=missing)
    assert not made["success"] and "was not found" in made["error"] and str(missing.parent) in made["error"]
    with pytest.raises(CommandError, match="was not found"):
        call_command("backup_data", "--output", str(missing), stdout=io.StringIO())
    assert not (site / "no").exists()


def test_a_failed_default_backup_leaves_no_empty_claim(site, monkeypatch):
    import attgit.format.backup as backup_format

    def broken(out, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup_format, "write_backup", broken)
    assert not BackupService().create_backup("full")["success"]
    assert list((site / "backups").iterdir()) == []
