"""Gzipped and passphrase-encrypted backup files (issue 20.1, 20.3) through
every door: ``attgit export/import``, ``backup_data/restore_data`` and the
services.  A name ending in .gz is gzipped, streaming; a passphrase comes
from a file or a prompt (never an argument); a wrong passphrase says
"wrong passphrase", a damaged file "damaged", and neither changes the
database."""

from __future__ import annotations

import gzip
import json
import shutil

import pytest
from dj_helpers import attgit, reset_db
from django.core.management import CommandError, call_command

from attgit.errors import ExitCode
from attgit.format import records as rec
from attgit.format.backup import crypto
from django_adapter.models import AttendanceRecord, BackupLog
from django_adapter.services import BackupService, RestoreService

pytestmark = [pytest.mark.django_db(transaction=True)]
needs_gpg = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs GnuPG (apt-get install gnupg)")

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def data(wc, settings, tmp_path):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    settings.ATTGIT_GNUPGHOME = str(tmp_path / "gnupg")
    (tmp_path / "gnupg").mkdir(mode=0o700)
    reset_db()
    wc.bulk_load([rec.normalise({"ep_no": f"E{i}", "company": c, "date": "2025-01-02", "status": "P",
                                 "ep_name": f"Person {i}"})
                  for c in ("A Corp", "B Corp") for i in range(20)])
    return wc


def rows():
    return sorted(AttendanceRecord.objects.values_list("ep_no", "company__name", "date", "status", "ep_name"))


def secret_file(tmp_path, text=PASSPHRASE, name="pass.txt"):
    path = tmp_path / name
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def test_backup_data_gzips_a_gz_name_and_restore_data_reads_it(data, tmp_path):
    before = rows()
    path = tmp_path / "b.json.gz"
    call_command("backup_data", "--output", str(path))
    document = json.loads(gzip.decompress(path.read_bytes()))
    assert document["metadata"]["total_attendance_records"] == 40
    AttendanceRecord.objects.all().delete()
    call_command("restore_data", "--input", str(path))
    assert rows() == before


def test_backup_data_gzip_flag_names_the_default_file(data, tmp_path, settings):
    settings.ATTGIT_BACKUP_DIR = str(tmp_path / "backups")
    call_command("backup_data", "--gzip")
    made = list((tmp_path / "backups").iterdir())
    assert len(made) == 1 and made[0].name.endswith(".json.gz"), made
    assert len(json.loads(gzip.decompress(made[0].read_bytes()))["attendance_records"]) == 40


def test_attgit_export_and_import_gzip(data, tmp_path):
    before = rows()
    attgit("init")
    path = tmp_path / "c.json.gz"
    attgit("export", str(path))
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    plain = tmp_path / "c.json"
    attgit("export", str(plain))
    assert gzip.decompress(path.read_bytes())[200:] == plain.read_bytes()[200:]  # past created_at
    AttendanceRecord.objects.all().delete()
    assert "would add 40" in attgit("import", str(path), "--preview")
    attgit("import", str(path))
    assert rows() == before


def test_the_services_write_and_read_gzip(data, tmp_path):
    before = rows()
    attgit("init")
    made = BackupService().create_backup(output=tmp_path / "s.json.gz")
    assert made["success"] and made["record_count"] == 40, made
    assert (tmp_path / "s.json.gz").read_bytes()[:2] == b"\x1f\x8b"
    AttendanceRecord.objects.filter(ep_no="E1").delete()
    service = RestoreService()
    assert service.validate_backup(tmp_path / "s.json.gz")["valid"]
    preview = service.preview_changes(tmp_path / "s.json.gz")
    assert preview["to_add"] == 2, preview.get("errors")
    assert service.restore_backup(tmp_path / "s.json.gz")["added"] == 2
    assert rows() == before


# --- passphrases ---------------------------------------------------------------------------------

@needs_gpg
def test_attgit_export_and_import_with_a_passphrase_file(data, tmp_path):
    before = rows()
    attgit("init")
    path, secret = tmp_path / "p.json.gz.gpg", secret_file(tmp_path)
    assert "encrypted with the passphrase" in attgit("export", str(path), "--passphrase-file", str(secret))
    raw = path.read_bytes()
    assert crypto.is_encrypted(raw[:64]) and b'"company_name":"A Corp"' not in raw
    logged = BackupLog.objects.filter(operation="backup_full").latest("created_at").details
    assert PASSPHRASE not in json.dumps(logged) and logged.get("encrypted_with") == "passphrase", logged
    AttendanceRecord.objects.all().delete()
    attgit("import", str(path), "--passphrase-file", str(secret))
    assert rows() == before


@needs_gpg
def test_a_wrong_missing_or_damaged_passphrase_file_changes_nothing(data, tmp_path):
    attgit("init")
    path = tmp_path / "p.gpg"
    attgit("export", str(path), "--passphrase-file", str(secret_file(tmp_path)))
    AttendanceRecord.objects.filter(company__name="B Corp").delete()
    before = rows()
    wrong = secret_file(tmp_path, "not the passphrase", "wrong.txt")
    output = attgit("import", str(path), "--passphrase-file", str(wrong), code=ExitCode.INVALID_DATA)
    assert "wrong passphrase" in output, output
    output = attgit("import", str(path), code=ExitCode.INVALID_DATA)
    assert "encrypted with a passphrase" in output and "--passphrase-file" in output, output
    raw = bytearray(path.read_bytes())
    raw[len(raw) * 2 // 3] ^= 0x20
    damaged = tmp_path / "damaged.gpg"
    damaged.write_bytes(bytes(raw))
    output = attgit("import", str(damaged), "--passphrase-file", str(secret_file(tmp_path)),
                    code=ExitCode.INVALID_DATA)
    assert "damaged" in output and "wrong passphrase" not in output, output
    assert rows() == before


@needs_gpg
def test_the_passphrase_can_be_typed_at_a_prompt(data, tmp_path):
    from click.testing import CliRunner
    from dj_helpers import cli_entry

    attgit("init")
    path = tmp_path / "typed.gpg"
    result = CliRunner().invoke(cli_entry, ["export", str(path), "--ask-passphrase"],
                                input=f"{PASSPHRASE}\n{PASSPHRASE}\n", catch_exceptions=False)
    assert result.exit_code == 0 and PASSPHRASE not in result.output, result.output
    AttendanceRecord.objects.all().delete()
    result = CliRunner().invoke(cli_entry, ["import", str(path), "--ask-passphrase"], input=f"{PASSPHRASE}\n",
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert AttendanceRecord.objects.count() == 40


def test_a_passphrase_is_never_an_argument_or_from_the_environment():
    from attgit.cli.restore import export, import_

    for command in (export, import_):
        names = {opt for p in command.params for opt in p.opts}
        assert "--passphrase" not in names and all(p.envvar is None for p in command.params
                                                   if "passphrase" in p.name)


@needs_gpg
def test_backup_data_and_restore_data_with_a_passphrase(data, tmp_path):
    before = rows()
    path, secret = tmp_path / "m.json.gpg", secret_file(tmp_path)
    call_command("backup_data", "--output", str(path), "--passphrase-file", str(secret))
    AttendanceRecord.objects.all().delete()
    with pytest.raises(CommandError, match="wrong passphrase"):
        call_command("restore_data", "--input", str(path), "--passphrase-file",
                     str(secret_file(tmp_path, "nope", "nope.txt")))
    assert AttendanceRecord.objects.count() == 0
    call_command("restore_data", "--input", str(path), "--passphrase-file", str(secret))
    assert rows() == before


@needs_gpg
def test_the_services_take_a_passphrase(data, tmp_path):
    before = rows()
    attgit("init")
    made = BackupService(passphrase=PASSPHRASE).create_backup(output=tmp_path / "svc.json.gz.gpg")
    assert made["success"], made
    AttendanceRecord.objects.all().delete()
    bad = RestoreService(passphrase="wrong one").restore_backup(tmp_path / "svc.json.gz.gpg")
    assert not bad["success"] and "wrong passphrase" in bad["errors"][0], bad
    assert AttendanceRecord.objects.count() == 0
    good = RestoreService(passphrase=PASSPHRASE).restore_backup(tmp_path / "svc.json.gz.gpg")
    assert good["success"] and good["added"] == 40, good
    assert rows() == before


# --- the pages ---------------------------------------------------------------------------------

@pytest.fixture
def root(data, tmp_path, client, django_user_model, settings):
    for name in ("ATTGIT_BACKUP_DIR", "ATTGIT_UPLOAD_DIR", "ATTGIT_JOB_DIR"):
        setattr(settings, name, str(tmp_path / name.lower()))
    attgit("init")
    client.force_login(django_user_model.objects.create_user("root", password="x", role="root"))
    return client


def made_backup(client, **form):
    from dj_helpers import through_the_worker

    from django_adapter.models import Job

    response = through_the_worker(client, client.post("/backup/", {"backup_type": "full", **form}))
    job = Job.objects.filter(kind=Job.BACKUP).latest("created_at")
    assert job.status == Job.DONE, (job.error, response.content[:500])
    return job


def upload(client, path, **form):
    from dj_helpers import through_the_worker

    with open(path, "rb") as f:
        return through_the_worker(client, client.post("/restore/", {"backup_file": f, **form}))


def apply(client, response, **form):
    """Apply the previewed upload (the Apply form's fields), through the worker."""
    from dj_helpers import through_the_worker

    context = response.context
    return through_the_worker(client, client.post("/restore/apply/", {
        "upload": context["upload"].pk, "strategy": context["strategy"], "token": context["token"],
        "action": "apply", **form}))


def test_the_backup_page_gzips_by_default_and_the_download_says_so(root, tmp_path):
    job = made_backup(root)
    name = job.result["name"]
    assert name.endswith(".json.gz"), name
    response = root.get(f"/backup/download/{name}/")
    assert response["Content-Type"] == "application/gzip"
    body = b"".join(response.streaming_content)
    assert len(json.loads(gzip.decompress(body))["attendance_records"]) == 40
    plain = made_backup(root, compression="plain").result["name"]
    assert plain.endswith(".json") and json.loads(b"".join(root.get(f"/backup/download/{plain}/")
                                                          .streaming_content))["metadata"]


def test_a_gzipped_upload_is_previewed_and_applied(root, tmp_path):
    path = tmp_path / "up.json.gz"
    call_command("backup_data", "--output", str(path))
    AttendanceRecord.objects.filter(ep_no="E3").delete()
    response = upload(root, path)
    assert response.status_code == 200 and response.context["counts"]["add"] == 2, response.content[:800]
    apply(root, response)
    assert AttendanceRecord.objects.count() == 40


def test_the_upload_limit_is_the_compressed_size_and_a_bomb_stops_at_its_own(root, tmp_path, settings):
    """A file whose JSON is over the upload limit is accepted gzipped; a few
    MB bomb is refused once past ATTGIT_DECOMPRESSED_LIMIT, with that said."""
    from helpers import bomb  # tests/helpers.py (tests/ is on the path: see conftest.py)

    path = tmp_path / "ok.json.gz"
    call_command("backup_data", "--output", str(path))
    plain_size = len(gzip.decompress(path.read_bytes()))
    settings.ATTGIT_UPLOAD_LIMIT = path.stat().st_size + 100
    assert plain_size > settings.ATTGIT_UPLOAD_LIMIT
    AttendanceRecord.objects.filter(ep_no="E3").delete()
    assert upload(root, path).context["counts"]["add"] == 2
    settings.ATTGIT_UPLOAD_LIMIT = 1 << 20
    settings.ATTGIT_DECOMPRESSED_LIMIT = 1 << 20
    bombed = tmp_path / "bomb.json.gz"
    bombed.write_bytes(bomb(6 << 20))
    page = upload(root, bombed).content.decode()
    assert "larger than the allowed size" in page and "decompressed" in page, page[:3000]
    assert AttendanceRecord.objects.count() == 38


def job_rows_hold(text: str) -> list:
    """Jobs whose stored parameters or result still hold ``text``."""
    from django_adapter.models import Job

    return [j.pk for j in Job.objects.all() if text in json.dumps(j.params) + json.dumps(j.result)]


@needs_gpg
def test_a_passphrase_backup_and_restore_on_the_pages_keep_no_passphrase(root, tmp_path):
    job = made_backup(root, encryption="passphrase", passphrase=PASSPHRASE, passphrase_again=PASSPHRASE)
    name = job.result["name"]
    assert name.endswith(".json.gz.gpg"), name
    job.refresh_from_db()
    assert "passphrase" not in job.params and job_rows_hold(PASSPHRASE) == []
    assert PASSPHRASE not in json.dumps(list(BackupLog.objects.values_list("details", flat=True)))
    saved = tmp_path / name
    saved.write_bytes(b"".join(root.get(f"/backup/download/{name}/").streaming_content))
    AttendanceRecord.objects.filter(company__name="B Corp").delete()
    before = rows()
    response = upload(root, saved, passphrase=PASSPHRASE)
    assert response.context["counts"]["add"] == 20 and response.context["passphrase"], response.content[:800]
    assert job_rows_hold(PASSPHRASE) == []
    from dj_helpers import through_the_worker

    again = through_the_worker(root, root.post("/restore/preview/", {
        "upload": response.context["upload"].pk, "strategy": "ours", "passphrase": PASSPHRASE}))
    assert again.context["strategy"] == "ours" and again.context["counts"]["add"] == 20, again.content[:800]
    wrong = through_the_worker(root, root.post("/restore/preview/", {
        "upload": response.context["upload"].pk, "strategy": "ours", "passphrase": "nope"}))
    assert "wrong passphrase" in wrong.content.decode()
    assert job_rows_hold(PASSPHRASE) == [] and job_rows_hold("nope") == []
    failed = apply(root, response, passphrase="not it")
    assert "wrong passphrase" in failed.content.decode() and rows() == before
    apply(root, response, passphrase=PASSPHRASE)
    assert AttendanceRecord.objects.count() == 40
    assert job_rows_hold(PASSPHRASE) == [] and job_rows_hold("not it") == []


def test_the_backup_page_refuses_differing_passphrases(root):
    response = root.post("/backup/", {"backup_type": "full", "encryption": "passphrase",
                                      "passphrase": "one", "passphrase_again": "two"})
    assert response.status_code == 400 and "The two passphrases differ" in response.content.decode()


@needs_gpg
def test_the_backup_page_encrypts_for_a_configured_key(root, tmp_path, settings):
    import gnupg

    home = settings.ATTGIT_GNUPGHOME
    gpg = gnupg.GPG(gnupghome=home)
    key = gpg.gen_key(gpg.gen_key_input(key_type="EDDSA", key_curve="ed25519", subkey_type="ECDH",
                                        subkey_curve="cv25519", name_email="site@attgit.invalid",
                                        no_protection=True, expire_date=0))
    assert key.fingerprint
    settings.ATTGIT_BACKUP_RECIPIENTS = [key.fingerprint]
    assert f"key:{key.fingerprint}" in root.get("/backup/").content.decode()
    job = made_backup(root, encryption=f"key:{key.fingerprint}", compression="plain")
    name = job.result["name"]
    assert name.endswith(".json.gpg")
    body = b"".join(root.get(f"/backup/download/{name}/").streaming_content)
    assert crypto.is_encrypted(body[:64]) and json.loads(gpg.decrypt(body).data)["metadata"]
    assert BackupLog.objects.filter(operation="backup_full").latest("created_at").details["encrypted_for"] \
        == key.fingerprint
