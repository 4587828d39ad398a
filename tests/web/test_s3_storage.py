"""Backup files on S3-compatible storage (issue 20.5), through
``STORAGES["attgit_backups"]`` and django-storages' S3 storage, against a
real S3 protocol server this test run starts on 127.0.0.1 (moto's server
mode): written there by the page, the command and the schedule, listed,
downloaded through the page, restored from, deleted by the keep rule."""

from __future__ import annotations

import datetime as dt
import io
import socket

import pytest

from attgit.format.backup import read_backup
from django_adapter import storage
from django_adapter.models import AttendanceRecord
from django_adapter.schedule import run_scheduled
from django_adapter.services import BackupService, RestoreService

from .conftest import finished_job, seed

pytestmark = pytest.mark.django_db(transaction=True)
BUCKET = "attgit-backups"


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server on a free local port, for this module."""
    boto3 = pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url, aws_access_key_id="test", aws_secret_access_key="test",
                          region_name="us-east-1")
    yield url, client
    server.stop()


@pytest.fixture
def s3(s3_server, settings):
    """A fresh bucket named as the site's backup storage."""
    url, client = s3_server
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {**settings.STORAGES, "attgit_backups": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": url, "access_key": "test", "secret_key": "test",
                    "region_name": "us-east-1", "file_overwrite": False},
    }}
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def in_bucket(client) -> list:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_a_backup_from_the_page_is_kept_on_s3_listed_downloaded_and_restored(root_client, s3, settings, tmp_path):
    seed(40)
    job = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))
    assert job.status == "done", job.error
    name = job.result["name"]
    assert in_bucket(s3) == [name]
    assert not list(storage.backup_dir().glob("*.json")), "the local copy is removed once stored"

    page = root_client.get("/backup/")
    [listed] = [b for b in page.context["backups"] if b["name"] == name]
    assert listed["available"] and listed["size"] == s3.head_object(Bucket=BUCKET, Key=name)["ContentLength"]

    response = root_client.get(f"/backup/download/{name}/")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content == s3.get_object(Bucket=BUCKET, Key=name)["Body"].read()
    with read_backup(io.BytesIO(content)) as backup:
        assert backup.total_records == 40

    before = {(r.ep_no, r.company_id, r.date): r.status for r in AttendanceRecord.objects.all()}
    AttendanceRecord.objects.all().delete()
    downloaded = tmp_path / "downloaded.json"
    downloaded.write_bytes(content)
    restored = RestoreService().restore_backup(downloaded)
    assert restored["success"] and restored["added"] == 40
    assert len(before) == AttendanceRecord.objects.count() == 40


def test_a_file_gone_from_the_bucket_is_not_offered(root_client, s3):
    seed(5)
    name = finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"})).result["name"]
    s3.delete_object(Bucket=BUCKET, Key=name)
    assert root_client.get(f"/backup/download/{name}/").status_code == 404
    [listed] = [b for b in root_client.get("/backup/").context["backups"] if b["name"] == name]
    assert not listed["available"]


def test_the_command_and_the_service_write_to_the_storage(s3, settings):
    from django.core.management import call_command

    seed(10)
    out = io.StringIO()
    call_command("backup_data", stdout=out)
    assert "in the backup storage" in out.getvalue()
    made = BackupService().create_backup("full")
    assert made["success"] and made["file_path"] is None and made["storage_name"] in in_bucket(s3)
    assert len(in_bucket(s3)) == 2 and not list(storage.backup_dir().glob("*.json"))


def test_scheduled_backups_go_to_s3_and_the_keep_rule_deletes_there(s3, settings):
    seed(10)
    settings.ATTGIT_SCHEDULE = {"backup": "daily 03:00", "keep": {"last": 2}}
    settings.TIME_ZONE = "UTC"
    days = [dt.datetime(2025, 11, d, 3, 10, tzinfo=dt.timezone.utc) for d in (17, 18, 19)]
    runs = [run_scheduled(now=d, kind="backup") for d in days]
    assert [r.status for r in runs] == ["written"] * 3
    assert runs[2].removed == [runs[0].file]
    assert in_bucket(s3) == [runs[1].file, runs[2].file]
    with storage.open_file(runs[2].file) as f, read_backup(io.BytesIO(f.read())) as backup:
        assert backup.total_records == 10
