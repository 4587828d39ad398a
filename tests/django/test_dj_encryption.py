"""Encrypted backup files (issue 12.8): OpenPGP through GnuPG, for a
recipient's public key; decrypted on import (CLI, restore_data, the
restore page) with the private key in the site's GnuPG home.  Keys are
made for the test in a throwaway GNUPGHOME (ed25519/cv25519, no
passphrase); a wrong key and a tampered file are clear errors (exit 4)."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import tempfile

import pytest
from dj_helpers import attgit, reset_db, through_the_worker
from django.core.management import CommandError, call_command

from attgit.errors import ExitCode
from attgit.format import records as rec
from attgit.format.backup import crypto, read_backup
from django_adapter.models import AttendanceRecord, BackupLog

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(shutil.which("gpg") is None, reason="needs GnuPG (apt-get install gnupg)")]

RECIPIENT = "backups@attgit.invalid"


def gnupg_home(email: str):
    """A new GnuPG home (short path: gpg-agent's socket lives in it) with a
    fresh key for ``email``; returns (home, fingerprint)."""
    import gnupg

    home = tempfile.mkdtemp(prefix="agpg-")
    gpg = gnupg.GPG(gnupghome=home)
    key = gpg.gen_key(gpg.gen_key_input(key_type="EDDSA", key_curve="ed25519", subkey_type="ECDH",
                                        subkey_curve="cv25519", name_email=email, no_protection=True,
                                        expire_date=0))
    assert key.fingerprint, key.stderr
    return home, key.fingerprint


def drop_home(home: str) -> None:
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def keys(settings):
    """The site's GnuPG home with the backups key; another home with another key."""
    home, fingerprint = gnupg_home(RECIPIENT)
    other, _ = gnupg_home("someone.else@attgit.invalid")
    settings.ATTGIT_GNUPGHOME = home
    yield home, other, fingerprint
    drop_home(home)
    drop_home(other)


@pytest.fixture
def data(wc, settings, tmp_path):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    reset_db()
    wc.bulk_load([rec.normalise({"ep_no": f"E{i}", "company": c, "date": "2025-01-02", "status": "P"})
                  for c in ("A Corp", "B Corp") for i in range(20)])
    return wc



def assert_no_plain_text(raw: bytes, home: str) -> None:
    """The ciphertext decrypts to the backup, and holds none of the plain
    file's lines (each 20 bytes or more: a chance match in random bytes is
    about 2**-160).  Never a check of a short string's absence, which random
    ciphertext contains now and then (issue 17.7)."""
    import gnupg

    plain = gnupg.GPG(gnupghome=home).decrypt(raw).data
    lines = [line.strip().rstrip(b",") for line in plain.splitlines()]
    records = [line for line in lines if line.startswith(b'{"ep_no":')]
    assert len(records) == 40 and all(len(line) >= 20 for line in records)
    assert [line for line in lines if len(line) >= 20 and line in raw] == []


def rows():
    return sorted(AttendanceRecord.objects.values_list("ep_no", "company__name", "date", "status"))


def test_backup_data_encrypts_and_restore_data_decrypts(keys, data, tmp_path):
    before = rows()
    path = tmp_path / "secret.json.gpg"
    call_command("backup_data", "--output", str(path), "--encrypt", RECIPIENT)
    raw = path.read_bytes()
    assert crypto.is_encrypted(raw[:64])
    assert_no_plain_text(raw, keys[0])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert BackupLog.objects.get(operation="backup_full").details["encrypted_for"] == RECIPIENT
    AttendanceRecord.objects.all().delete()
    call_command("restore_data", "--input", str(path))
    assert rows() == before


def test_attgit_export_encrypts_and_import_decrypts(keys, data, tmp_path, monkeypatch):
    home, _, fingerprint = keys
    monkeypatch.setenv("ATTGIT_GNUPGHOME", home)
    before = rows()
    attgit("init")
    path = tmp_path / "cli.gpg"
    assert "encrypted for" in attgit("export", str(path), "--encrypt", fingerprint)
    assert crypto.is_encrypted(path.read_bytes()[:64])
    AttendanceRecord.objects.all().delete()
    assert "would add 40" in attgit("import", str(path), "--preview")
    attgit("import", str(path))
    assert rows() == before


def test_a_file_for_another_key_is_a_clear_error(keys, data, tmp_path, settings):
    _, other, _ = keys
    path = tmp_path / "secret.gpg"
    call_command("backup_data", "--output", str(path), "--encrypt", RECIPIENT)
    settings.ATTGIT_GNUPGHOME = other  # the site has the wrong private key
    attgit("init")
    output = attgit("import", str(path), code=ExitCode.INVALID_DATA)
    assert "cannot be decrypted" in output and "no private key" in output
    with pytest.raises(CommandError, match="no private key"):
        call_command("restore_data", "--input", str(path))
    assert AttendanceRecord.objects.count() == 40


def test_a_tampered_file_is_a_clear_error(keys, data, tmp_path):
    path = tmp_path / "secret.gpg"
    call_command("backup_data", "--output", str(path), "--encrypt", RECIPIENT)
    raw = bytearray(path.read_bytes())
    raw[len(raw) * 2 // 3] ^= 0x20
    path.write_bytes(bytes(raw))
    attgit("init")
    output = attgit("import", str(path), code=ExitCode.INVALID_DATA)
    assert "cannot be decrypted" in output
    assert "it is damaged" in output
    assert AttendanceRecord.objects.count() == 40
    assert not list(tmp_path.glob("**/plain.json"))


def test_an_unknown_recipient_is_refused_and_nothing_is_written(keys, data, tmp_path):
    with pytest.raises(CommandError, match="no public key"):
        call_command("backup_data", "--output", str(tmp_path / "x.gpg"), "--encrypt", "nobody@attgit.invalid")
    assert list(tmp_path.iterdir()) == []


def test_the_restore_page_decrypts_an_upload(keys, data, tmp_path, client, django_user_model, settings):
    for name in ("ATTGIT_BACKUP_DIR", "ATTGIT_UPLOAD_DIR", "ATTGIT_JOB_DIR"):
        setattr(settings, name, str(tmp_path / name.lower()))
    path = tmp_path / "secret.gpg"
    call_command("backup_data", "--output", str(path), "--encrypt", RECIPIENT)
    AttendanceRecord.objects.filter(ep_no="E1").delete()
    root = django_user_model.objects.create_user("root", password="x", role="root")
    client.force_login(root)
    with open(path, "rb") as f:
        response = through_the_worker(client, client.post("/restore/", {"backup_file": f}))
    assert response.status_code == 200, response.content[:500]
    assert response.context["counts"]["add"] == 2, response.context.get("counts")


def test_reading_without_gnupg_home_access_reports_the_key(keys, data, tmp_path):
    path = tmp_path / "secret.gpg"
    call_command("backup_data", "--output", str(path), "--encrypt", RECIPIENT)
    with read_backup(path, gnupghome=keys[0]) as backup:
        assert backup.encrypted and backup.total_records == 40


class _Bomb(io.RawIOBase):
    """The start of a backup file, then ``size`` bytes of blank space, read
    lazily (so the test never holds or writes the expanded bytes)."""

    def __init__(self, size: int):
        super().__init__()
        self.parts = iter([b'{"metadata":', *([b" " * (1 << 20)] * (size >> 20)), b"{}}"])

    def readable(self) -> bool:
        return True

    def read(self, n=-1) -> bytes:
        return next(self.parts, b"")


def encrypted_bomb(path, size: int) -> None:
    """An OpenPGP message for the backups key that gpg's own compression
    shrinks to a few KB per MB: ``size`` bytes once decrypted."""
    import gnupg

    result = gnupg.GPG(gnupghome=settings_home()).encrypt_file(
        _Bomb(size), [RECIPIENT], output=str(path), armor=False, always_trust=True)
    assert result.ok, result.stderr


def settings_home() -> str:
    from django.conf import settings

    return settings.ATTGIT_GNUPGHOME


def leftovers(*folders) -> list:
    """Files under ``folders`` an import may have left (spools, decrypted copies)."""
    return [os.path.join(d, f) for folder in folders for d, _, files in os.walk(folder) for f in files
            if "attgit-backup-" in d or "attgit-decrypt" in d or f == "plain.json"]


def test_an_encrypted_bomb_is_refused_at_the_limit_everywhere(keys, data, tmp_path, settings, client,
                                                               django_user_model):
    """18.5: 32 MB of blank space encrypted to a few hundred KB; the limit is
    2 MB: the CLI, restore_data and the restore page each refuse it after
    reading past 2 MB, and nothing decrypted is left anywhere."""
    path = tmp_path / "bomb.gpg"
    encrypted_bomb(path, 32 << 20)
    assert path.stat().st_size < 1 << 20
    settings.ATTGIT_DECOMPRESSED_LIMIT = 2 << 20
    attgit("init")
    output = attgit("import", str(path), code=ExitCode.INVALID_DATA)
    assert "larger than the allowed size" in output and "more than 2,097,152 bytes" in output, output
    with pytest.raises(CommandError, match="larger than the allowed size"):
        call_command("restore_data", "--input", str(path))
    for name in ("ATTGIT_BACKUP_DIR", "ATTGIT_UPLOAD_DIR", "ATTGIT_JOB_DIR"):
        setattr(settings, name, str(tmp_path / name.lower()))
    client.force_login(django_user_model.objects.create_user("root", password="x", role="root"))
    with open(path, "rb") as f:
        response = through_the_worker(client, client.post("/restore/", {"backup_file": f}))
    assert "larger than the allowed size" in response.content.decode(), response.content[:2000]
    assert AttendanceRecord.objects.count() == 40
    assert leftovers(tmp_path, settings.ATTGIT_REPO) == []
