"""Fixtures of the web page tests: the example site with its repository,
backup, upload and job folders in a temporary directory, users of each
kind, and background jobs run inline, inside the request (the tasks
framework's immediate backend); tests that want the site's real set-up ask
for ``worker``: a ``db_worker`` process on the test database."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from django.test import Client

from attgit.format.backup import read_backup

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def site_folders(settings, tmp_path):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    settings.ATTGIT_BACKUP_DIR = str(tmp_path / "backups")
    settings.ATTGIT_UPLOAD_DIR = str(tmp_path / "uploads")
    settings.ATTGIT_JOB_DIR = str(tmp_path / "jobs")
    settings.ATTGIT_DEFAULT_STRATEGY = "theirs"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return tmp_path


IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
QUEUED_ONLY = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture(autouse=True)
def inline_jobs(request, settings):
    """Jobs run inside the request that starts them, in the test's transaction
    (unless the test runs a real worker)."""
    if "worker" not in request.fixturenames:
        settings.TASKS = IMMEDIATE


@pytest.fixture
def worker(settings, site_folders, transactional_db):
    """A real ``manage.py db_worker`` process on the test database and the
    test's folders, as the site runs it; stopped (SIGTERM) at the end.
    ``worker.start(point)`` starts another, ``worker.kill()`` SIGKILLs one."""
    from django.db import connection

    from ..integration.envs import site_environ
    from ..jobworker import Worker, database_url

    environ = site_environ(
        ATTGIT_VAR_DIR=str(site_folders / "var"), ATTGIT_REPO=settings.ATTGIT_REPO,
        ATTGIT_BACKUP_DIR=settings.ATTGIT_BACKUP_DIR, ATTGIT_UPLOAD_DIR=settings.ATTGIT_UPLOAD_DIR,
        ATTGIT_JOB_DIR=settings.ATTGIT_JOB_DIR, ATTGIT_LOG_LEVEL="WARNING", DJANGO_DEBUG="0",
        **database_url(connection.settings_dict))
    Path(settings.ATTGIT_JOB_DIR).mkdir(parents=True, exist_ok=True)
    started = []

    class Workers:
        def start(self, point: str = "") -> Worker:
            one = Worker(environ, site_folders / "worker.log").start(point)
            started.append(one)
            return one

        def log(self) -> str:
            path = site_folders / "worker.log"
            return path.read_text() if path.exists() else ""

    workers = Workers()
    yield workers
    for one in started:
        one.stop()


def make_user(username: str, role: str = "company", company=None, **extra):
    from django_adapter.models import User

    return User.objects.create_user(username, password=PASSWORD, role=role, company=company, **extra)


@pytest.fixture
def root(db):
    return make_user("root", role="root", email="root@example.com")


@pytest.fixture
def root_client(root):
    client = Client()
    client.force_login(root)
    return client


def seed(records: int = 60, companies: int = 3) -> None:
    """Deterministic demo attendance."""
    from django_adapter.demodata import demo_records
    from django_adapter.workingcopy import connect

    connect().bulk_load(demo_records(records, companies))


def finished_job(client, response):
    """The job a page started (inline jobs are done when the page answers)."""
    from django_adapter.models import Job

    assert response.status_code == 302, response.content[:2000]
    job_id = response["Location"].rstrip("/").split("/")[-1]
    return Job.objects.get(pk=job_id)


def wait_for_job(client, response, timeout: float = 30.0) -> dict:
    """Poll the status endpoint of the job a page started until it ends."""
    url = response["Location"] + "status/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = client.get(url)
        if reply.status_code == 200 and reply.json()["finished"]:
            return reply.json()
        time.sleep(0.05)
    raise AssertionError(f"job {url} did not finish in {timeout} s")


def backup_bytes(client) -> tuple[bytes, str]:
    """Make a full backup through the page (plain JSON: the page's default
    is gzip); return its content and name."""
    job = finished_job(client, client.post("/backup/", {"backup_type": "full", "compression": "plain"}))
    assert job.status == "done", job.error
    name = job.result["name"]
    response = client.get(f"/backup/download/{name}/")
    assert response.status_code == 200
    return b"".join(response.streaming_content), name


def parse(content: bytes):
    return read_backup(io.BytesIO(content))


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def confirm_form(preview, **changes) -> dict:
    """What the preview page's form sends on "Apply restore" when a person
    leaves it as shown (``changes`` replace fields: a changed choice)."""
    context = preview.context
    data = {"token": context["token"], "action": "apply"}
    if context.get("upload") is not None:
        data.update(upload=context["upload"].pk, strategy=context["strategy"])
    else:
        data["commit"] = context["info"].id
    selection = context["selection"]
    data.update(companies=selection["companies"], date_from=selection["date_from"], date_to=selection["date_to"])
    data.update(changes)
    return {k: v for k, v in data.items() if v not in (None, "", [])}


def previewed(client, upload_id: str, timeout: float = 60.0, **query):
    """The preview page of a kept upload, once a real worker has worked it out."""
    from django.utils.http import urlencode

    from django_adapter.models import Job

    response = client.get(f"/restore/preview/?{urlencode({'upload': upload_id, **query}, doseq=True)}")
    assert response.status_code == 302, response.content[:500]
    location = response["Location"]
    job_id = location.split("job=")[1].split("&")[0]
    deadline = time.monotonic() + timeout
    while not Job.objects.get(pk=job_id).finished:
        assert time.monotonic() < deadline, f"the preview job {job_id} did not finish"
        time.sleep(0.05)
    shown = client.get(location)
    assert shown.status_code == 200, shown.content[:500]
    return shown


def bulk_form(client, side: str, **filter) -> dict:
    """What a bulk button of the conflicts page sends (its side, the filter
    and the page's token), as a person sees the page now."""
    from django.utils.http import urlencode

    page = client.get(f"/conflicts/?{urlencode(filter)}")
    assert page.status_code == 200 and page.context.get("tokens"), "the conflicts page shows no bulk buttons"
    return {"all": side, **filter, "token": page.context["tokens"][side]}
