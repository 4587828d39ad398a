"""One writer of backup files for every entry point (issue 8.2, 12.7):
mode 0600, nothing partial left behind, free space checked first, one rule
for ``--since``, the company's database id in the file and its created_at
kept by a restore into an empty database."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest
from dj_helpers import attgit, reset_db
from django.core.management import CommandError, call_command
from django.utils import timezone

from attgit import fsutil
from attgit.errors import DatabaseError, ExitCode, NoSpace
from attgit.format import records as rec
from attgit.format.backup import read_backup
from attgit.ops.export import parse_since
from django_adapter.models import AttendanceRecord, BackupLog, Company
from django_adapter.services import BackupService, RestoreService

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def data(wc, settings, tmp_path):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    reset_db()
    wc.bulk_load([rec.normalise({"ep_no": f"E{i}", "company": c, "date": "2025-01-02", "status": "P"})
                  for c in ("A Corp", "B Corp") for i in range(5)])
    return wc


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(folder) -> list:
    return sorted(p.name for p in folder.iterdir())


def web_backup(settings, tmp_path):
    from django_adapter.web.backup import write_file

    path = tmp_path / "web.json"
    write_file(path, "full", None, "root", lambda done, total: None)
    return path


ENTRY_POINTS = {
    "attgit export": lambda settings, tmp_path: (attgit("export", str(tmp_path / "cli.json")),
                                                 tmp_path / "cli.json")[1],
    "backup_data": lambda settings, tmp_path: (call_command("backup_data", "--output", str(tmp_path / "cmd.json")),
                                               tmp_path / "cmd.json")[1],
    "web backup page": web_backup,
    "BackupService": lambda settings, tmp_path: BackupService().create_backup(
        "full", output=tmp_path / "svc.json")["file_path"],
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_every_entry_point_writes_a_private_complete_file(data, settings, tmp_path, entry):
    os.umask(0o022)  # a permissive umask must not leak into the file
    path = ENTRY_POINTS[entry](settings, tmp_path)
    assert mode(path) == 0o600
    with read_backup(path) as backup:
        assert backup.total_records == 10
    assert not [n for n in leftovers(tmp_path) if n.endswith(".partial")]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_full_disk_is_refused_first_and_leaves_nothing(data, settings, tmp_path, monkeypatch, entry):
    monkeypatch.setattr(fsutil, "free_bytes", lambda folder: 1 << 20)  # 1 MB free: below the margin
    before = leftovers(tmp_path)
    if entry == "attgit export":
        output = attgit("export", str(tmp_path / "cli.json"), code=ExitCode.NO_SPACE)
        assert "not enough free disk space" in output
    elif entry == "backup_data":
        with pytest.raises(CommandError, match="not enough free disk space"):
            call_command("backup_data", "--output", str(tmp_path / "cmd.json"))
    elif entry == "BackupService":
        made = BackupService().create_backup("full", output=tmp_path / "svc.json")
        assert not made["success"] and "not enough free disk space" in made["error"]
    else:
        with pytest.raises(NoSpace):
            web_backup(settings, tmp_path)
    assert leftovers(tmp_path) == before


def test_a_failure_half_way_leaves_no_partial_file(data, tmp_path, monkeypatch):
    from attgit.format import backup as backup_format

    real = backup_format.write_backup

    def broken(out, companies, records, **kw):
        real(out, companies, records, **kw)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup_format, "write_backup", broken)
    before = leftovers(tmp_path)
    attgit("export", str(tmp_path / "x.json"), code=ExitCode.ERROR)
    assert leftovers(tmp_path) == before


def test_export_into_a_missing_folder_is_not_found(data, tmp_path):
    output = attgit("export", str(tmp_path / "nowhere" / "x.json"), code=ExitCode.NOT_FOUND)
    assert "does not exist" in output


def test_a_commit_is_refused_when_the_disk_is_full(data, tmp_path, monkeypatch):
    attgit("init")
    monkeypatch.setattr(fsutil, "free_bytes", lambda folder: 1 << 20)
    output = attgit("commit", "-m", "first", code=ExitCode.NO_SPACE)
    assert "not enough free disk space" in output
    monkeypatch.undo()
    assert "nothing to commit" not in attgit("commit", "-m", "first")


# --- --since: one rule -------------------------------------------------------------------

def test_since_means_the_same_for_export_and_backup_data(data, settings, tmp_path, request):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30
    timezone.activate(timezone.get_default_timezone())
    request.addfinalizer(timezone.deactivate)  # the active zone is per thread: leave none behind
    midnight_local = dt.datetime(2025, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    rows = list(AttendanceRecord.objects.order_by("id"))
    # one record just before local midnight, one just after; in UTC both are on 31 October
    AttendanceRecord.objects.filter(pk=rows[0].pk).update(updated_at=midnight_local - dt.timedelta(minutes=1))
    AttendanceRecord.objects.filter(pk=rows[1].pk).update(updated_at=midnight_local + dt.timedelta(minutes=1))
    AttendanceRecord.objects.exclude(pk__in=[rows[0].pk, rows[1].pk]).update(
        updated_at=midnight_local - dt.timedelta(days=3))
    attgit("export", "--type", "incremental", "--since", "2025-11-01", str(tmp_path / "cli.json"))
    call_command("backup_data", "--type", "incremental", "--since", "2025-11-01", "--output",
                 str(tmp_path / "cmd.json"))
    keys = [{r["ep_no"] for r in json.loads((tmp_path / name).read_bytes())["attendance_records"]}
            for name in ("cli.json", "cmd.json")]
    assert keys[0] == keys[1] == {rows[1].ep_no}


def test_the_since_rule():
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert parse_since("2025-11-01", kolkata) == dt.datetime(2025, 11, 1, tzinfo=kolkata)
    assert parse_since("2025-11-01T08:00:00Z", kolkata) == dt.datetime(2025, 11, 1, 8, tzinfo=dt.timezone.utc)
    assert parse_since("2025-11-01T08:00", kolkata) == dt.datetime(2025, 11, 1, 8, tzinfo=kolkata)
    assert parse_since("2025-11-01").tzinfo == dt.timezone.utc  # no site: UTC


@pytest.mark.parametrize("command", [["attgit", "export", "--help"], ["backup_data", "--help"]])
def test_both_commands_document_the_since_rule(command, capsys):
    if command[0] == "attgit":
        output = attgit(*command[1:])
    else:
        with pytest.raises(SystemExit):
            call_command(*command)
        output = capsys.readouterr().out
    assert "TIME_ZONE" in " ".join(output.split())


# --- companies: id and created_at --------------------------------------------------------

def test_company_id_is_the_database_id_and_created_at_survives_a_restore(data, settings, tmp_path):
    created = {"A Corp": dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc),
               "B Corp": dt.datetime(2022, 8, 9, 10, 11, 12, tzinfo=dt.timezone.utc)}
    for name, moment in created.items():
        Company.objects.filter(name=name).update(created_at=moment)
    Company.objects.create(name="Empty Corp")
    ids = dict(Company.objects.values_list("name", "id"))
    path = tmp_path / "full.json"
    call_command("backup_data", "--output", str(path))
    listed = {c["name"]: c for c in json.loads(path.read_bytes())["companies"]}
    assert {n: c["id"] for n, c in listed.items()} == ids
    reset_db()
    outcome = RestoreService().restore_backup(path)
    assert outcome["success"], outcome
    assert dict(Company.objects.filter(name__in=created).values_list("name", "created_at")) == created
    assert Company.objects.filter(name="Empty Corp").exists()


def test_a_database_error_during_restore_uses_the_documents_message(data, tmp_path, monkeypatch):
    from django_adapter import bulk

    path = tmp_path / "full.json"
    call_command("backup_data", "--output", str(path))
    AttendanceRecord.objects.all().delete()

    def failing(self, company_id, records):
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(bulk.RecordWriter, "insert", failing)
    outcome = RestoreService().restore_backup(path)
    assert not outcome["success"]
    assert outcome["errors"][0].startswith("Database error occurred during restore: ")
    assert AttendanceRecord.objects.count() == 0
    log = BackupLog.objects.filter(operation="restore").latest("created_at")
    assert not log.success and log.error_message.startswith("Database error occurred during restore")
