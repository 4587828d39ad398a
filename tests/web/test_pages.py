"""The pages end to end through Django's test client (jobs run inline):
backup, download, restore from a file and from a snapshot with its
preview, the history and its comparison, conflicts, locks."""

from __future__ import annotations

import datetime as dt
import io
import os
import socket
import time

import orjson
import pytest
from django.utils import timezone

from attgit.ops.mergestate import MergeState
from attgit.ops.reconcile import exclusive
from django_adapter.models import AttendanceRecord, BackupLog, Company, Job, Upload
from django_adapter.repository import open_repository
from django_adapter.workingcopy import connect

from .conftest import QUEUED_ONLY, backup_bytes, bulk_form, confirm_form, finished_job, messages_of, parse, seed

pytestmark = pytest.mark.django_db


def nth_record(n: int = 0) -> AttendanceRecord:
    """The n-th record in snapshot order (company, date, employee)."""
    return AttendanceRecord.objects.select_related("company").order_by("company__name", "date", "ep_no")[n]


first_record = nth_record


def edit(record: AttendanceRecord, **values) -> None:
    """Change a record the way an app would (updated_at moves)."""
    AttendanceRecord.objects.filter(pk=record.pk).update(updated_at=timezone.now(), **values)


def upload(client, content: bytes, name: str = "backup.json"):
    """Upload through the restore page; return the preview response."""
    response = client.post("/restore/", {"backup_file": _named(content, name)})
    assert response.status_code == 302, messages_of(response)
    return open_preview(client, response["Location"])


def open_preview(client, url: str):
    """A preview page: the page starts the preview job and shows its result."""
    response = client.get(url)
    assert response.status_code == 302 and "&job=" in response["Location"], response
    return client.get(response["Location"])


def _named(content: bytes, name: str):
    f = io.BytesIO(content)
    f.name = name
    return f


def counts(response) -> dict:
    return {k: v for k, v in response.context["counts"].items() if v is not None}


# --- backup -----------------------------------------------------------------------------------

def test_a_full_backup_makes_a_snapshot_a_file_and_a_log_entry(root_client, settings):
    seed(60)
    job = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    assert job.status == "done" and job.result["records"] == 60 and job.result["companies"] == 3
    repo = open_repository()
    assert job.result["commit"] == str(repo.head()) and job.result["new_commit"]
    assert repo.info(repo.head()).trailers["Created-By"] == "root"
    log = BackupLog.objects.get(operation="backup_full")
    assert (log.user.username, log.records_count, log.commit) == ("root", 60, job.result["commit"])
    with parse(open(f"{settings.ATTGIT_BACKUP_DIR}/{job.result['name']}", "rb").read()) as backup:
        assert backup.total_records == 60
    page = root_client.get(f"/jobs/{job.pk}/")
    assert page.status_code == 200 and f"/backup/download/{job.result['name']}/" in page.content.decode()
    listing = root_client.get("/backup/").content.decode()
    assert job.result["name"] in listing and "data-last-backup" in listing


def test_a_second_backup_of_unchanged_data_reuses_the_snapshot(root_client):
    seed(20)
    first = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    second = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    assert second.result["commit"] == first.result["commit"] and not second.result["new_commit"]
    assert first.result["name"] != second.result["name"]
    assert len(list(open_repository().log())) == 1


def test_an_incremental_backup_holds_the_records_changed_since(root_client):
    seed(30)
    AttendanceRecord.objects.update(updated_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    edit(first_record(), status="A")
    response = root_client.post("/backup/", {"backup_type": "incremental"})
    assert response.status_code == 400 and "needs the date" in response.content.decode()
    job = finished_job(root_client, root_client.post("/backup/", {"backup_type": "incremental",
                                                                   "since": "2024-06-01"}))
    assert job.status == "done" and job.result["records"] == 1 and job.result["type"] == "incremental"
    assert BackupLog.objects.filter(operation="backup_incremental", records_count=1).exists()


# --- restore a file -------------------------------------------------------------------------

def test_restore_preview_counts_and_highlights_then_apply(root_client):
    seed(60)
    content, _ = backup_bytes(root_client)
    changed, gone = first_record(), nth_record(1)
    edit(changed, status="A" if changed.status != "A" else "P", shift="Night")
    AttendanceRecord.objects.filter(pk=gone.pk).delete()
    preview = upload(root_client, content)
    assert preview.status_code == 200
    assert counts(preview) == {"add": 1, "update": 1, "skip": 58, "conflicts": 1, "delete": 0, "total": 60}
    html = preview.content.decode()
    assert html.count("<del>") == 2 and '<del>Night</del>' in html  # the database's value goes
    rows = preview.context["rows"]
    assert [r["action"] for r in rows] == ["update", "add"]  # what differs first
    update = next(r for r in rows if r["action"] == "update")
    assert [c["changed"] for c in update["cells"]].count(True) == 2
    assert Upload.objects.count() == 1 and AttendanceRecord.objects.count() == 59  # nothing written yet

    upload_id = preview.context["upload"].pk
    ours = open_preview(root_client, f"/restore/preview/?upload={upload_id}&strategy=ours")
    assert counts(ours)["update"] == 0 and [r["action"] for r in ours.context["rows"]] == ["keep", "add"]
    assert ours.context["conflict_count"] == 1 and "database's values will be kept" in ours.content.decode()
    again = root_client.get(ours.request["PATH_INFO"] + "?" + ours.request["QUERY_STRING"])
    assert again.status_code == 200 and Job.objects.filter(kind="preview").count() == 2  # shown again, not redone

    job = finished_job(root_client, root_client.post("/restore/apply/", confirm_form(preview)))
    assert job.status == "done", job.error
    r = job.result
    assert (r["added"], r["updated"], r["skipped"], r["conflicts"], r["status"]) == (1, 1, 58, 1, "applied")
    assert AttendanceRecord.objects.count() == 60
    assert AttendanceRecord.objects.get(pk=changed.pk).shift == changed.shift
    summary = root_client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-result="added">1<' in summary and 'data-result="skipped">58<' in summary
    assert 'data-count="differ">1<' in preview.content.decode()  # the changed record, counted once
    log = BackupLog.objects.get(operation="restore")
    assert (log.user.username, log.records_added, log.records_updated, log.records_skipped) == ("root", 1, 1, 58)
    assert not Upload.objects.exists()  # cleaned up after the apply


def test_a_file_into_an_empty_database_creates_everything(root_client):
    seed(40, companies=4)
    content, _ = backup_bytes(root_client)
    AttendanceRecord.objects.all().delete()
    Company.objects.all().delete()
    preview = upload(root_client, content)
    assert counts(preview)["add"] == 40
    job = finished_job(root_client, root_client.post("/restore/apply/", confirm_form(preview)))
    assert job.result.get("added") == 40 and Company.objects.count() == 4, (job.status, job.error, job.result)


def test_applying_a_vanished_upload_is_404(root_client):
    assert root_client.post("/restore/apply/", {"upload": "a" * 32}).status_code == 404
    response = root_client.post("/restore/apply/", {"upload": "nope"})
    assert response.status_code == 400


# --- restore a snapshot ---------------------------------------------------------------------

def test_restore_a_snapshot_from_the_history(root_client):
    seed(30)
    first = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"})).result["commit"]
    record = first_record()
    edit(record, ep_name="Renamed")
    AttendanceRecord.objects.filter(pk=nth_record(2).pk).delete()
    history = root_client.get("/history/").content.decode()
    assert f"/restore/preview/?commit={first}" in history
    preview = open_preview(root_client, f"/restore/preview/?commit={first}")
    assert preview.status_code == 200
    assert counts(preview) == {"add": 1, "update": 1, "delete": 0, "conflicts": 0, "total": 2}
    assert "<del>Renamed</del>" in preview.content.decode()
    job = finished_job(root_client, root_client.post("/restore/apply/", confirm_form(preview)))
    assert job.status == "done" and (job.result["added"], job.result["updated"]) == (1, 1)
    assert AttendanceRecord.objects.count() == 30 and AttendanceRecord.objects.get(pk=record.pk).ep_name != "Renamed"
    repo = open_repository()
    assert repo.info(repo.head()).type == "checkout"
    assert BackupLog.objects.filter(operation="checkout", user__username="root").exists()


def test_an_unknown_snapshot_is_a_message_not_a_500(root_client):
    seed(5)
    finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    response = root_client.get("/restore/preview/?commit=deadbeef")
    assert response.status_code == 404 and "unknown commit" in " ".join(messages_of(response))
    response = root_client.get("/restore/preview/?commit=HEAD~1")
    assert response.status_code == 400


# --- history -----------------------------------------------------------------------------------

def test_history_lists_snapshots_with_a_chart_and_the_log(root_client):
    seed(30)
    finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    edit(first_record(), status="L")
    finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    response = root_client.get("/history/")
    html = response.content.decode()
    assert response.status_code == 200 and len(response.context["commits"]) == 2
    assert html.count('<circle class="dot"') == 2 and "<polyline" in html
    assert html.count("Full Backup") >= 2  # the BackupLog, beside the snapshots


def test_compare_highlights_the_changed_fields_per_company(root_client):
    seed(30)
    a = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"})).result["commit"]
    record = first_record()
    edit(record, overstay="9")
    b = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"})).result["commit"]
    response = root_client.get(f"/history/compare/?a={a}&b={b}")
    assert response.status_code == 200
    assert response.context["totals"] == {"added": 0, "removed": 0, "changed": 1}
    [company] = response.context["companies"]
    assert company.company == record.company.name
    assert '<td class="changed"><del>' in response.content.decode() and "<ins>9</ins>" in response.content.decode()
    assert root_client.get(f"/history/compare/?a={a}&b=../../x").status_code == 400
    assert root_client.get(f"/history/compare/?a={a}&b={'f' * 40}").status_code == 404


def test_compare_takes_any_revision_the_cli_takes(root_client):
    seed(30)
    a = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"})).result["commit"]
    edit(first_record(), overstay="9")
    b = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"})).result["commit"]
    for old, new in (("HEAD~1", "HEAD"), (a[:7], b[:7]), ("HEAD^", "main"), (a.upper()[:12], "HEAD")):
        response = root_client.get("/history/compare/", {"a": old, "b": new})
        assert response.status_code == 200, (old, new, response.status_code)
        assert (response.context["a"].id, response.context["b"].id) == (a, b)
        assert response.context["totals"]["changed"] == 1
    for bad in ("-x", "/etc/passwd", "HEAD..main", "a b"):
        assert root_client.get("/history/compare/", {"a": bad, "b": "HEAD"}).status_code == 400, bad
    assert root_client.get("/history/compare/", {"a": "HEAD~5", "b": "HEAD"}).status_code == 404


# --- conflicts --------------------------------------------------------------------------------

def _manual_restore(client, changes: int = 2):
    """A backup, then edits, then a restore with strategy manual: conflicts."""
    seed(30)
    content, _ = backup_bytes(client)
    records = [nth_record(i) for i in range(changes)]
    for r in records:
        edit(r, in_time="11:11", overstay="7")
    preview = upload(client, content)
    manual = open_preview(client, f"/restore/preview/?upload={preview.context['upload'].pk}&strategy=manual")
    job = finished_job(client, client.post("/restore/apply/", confirm_form(manual)))
    assert job.status == "done" and job.result["status"] == "conflicts" and job.result["pending"] == changes
    return records


def test_conflicts_resolved_per_record_and_per_field_then_concluded(root_client):
    first, second = _manual_restore(root_client)
    page = root_client.get("/conflicts/")
    assert page.status_code == 200 and page.context["pending_count"] == 2
    a, b = page.context["pending"]
    assert {f.name for f in a.fields if f.disputed} == {"in_time", "overstay"}
    response = root_client.post("/conflicts/resolve/", {"conflict": a.id, "side": "theirs"}, follow=True)
    assert "1 left" in " ".join(messages_of(response))
    response = root_client.post("/conflicts/resolve/", {
        "conflict": b.id, "side": "fields", "pick_in_time": "value", "value_in_time": "08:45",
        "pick_overstay": "ours"}, follow=True)
    assert "none left" in " ".join(messages_of(response))
    job = finished_job(root_client, root_client.post("/conflicts/conclude/"))
    assert job.status == "done" and job.result["status"] == "concluded", job.error
    assert MergeState.load(open_repository()) is None
    by_key = {(r.ep_no, r.company.name, r.date.isoformat()): r
              for r in AttendanceRecord.objects.select_related("company")}
    resolved_a = by_key[(a.ep_no, a.company, a.date)]
    resolved_b = by_key[(b.ep_no, b.company, b.date)]
    assert resolved_a.overstay != "7" and resolved_a.in_time.strftime("%H:%M") != "11:11"
    assert resolved_b.in_time.strftime("%H:%M") == "08:45" and resolved_b.overstay == "7"
    assert BackupLog.objects.filter(operation="resolve").count() == 2
    assert BackupLog.objects.filter(operation="merge", details__status="concluded").exists()


def test_a_typed_value_that_is_not_valid_is_a_message(root_client):
    _manual_restore(root_client, changes=1)
    conflict = root_client.get("/conflicts/").context["pending"][0]
    response = root_client.post("/conflicts/resolve/", {
        "conflict": conflict.id, "side": "fields", "pick_in_time": "value", "value_in_time": "25:99"}, follow=True)
    assert response.status_code == 200 and "in_time" in " ".join(messages_of(response))
    assert response.context["pending_count"] == 1


def test_conclude_waits_for_every_conflict_and_abort_undoes(root_client):
    records = _manual_restore(root_client)
    response = root_client.post("/conflicts/conclude/", follow=True)
    assert "2 conflicts still to resolve" in " ".join(messages_of(response))
    resolved = finished_job(root_client, root_client.post("/conflicts/resolve/", bulk_form(root_client, "theirs")))
    assert resolved.status == "done" and (resolved.result["resolved"], resolved.result["left"]) == (2, 0)
    assert BackupLog.objects.filter(operation="resolve").count() == 1  # one action, one row
    job = finished_job(root_client, root_client.post("/conflicts/abort/"))
    assert job.status == "done" and job.result["status"] == "aborted"
    assert MergeState.load(open_repository()) is None
    for r in records:
        assert AttendanceRecord.objects.get(pk=r.pk).overstay == "7"  # back to before the restore
    assert "No merge is in progress" in root_client.get("/conflicts/").content.decode()


def test_a_restore_during_a_merge_says_to_finish_it_first(root_client):
    _manual_restore(root_client, changes=1)
    commit = str(open_repository().head())
    response = root_client.post("/restore/apply/", {"commit": commit}, follow=True)
    assert response.redirect_chain[-1][0] == "/conflicts/"
    assert "resolve them and conclude it, or abort it" in " ".join(messages_of(response))
    preview = root_client.get(f"/restore/preview/?commit={commit}", follow=True)
    assert preview.status_code == 409 and "Conflicts page" in " ".join(messages_of(preview))
    assert not Job.objects.filter(kind="checkout").exists()


# --- locks and jobs ------------------------------------------------------------------------

def test_a_held_lock_is_a_clear_message(root_client):
    seed(10)
    finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    head = str(open_repository().head())
    with exclusive(open_repository(), connect()):
        response = root_client.post("/backup/", {"backup_type": "full"})
        assert response.status_code == 409
        assert "Another backup, restore or sync is running" in " ".join(messages_of(response))
        preview = root_client.get(f"/restore/preview/?commit={head}")
        assert preview.status_code == 409 and "is locked by another" in " ".join(messages_of(preview))
        response = root_client.post("/restore/apply/", {"commit": head}, follow=True)
        assert "Another backup, restore or sync is running" in " ".join(messages_of(response))
    assert Job.objects.count() == 1


def test_the_status_endpoint_reports_progress(root_client, settings):
    from django_adapter.web.jobs import Progress

    job = Job.objects.create(kind=Job.IMPORT, status=Job.RUNNING, params={"name": "x.json"})
    Progress(job.pk).update("Writing records", 250, 1000, force=True)
    state = root_client.get(f"/jobs/{job.pk}/status/").json()
    assert (state["status"], state["phase"], state["done"], state["total"], state["percent"]) == \
        ("running", "Writing records", 250, 1000, 25.0)
    page = root_client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'style="width: 25.0%"' in page and "progress.js" in page
    Progress(job.pk).path.write_bytes(orjson.dumps(
        {"phase": "Writing records", "done": 250, "total": 1000, "host": socket.gethostname(),
         "pid": 2 ** 22 + 12345}))  # a worker process that is not there
    state = root_client.get(f"/jobs/{job.pk}/status/").json()
    assert state["status"] == "interrupted" and "stopped before it finished" in state["error"]
    page = root_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "It was interrupted" in page and 'id="retry"' in page


def test_a_job_whose_heartbeat_stopped_is_interrupted(root_client, settings):
    """A worker on another machine: only its heartbeat tells it is alive."""
    from django_adapter.web.jobs import Progress

    settings.ATTGIT_JOB_HEARTBEAT_TIMEOUT = 30
    job = Job.objects.create(kind=Job.BACKUP, status=Job.RUNNING, params={"type": "full"})
    progress = Progress(job.pk)
    progress.path.write_bytes(orjson.dumps({"phase": "Writing the backup file", "done": 1, "total": 2,
                                            "host": "another-machine", "pid": os.getpid()}))
    os.utime(progress.path, (time.time() - 10, time.time() - 10))
    assert root_client.get(f"/jobs/{job.pk}/status/").json()["status"] == "running"
    os.utime(progress.path, (time.time() - 31, time.time() - 31))
    assert root_client.get(f"/jobs/{job.pk}/status/").json()["status"] == "interrupted"
    assert BackupLog.objects.get(operation="backup_full", success=False).details["status"] == "interrupted"


def test_a_job_whose_worker_died_after_taking_it_from_the_queue_is_interrupted(root_client, settings):
    """A worker killed between claiming the task and starting the job left
    the queue's row "running" and the job "queued" for ever (a kill trial
    found it): once the claim is older than the heartbeat timeout, the job
    is interrupted, offers a retry, and a late worker does not run it."""
    from django_tasks_db.models import DBTaskResult

    from django_adapter.web.jobs import run

    settings.ATTGIT_JOB_HEARTBEAT_TIMEOUT = 30
    seed(5)
    job = Job.objects.create(kind=Job.BACKUP, status=Job.QUEUED, params={"type": "full"})
    now = timezone.now()
    task = DBTaskResult.objects.create(
        status="RUNNING", started_at=now - dt.timedelta(seconds=10), args_kwargs={"args": [str(job.pk)],
                                                                                   "kwargs": {}},
        task_path="django_adapter.tasks.run_job", backend_name="default", queue_name="default", run_after=now,
        worker_ids=["a-worker-that-was-killed"])
    Job.objects.filter(pk=job.pk).update(task_id=str(task.pk))
    assert root_client.get(f"/jobs/{job.pk}/status/").json()["status"] == "queued"
    DBTaskResult.objects.filter(pk=task.pk).update(started_at=now - dt.timedelta(seconds=31))
    state = root_client.get(f"/jobs/{job.pk}/status/").json()
    assert state["status"] == "interrupted" and state["finished"]
    assert DBTaskResult.objects.get(pk=task.pk).status == "FAILED"
    page = root_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "It was interrupted" in page and 'id="retry"' in page
    run(str(job.pk))  # the worker that took it, late: it does not run an interrupted job
    assert Job.objects.get(pk=job.pk).status == Job.INTERRUPTED and not BackupLog.objects.filter(success=True)


def test_a_job_given_up_on_between_its_fetch_and_its_start_is_not_run(root_client):
    from django_adapter.web.jobs import _start

    job = Job.objects.create(kind=Job.BACKUP, status=Job.QUEUED, params={"type": "full"})
    Job.objects.filter(pk=job.pk).update(status=Job.INTERRUPTED)  # another look judged it lost meanwhile
    assert not _start(job) and Job.objects.get(pk=job.pk).status == Job.INTERRUPTED
    Job.objects.filter(pk=job.pk).update(status=Job.QUEUED)
    assert _start(job) and Job.objects.get(pk=job.pk).status == Job.RUNNING == job.status


def test_a_failed_job_shows_its_error(root_client, settings, monkeypatch):
    from django_adapter.web import backup

    seed(5)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(backup, "write_file", broken)
    job = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    assert job.status == "failed" and "disk full" in job.error
    assert "disk full" in root_client.get(f"/jobs/{job.pk}/").content.decode()
    assert BackupLog.objects.filter(operation="backup_full", success=False).exists()
    assert root_client.post("/backup/", {"backup_type": "full"}).status_code == 302  # the locks were let go


def test_a_job_runs_in_the_background_worker(worker, root):
    from django.test import Client

    from .conftest import wait_for_job

    seed(200)
    running = worker.start()
    client = Client()
    client.force_login(root)
    response = client.post("/backup/", {"backup_type": "full"})
    state = wait_for_job(client, response)
    assert state["status"] == "done", state
    job = Job.objects.get(pk=state["id"])
    assert job.result["records"] == 200 and job.started_at and job.finished_at
    assert job.pid == running.pid != os.getpid() and job.task_id


def test_a_preview_shows_its_progress_until_its_job_is_done(root_client, settings):
    from django_adapter.web import jobs

    seed(20)
    content, _ = backup_bytes(root_client)
    settings.TASKS = QUEUED_ONLY  # the job waits, as if the worker were busy
    response = root_client.post("/restore/", {"backup_file": _named(content, "b.json")})
    url = root_client.get(response["Location"])["Location"]
    waiting = root_client.get(url)
    assert waiting.status_code == 200 and 'data-status-url="/jobs/' in waiting.content.decode()
    assert root_client.get(waiting.context["state"]["url"]).status_code == 200
    assert waiting.context["state"]["url"] == url  # where the script goes once the job is done
    jobs.run(waiting.context["job"].pk)  # the worker runs
    done = root_client.get(url)
    assert done.status_code == 200 and counts(done)["skip"] == 20


def test_the_backup_log_is_in_the_admin(root_client):
    from django_adapter.models import User

    seed(5)
    finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    User.objects.filter(username="root").update(is_staff=True, is_superuser=True)
    page = root_client.get("/admin/attendance/backuplog/")
    assert page.status_code == 200 and "Full Backup" in page.content.decode()


def test_backups_made_from_the_command_line_show_their_real_size_or_made_elsewhere(root_client, tmp_path):
    from django.core.management import call_command

    seed(20)
    out = tmp_path / "cli" / "backup_full_20250101T000000Z.json"
    out.parent.mkdir()
    call_command("backup_data", "--output", str(out), stdout=io.StringIO())
    BackupLog.objects.create(operation="backup_full", filename="/elsewhere/backup_full_20240101T000000Z.json",
                             records_count=5)
    entries = {e["name"]: e for e in root_client.get("/backup/").context["backups"]}
    assert entries[out.name]["size"] == out.stat().st_size > 0
    assert entries["backup_full_20240101T000000Z.json"]["size"] is None
    html = root_client.get("/backup/").content.decode()
    assert f'data-size="{out.stat().st_size}"' in html and "made elsewhere" in html and "0 bytes" not in html


def test_the_chart_starts_at_zero_and_follows_this_environment_s_own_line(root_client, tmp_path):
    """After a pull that merges another environment's history, the chart
    plots this environment's snapshots (first parents) on a scale from zero."""
    from .merges import seed_conflicts

    seed_conflicts(tmp_path, conflicts=10, records=300, companies=2)
    job = finished_job(root_client, root_client.post("/conflicts/resolve/", bulk_form(root_client, "theirs")))
    assert job.status == "done"
    assert finished_job(root_client, root_client.post("/conflicts/conclude/")).status == "done"
    repo = open_repository()
    own = [c.id for c in repo.log(first_parent=True)]
    everything = [c.id for c in repo.log()]
    assert len(everything) > len(own)  # the upstream's own snapshot is in the history, not on our line
    response = root_client.get("/history/")
    chart = response.context["chart"]
    assert [d["commit"].id for d in chart["dots"]] == list(reversed(own))
    assert chart["bottom"] == 0 and chart["base_y"] == 180 - 36
    top = chart["top"]
    dips = [d for d in chart["dots"] if d["records"] < top]
    assert all(d["y"] - chart["top_y"] < 0.1 * (chart["base_y"] - chart["top_y"]) for d in dips)  # no cliff
    assert len(response.context["commits"]) == len(everything)  # the table still lists every snapshot


def test_compare_takes_an_uploaded_backup_file_on_either_side(root_client):
    """Issue 20.6: the file against a snapshot, line by line as commits are."""
    seed(30)
    content, _ = backup_bytes(root_client)
    a = open_repository().head()
    record = first_record()
    edit(record, overstay="9")
    b = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"})).result["commit"]
    assert "compare-file" in root_client.get("/history/").content.decode()

    def compare(side, commit):
        upload = io.BytesIO(content)
        upload.name = "old-backup.json"
        return root_client.post("/history/compare/", {"backup_file": upload, "commit": commit, "side": side})

    forward = compare("a", b)
    assert forward.status_code == 200, messages_of(forward)
    assert forward.context["totals"] == {"added": 0, "removed": 0, "changed": 1}
    [company] = forward.context["companies"]
    assert company.company == record.company.name and "<ins>9</ins>" in forward.content.decode()
    assert "old-backup.json" in forward.content.decode()
    backward = compare("b", b)
    assert backward.context["totals"] == {"added": 0, "removed": 0, "changed": 1}
    assert "<del>9</del>" in backward.content.decode()
    same = compare("a", str(a))
    assert same.context["totals"] == {"added": 0, "removed": 0, "changed": 0} and not same.context["companies"]


def _compare_file(client, content: bytes, commit, name: str = "backup.json", **fields):
    upload = io.BytesIO(content)
    upload.name = name
    return client.post("/history/compare/", {"backup_file": upload, "commit": str(commit), "side": "a", **fields})


def _one_change_since(client, compression: str = "plain", **backup_fields) -> tuple:
    """A backup file made on the backup page, then one record changed and
    snapshotted: (the file's bytes, the new snapshot)."""
    seed(30)
    job = finished_job(client, client.post("/backup/", {"backup_type": "full", "compression": compression,
                                                        **backup_fields}))
    assert job.status == "done", job.error
    content = b"".join(client.get(f"/backup/download/{job.result['name']}/").streaming_content)
    edit(first_record(), overstay="9")
    later = finished_job(client, client.post("/backup/", {"backup_type": "full"})).result["commit"]
    return content, later


def test_compare_reads_a_gzipped_upload_within_the_decompressed_limit(root_client, settings):
    """Issue 20.1 on the compare page: a .json.gz upload is compared; a gzip
    bomb stops once past ATTGIT_DECOMPRESSED_LIMIT (not at the default
    8 GB), saying so, the upload limit applying to the size as uploaded."""
    from ..helpers import bomb

    content, later = _one_change_since(root_client, compression="gzip")
    assert content[:2] == b"\x1f\x8b"
    response = _compare_file(root_client, content, later, "backup.json.gz")
    assert response.status_code == 200, messages_of(response)
    assert response.context["totals"] == {"added": 0, "removed": 0, "changed": 1}
    settings.ATTGIT_UPLOAD_LIMIT = 1 << 20
    settings.ATTGIT_DECOMPRESSED_LIMIT = 1 << 20
    bombed = bomb(6 << 20)
    assert len(bombed) < settings.ATTGIT_UPLOAD_LIMIT
    response = _compare_file(root_client, bombed, later, "bomb.json.gz")
    said = " ".join(messages_of(response))
    assert response.status_code == 400 and "larger than the allowed size" in said, said
    assert f"more than {1 << 20:,} bytes once decompressed" in said, said


def test_compare_reads_a_passphrase_file_with_its_passphrase_only(root_client, settings, tmp_path):
    """Issue 20.3 on the compare page: the file compares with its
    passphrase; a wrong one or none says so; the passphrase is never
    shown back, and the page asks Django's error reports to hide it."""
    from django.views.debug import SafeExceptionReporterFilter

    (tmp_path / "gnupg").mkdir(mode=0o700)
    settings.ATTGIT_GNUPGHOME = str(tmp_path / "gnupg")
    secret = "a long and memorable passphrase"
    content, later = _one_change_since(root_client, encryption="passphrase", passphrase=secret,
                                       passphrase_again=secret)
    right = _compare_file(root_client, content, later, "b.json.gz.gpg", passphrase=secret)
    assert right.status_code == 200, messages_of(right)
    assert right.context["totals"] == {"added": 0, "removed": 0, "changed": 1}
    assert secret not in right.content.decode()
    wrong = _compare_file(root_client, content, later, "b.json.gz.gpg", passphrase="not the passphrase")
    assert wrong.status_code == 400 and any("wrong passphrase" in m for m in messages_of(wrong)), \
        messages_of(wrong)
    assert "not the passphrase" not in wrong.content.decode()
    none = _compare_file(root_client, content, later, "b.json.gz.gpg")
    assert none.status_code == 400 and any("encrypted with a passphrase" in m for m in messages_of(none))
    hidden = SafeExceptionReporterFilter().get_post_parameters(wrong.wsgi_request)
    assert hidden["passphrase"] == SafeExceptionReporterFilter.cleansed_substitute


def test_compare_refuses_a_bad_file_and_a_bad_commit(root_client):
    seed(5)
    content, _ = backup_bytes(root_client)
    head = open_repository().head()
    bad = io.BytesIO(b'{"metadata": {}}')
    bad.name = "bad.json"
    response = root_client.post("/history/compare/", {"backup_file": bad, "commit": str(head), "side": "a"})
    assert response.status_code == 400 and any("metadata" in m for m in messages_of(response))
    good = io.BytesIO(content)
    good.name = "b.json"
    response = root_client.post("/history/compare/", {"backup_file": good, "commit": "../x", "side": "a"})
    assert response.status_code == 400 and any("Not a commit id" in m for m in messages_of(response))
