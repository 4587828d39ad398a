"""The pages' security rules, one test each: root users only, CSRF on every
POST, the upload limit before parsing, downloads only of registered backup
files, hostile files shown as messages, deploy checks clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.test import Client

from attgit.format.backup import ERROR_MESSAGES
from django_adapter.models import BackupLog, Upload

from .conftest import backup_bytes, make_user, messages_of, seed

JOB = uuid.uuid4()
NAME = "backup_full_20250101T000000Z_abcdef.json"
URLS = [
    "/backup/", f"/backup/download/{NAME}/", "/restore/", "/restore/preview/?commit=abcd",
    "/restore/apply/", f"/jobs/{JOB}/", f"/jobs/{JOB}/status/", "/history/",
    "/history/compare/?a=abcd&b=abcd", "/conflicts/", "/conflicts/resolve/", "/conflicts/conclude/",
    "/conflicts/abort/", "/schedule/",
]
METHODS = ["get", "post", "put", "patch", "delete", "head", "options"]
POSTS = ["/backup/", "/restore/", "/restore/apply/", "/conflicts/resolve/", "/conflicts/conclude/",
         "/conflicts/abort/"]

pytestmark = pytest.mark.django_db


# --- who may enter ---------------------------------------------------------------------

@pytest.mark.parametrize("url", URLS)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    for method in METHODS:
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith("/accounts/login/?next="), (method, url)


@pytest.mark.parametrize("kind", ["company user", "staff user who is not root"])
def test_everyone_but_root_gets_403_on_every_url_and_method(kind):
    from django_adapter.models import Company

    company = Company.objects.create(name="ABC Corp")
    user = make_user("u", company=company, is_staff=kind.startswith("staff"))
    client = Client()
    client.force_login(user)
    for url in URLS:
        for method in METHODS:
            response = getattr(client, method)(url)
            assert response.status_code == 403, (method, url, response.status_code)
    assert not BackupLog.objects.exists() and not Upload.objects.exists()


def test_the_403_page_says_why(client):
    client.force_login(make_user("someone"))
    response = client.get("/backup/")
    assert response.status_code == 403
    assert ERROR_MESSAGES["permission_denied"] in response.content.decode()


def test_a_root_user_and_a_superuser_get_in(root_client):
    assert root_client.get("/history/").status_code == 200
    superuser = make_user("boss", is_superuser=True, is_staff=True)
    other = Client()
    other.force_login(superuser)
    assert other.get("/backup/").status_code == 200


# --- CSRF ------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", POSTS)
def test_every_post_needs_the_csrf_token(root, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    assert client.post(url, {"backup_type": "full"}).status_code == 403


def test_with_the_token_the_post_goes_through(root, tmp_path):
    seed(20)
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    client.get("/backup/")
    token = client.cookies["csrftoken"].value
    response = client.post("/backup/", {"backup_type": "full", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    upload = tmp_path / "b.json"
    upload.write_bytes(backup_bytes(client_with_token(root))[0])
    with open(upload, "rb") as fh:
        response = client.post("/restore/", {"backup_file": fh, "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and "/restore/preview/?upload=" in response["Location"]


def client_with_token(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


# --- the upload limit ---------------------------------------------------------------------

def test_a_declared_oversize_upload_is_refused_before_the_body_is_read(root_client, settings, monkeypatch):
    settings.ATTGIT_UPLOAD_LIMIT = 1000
    from django.http import multipartparser

    def parse(*args, **kwargs):
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(multipartparser.MultiPartParser, "parse", parse)
    response = root_client.post("/restore/", {"backup_file": ("x" * 10)}, CONTENT_LENGTH=str(200 * 1024 * 1024))
    assert response.status_code == 413
    assert ERROR_MESSAGES["too_large"] in " ".join(messages_of(response))
    assert not Upload.objects.exists()


def test_a_file_over_the_limit_is_stopped_while_it_is_read(root_client, settings, tmp_path):
    settings.ATTGIT_UPLOAD_LIMIT = 1000
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 5000)
    with open(big, "rb") as fh:
        response = root_client.post("/restore/", {"backup_file": fh})
    assert response.status_code == 413
    assert "the limit is 1,000 bytes" in " ".join(messages_of(response))
    assert not Upload.objects.exists() and not any(Path(settings.ATTGIT_UPLOAD_DIR).glob("*"))


def test_a_file_within_the_limit_is_kept_under_a_random_id(root_client, settings, tmp_path):
    seed(10)
    content, _ = backup_bytes(root_client)
    (tmp_path / "name with spaces.json").write_bytes(content)
    with open(tmp_path / "name with spaces.json", "rb") as fh:
        response = root_client.post("/restore/", {"backup_file": fh})
    upload = Upload.objects.get()
    assert response["Location"].endswith(f"?upload={upload.pk}") and len(upload.pk) == 32
    assert [p.name for p in Path(settings.ATTGIT_UPLOAD_DIR).iterdir()] == [f"{upload.pk}.json"]
    assert upload.original_name == "name with spaces.json"


def test_the_upload_settings_are_sensible(settings):
    from attendance_site import settings as site

    assert site.ATTGIT_UPLOAD_LIMIT == 100 * 1024 * 1024
    assert site.DATA_UPLOAD_MAX_MEMORY_SIZE <= 2 * 1024 * 1024
    assert site.FILE_UPLOAD_MAX_MEMORY_SIZE <= 2 * 1024 * 1024
    for folder in (site.ATTGIT_BACKUP_DIR, site.ATTGIT_UPLOAD_DIR, site.ATTGIT_JOB_DIR):
        assert not str(folder).startswith(str(site.STATIC_ROOT))


# --- downloads ---------------------------------------------------------------------------

def test_a_backup_made_here_downloads(root_client):
    seed(10)
    content, name = backup_bytes(root_client)
    assert json.loads(content)["metadata"]["total_attendance_records"] == 10
    assert BackupLog.objects.filter(operation="download", filename=name, user__username="root").exists()


@pytest.mark.parametrize("path", [
    "/backup/download/../",
    "/backup/download/..%2F..%2Fexamples%2Fattendance_site%2Fsettings.py/",
    "/backup/download/%2Fetc%2Fpasswd/",
    "/backup/download//etc/passwd/",
    "/backup/download/..%5Csettings.py/",
    "/backup/download/backup_full_20250101T000000Z_abcdef.json%00.txt/",
    "/backup/download/.backup_full_20250101T000000Z_abcdef.json.partial/",
])
def test_paths_out_of_the_backup_folder_are_404(root_client, path):
    assert root_client.get(path).status_code == 404


def test_only_registered_backups_are_served(root_client, settings, tmp_path):
    folder = Path(settings.ATTGIT_BACKUP_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / NAME).write_text("{}")  # a file nobody logged
    assert root_client.get(f"/backup/download/{NAME}/").status_code == 404
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / NAME).write_text("secret")
    BackupLog.objects.create(operation="backup_full", filename=str(outside / NAME))
    (folder / NAME).unlink()
    assert root_client.get(f"/backup/download/{NAME}/").status_code == 404  # logged elsewhere, not here
    (folder / NAME).symlink_to(outside / NAME)
    assert root_client.get(f"/backup/download/{NAME}/").status_code == 404  # a link out of the folder


# --- hostile files ----------------------------------------------------------------------------

def _tampered(content: bytes, how: str) -> bytes:
    data = json.loads(content)
    if how == "checksum":
        data["attendance_records"][0]["ep_name"] = "Mallory"
    elif how == "counts":
        data["metadata"]["total_attendance_records"] += 5
    elif how == "status":
        data["attendance_records"][0]["status"] = "<script>alert(1)</script>"
    elif how == "field":
        data["attendance_records"][0]["is_admin"] = True
    elif how == "metadata":
        del data["metadata"]
    elif how == "version":
        data["metadata"]["version"] = "9.9"
    return json.dumps(data).encode()


HOSTILE = {
    "empty": b"",
    "not json": b"this is not json",
    "binary": bytes(range(256)) * 4,
    "a list": b"[1, 2, 3]",
    "deep nesting": b"[" * 50_000,
    "a string": b'"metadata"',
}


@pytest.mark.parametrize("case", [*HOSTILE, "checksum", "counts", "status", "field", "metadata", "version"])
def test_hostile_files_show_the_validation_error_and_leave_nothing(root_client, settings, tmp_path, case):
    seed(10)
    content = HOSTILE[case] if case in HOSTILE else _tampered(backup_bytes(root_client)[0], case)
    path = tmp_path / "hostile.json"
    path.write_bytes(content)
    before = set(BackupLog.objects.values_list("id", flat=True))
    with open(path, "rb") as fh:
        response = root_client.post("/restore/", {"backup_file": fh}, follow=True)
    assert response.status_code == 400
    shown = " ".join(messages_of(response))
    assert any(shown.startswith(m) for m in ERROR_MESSAGES.values()), shown
    assert "<script>" not in response.content.decode()
    assert not Upload.objects.exists() and not any(Path(settings.ATTGIT_UPLOAD_DIR).glob("*"))
    failed = BackupLog.objects.exclude(id__in=before).get()
    assert (failed.operation, failed.success, failed.user.username) == ("restore", False, "root")


def test_an_unknown_upload_id_is_404(root_client):
    assert root_client.get("/restore/preview/?upload=" + "0" * 32).status_code == 404
    assert root_client.get("/restore/preview/?upload=../../etc/passwd").status_code == 400


# --- deployment ----------------------------------------------------------------------------

def test_deploy_checks_are_clean_with_the_production_settings():
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(DJANGO_SECRET_KEY="k" * 20 + "-Xq9#vL2!pR7@mZ4&tB8^wN1*cY6%hJ3$fD0",
               DJANGO_ALLOWED_HOSTS="attendance.example.com",
               PYTHONPATH=os.pathsep.join([str(root / "examples"), str(root)]))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
         "--settings", "attendance_site.settings_production"],
        cwd=root / "examples", env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
