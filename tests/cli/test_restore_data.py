"""`manage.py backup_data` / `restore_data` (the design document's
commands) on the example site's database."""

from __future__ import annotations

import orjson
import pytest
from django.core.management import CommandError, call_command

from django_adapter.models import AttendanceRecord, BackupLog, Company

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(tmp_path, settings):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    call_command("seed_demo", records=120, companies=2, seed=3)
    backup = tmp_path / "backup.json"
    call_command("backup_data", "--type", "full", "--output", str(backup))
    return backup


def rows():
    return sorted(AttendanceRecord.objects.values_list("ep_no", "company__name", "date", "status"))


def test_preview_writes_nothing_then_backup_wins_restores(site, capsys):
    before = rows()
    first = AttendanceRecord.objects.order_by("id").first()
    first.status = "A" if first.status != "A" else "P"
    first.save()
    AttendanceRecord.objects.order_by("-id")[0].delete()
    edited = rows()
    call_command("restore_data", "--input", str(site), "--preview")
    out = capsys.readouterr().out
    assert "would add 1, update 1, skip 118" in out and rows() == edited
    call_command("restore_data", "--input", str(site), "--strategy", "backup_wins")
    assert rows() == before
    log = BackupLog.objects.filter(operation="restore").latest("created_at")
    assert (log.records_added, log.records_updated, log.records_skipped, log.records_count) == (1, 1, 118, 120)


def test_database_wins_keeps_the_database_and_counts_add_up(site, capsys):
    first = AttendanceRecord.objects.order_by("id").first()
    first.status = "A" if first.status != "A" else "P"
    first.save()
    edited = rows()
    call_command("restore_data", "--input", str(site), "--strategy", "database_wins")
    assert rows() == edited
    out = capsys.readouterr().out
    assert "added 0, updated 0, skipped 120" in out


def test_new_company_is_created_and_selective_restore(site, tmp_path):
    data = orjson.loads(site.read_bytes())
    AttendanceRecord.objects.all().delete()
    Company.objects.all().delete()
    some = data["companies"][0]["name"]
    call_command("restore_data", "--input", str(site), "--company", some)
    assert set(AttendanceRecord.objects.values_list("company__name", flat=True)) == {some}
    call_command("restore_data", "--input", str(site))
    assert AttendanceRecord.objects.count() == 120 and Company.objects.count() == 2


@pytest.mark.parametrize("content, message", [
    (b"not json", "not valid JSON"),
    (b'{"companies": [], "attendance_records": []}', "missing required metadata"),
    (b"[1, 2, 3]", "structure does not match"),
])
def test_hostile_file_is_rejected_and_nothing_changes(site, tmp_path, content, message):
    before = rows()
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("restore_data", "--input", str(bad))
    assert rows() == before


def test_tampered_checksum_names_the_record(site, tmp_path):
    data = orjson.loads(site.read_bytes())
    data["attendance_records"][5]["status"] = "L" if data["attendance_records"][5]["status"] != "L" else "A"
    bad = tmp_path / "tampered.json"
    bad.write_bytes(orjson.dumps(data))
    before = rows()
    with pytest.raises(CommandError, match="record 6"):
        call_command("restore_data", "--input", str(bad))
    assert rows() == before


def test_the_restorer_is_in_the_audit_log(site):
    from django_adapter.models import User

    User.objects.create_user("alice", role="root")
    call_command("restore_data", "--input", str(site), "--user", "alice")
    assert BackupLog.objects.filter(operation="restore").latest("created_at").user.username == "alice"
