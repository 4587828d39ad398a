"""Background jobs survive the web server: they run in a ``db_worker``
process of Django's tasks framework (django-tasks-db), and a worker killed
in the middle of a restore leaves the database before or after the
restore, never half, with a job page that says so and offers a retry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from attgit.ops.compare import status
from django_adapter.models import AttendanceRecord, BackupLog, Job
from django_adapter.repository import open_repository
from django_adapter.workingcopy import connect

from .conftest import confirm_form, make_user, previewed, seed, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)


def read_backup_records(path) -> int:
    from attgit.format.backup import read_backup

    with read_backup(path) as backup:
        return sum(1 for company in backup.companies() for _ in backup.records(company))


def everything() -> dict:
    return {(r["ep_no"], r["company"], r["date"]): r for r in connect().all_records()}


@pytest.fixture
def client(db):
    client = Client()
    client.force_login(make_user("root", role="root"))
    return client


def prepared_restore(client, tmp_path) -> tuple[str, dict, dict]:
    """A backup file of 3,000 records, 2,000 of them then deleted and one
    changed: (upload id, the database before the restore, after it)."""
    from django_adapter.web.backup import write_file

    seed(3000, companies=3)
    saved = tmp_path / "backup.json"
    write_file(saved, "full", None, "root", lambda done, total: None)
    after = everything()
    doomed = list(AttendanceRecord.objects.order_by("-id").values_list("id", flat=True)[:2000])
    for start in range(0, len(doomed), 500):
        AttendanceRecord.objects.filter(id__in=doomed[start:start + 500]).delete()
    AttendanceRecord.objects.filter(pk=AttendanceRecord.objects.order_by("id").first().pk).update(
        overstay="9", updated_at=timezone.now())
    before = everything()
    with open(saved, "rb") as file:
        response = client.post("/restore/", {"backup_file": file})
    assert response.status_code == 302, response.content[:500]
    upload = response["Location"].split("upload=")[1].split("&")[0]
    return upload, before, after


@pytest.mark.slow
@pytest.mark.parametrize("point", ["mid-apply", "applied"])
def test_a_worker_killed_mid_restore_leaves_before_or_after_and_the_job_can_be_retried(
        worker, client, tmp_path, point):
    upload, before, after = prepared_restore(client, tmp_path)
    paused = worker.start(point)
    response = client.post("/restore/apply/", confirm_form(previewed(client, upload)))
    assert response.status_code == 302 and "/jobs/" in response["Location"]
    paused.wait_until_paused(point)
    job = Job.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])
    assert job.status == Job.RUNNING and job.pid == paused.pid

    paused.kill()  # SIGKILL: no cleanup, no finally
    expected = before if point == "mid-apply" else after
    assert everything() == expected  # all of the restore or none of it
    state = client.get(response["Location"] + "status/").json()
    assert state["status"] == "interrupted" and state["finished"], state
    page = client.get(response["Location"]).content.decode()
    assert "It was interrupted" in page and "stopped before it finished" in page and 'id="retry"' in page
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.get(pk=job.task_id).status == "FAILED"
    assert BackupLog.objects.get(operation="restore", success=False).details["status"] == "interrupted"

    worker.start()
    retried = client.post(f"/jobs/{job.pk}/retry/")
    assert retried.status_code == 302 and retried["Location"] != response["Location"]
    done = wait_for_job(client, retried, timeout=120)
    assert done["status"] == "done", (done, worker.log())
    assert everything() == after
    again = Job.objects.get(pk=done["id"])
    assert again.retry_of_id == job.pk
    assert (again.result["added"], again.result["updated"]) == \
        ((2000, 1) if point == "mid-apply" else (0, 0)), again.result
    repo, db = open_repository(), connect()
    assert str(repo.head()) == db.state().commit and status(repo, db).clean
    page = client.get(response["Location"]).content.decode()
    assert "It was tried again" in page and 'id="retry"' not in page


def test_a_worker_killed_after_taking_a_job_from_the_queue_leaves_a_job_to_retry(client, settings, worker):
    """Killed between claiming the task and starting the job (a kill trial
    found this moment): the job is judged lost once the claim is older than
    the heartbeat timeout, its page offers a retry, and the retry runs."""
    from django_tasks_db.models import DBTaskResult

    seed(50)
    paused = worker.start("claimed")
    response = client.post("/backup/", {"backup_type": "full"})
    paused.wait_until_paused("claimed")
    job = Job.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])
    assert job.status == Job.QUEUED and DBTaskResult.objects.get(pk=job.task_id).status == "RUNNING"
    paused.kill()
    assert client.get(response["Location"] + "status/").json()["status"] == "queued"  # not judged yet
    settings.ATTGIT_JOB_HEARTBEAT_TIMEOUT = 0.5
    DBTaskResult.objects.filter(pk=job.task_id).update(started_at=timezone.now() - dt.timedelta(seconds=1))
    state = client.get(response["Location"] + "status/").json()
    assert state["status"] == "interrupted" and state["finished"], state
    assert 'id="retry"' in client.get(response["Location"]).content.decode()
    worker.start()
    done = wait_for_job(client, client.post(f"/jobs/{job.pk}/retry/"), timeout=120)
    assert done["status"] == "done" and Job.objects.get(pk=done["id"]).result["records"] == 50, done


def test_a_backup_killed_after_its_file_is_complete_and_before_its_log_is_logged_by_the_judge(
        client, worker, site_folders):
    """Killed between the file's rename into place and its log row (a kill
    trial found this moment: the page said "no file" beside a whole file
    nobody had logged): the file is logged when the job is judged lost."""
    seed(60)
    paused = worker.start("written")
    response = client.post("/backup/", {"backup_type": "full"})
    paused.wait_until_paused("written")
    files = list((site_folders / "backups").glob("backup_full_*"))
    assert len(files) == 1 and not BackupLog.objects.filter(success=True).exists()
    paused.kill()
    state = client.get(response["Location"] + "status/").json()
    assert state["status"] == "interrupted", state
    page = client.get(response["Location"]).content.decode()
    assert f"the backup file {files[0].name} was written whole and logged now" in page
    logged = BackupLog.objects.get(operation="backup_full", success=True)
    assert logged.filename == str(files[0]) and logged.details["job"] == state["id"]
    assert read_backup_records(files[0]) == 60


def test_a_job_nobody_runs_says_a_worker_is_needed(client, settings, worker):
    """No worker running: the job waits in the queue, and its page says what it waits for."""
    from django_adapter.web import jobs

    settings_wait = jobs.QUEUE_PATIENCE
    seed(10)
    response = client.post("/backup/", {"backup_type": "full"})
    job = Job.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])
    assert job.status == Job.QUEUED and job.task_id
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(seconds=settings_wait + 1))
    state = client.get(response["Location"] + "status/").json()
    assert state["status"] == "queued" and "db_worker" in state["phase"]
    worker.start()
    assert wait_for_job(client, response)["status"] == "done"
