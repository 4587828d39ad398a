"""No backup file of a half-merged database (issue 17 part 5): while a
manual merge waits, every export path -- ``manage.py backup_data``,
``attgit export``, BackupService and the web backup page -- refuses alike,
exit 7, with the same message, and writes nothing."""

from __future__ import annotations

import io

import pytest
from dj_helpers import attgit
from django.core.management import CommandError, call_command
from django.test import Client

from attgit.errors import ExitCode
from attgit.format import records as rec
from attgit.ops.mergestate import MergeState
from django_adapter.models import AttendanceRecord, BackupLog, Job, User
from django_adapter.repository import open_repository
from django_adapter.services import BackupService, RestoreService

pytestmark = pytest.mark.django_db(transaction=True)

SAID = "no backup was made: a merge of full.json is in progress (2 of 2 conflicts unresolved)"


@pytest.fixture
def merging(wc, settings, tmp_path):
    """A restore with "decide myself" left 2 conflicts waiting."""
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    settings.ATTGIT_BACKUP_DIR = str(tmp_path / "backups")
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    wc.bulk_load([rec.normalise({"ep_no": f"E{i}", "company": "A Corp", "date": "2025-01-02", "status": "P"})
                  for i in range(4)])
    path = tmp_path / "full.json"
    call_command("backup_data", "--output", str(path), stdout=io.StringIO())
    AttendanceRecord.objects.filter(ep_no__in=["E0", "E1"]).update(status="A")
    outcome = RestoreService().restore_backup(path, merge_strategy="manual")
    assert outcome["status"] == "conflicts" and MergeState.load(open_repository()) is not None
    BackupLog.objects.all().delete()
    return tmp_path


def nothing_written(site) -> None:
    backups = site / "backups"
    assert not backups.exists() or list(backups.iterdir()) == []
    assert not BackupLog.objects.filter(success=True).exists()


def test_backup_data_refuses_with_exit_7(merging):
    with pytest.raises(CommandError) as info:
        call_command("backup_data", stdout=io.StringIO())
    assert info.value.returncode == ExitCode.CONFLICTS == 7
    assert str(info.value).startswith(SAID)
    with pytest.raises(CommandError, match="no backup was made"):
        call_command("backup_data", "--output", str(merging / "x.json"), stdout=io.StringIO())
    assert not (merging / "x.json").exists()
    nothing_written(merging)
    assert BackupLog.objects.filter(success=False, error_message__startswith=SAID).count() == 2


def test_backup_service_and_attgit_export_say_the_same(merging):
    made = BackupService().create_backup("full")
    assert not made["success"] and made["error"].startswith(SAID)
    out = attgit("export", str(merging / "cli.json"), code=ExitCode.CONFLICTS)
    assert " ".join(out.split()) == f"attgit: error: {made['error']}"
    assert not (merging / "cli.json").exists()
    nothing_written(merging)


def test_the_web_backup_page_says_the_same(merging):
    client = Client()
    client.force_login(User.objects.create_user("root", password="pw", role="root"))
    response = client.post("/backup/", {"backup_type": "full"})
    said = " ".join(str(m) for m in response.context["messages"])
    assert response.status_code == 409 and said.startswith(SAID)
    made = BackupService().create_backup("full")
    assert made["error"] == said
    assert not Job.objects.filter(kind=Job.BACKUP).exists()
    nothing_written(merging)
