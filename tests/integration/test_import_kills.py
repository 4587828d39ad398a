"""Decrypted backups never leak to disk (issue 17.3): a real ``attgit
import`` of an OpenPGP-encrypted backup file is killed with SIGTERM and
SIGKILL at random moments, and after the next command (``attgit status``)
no file under the environment's folders -- the repository, the site's var
folder, the process's $TMPDIR, the GnuPG home -- holds a plain-text record
(searched for an employee name found only in the encrypted file).  The
database itself is elsewhere, and may hold the records: that is an import.
The trials follow each other without a reset: once one import has
finished, the next ones read, decrypt and spool the whole file as before
and then have nothing to change.

The long run (20 kills of each kind) is marked ``slow``; the normal suite
runs 3 of each.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from attgit.format import records as rec
from attgit.format.backup import crypto, write_backup
from attgit.format.backup.spool import SPOOL_FOLDER

from .envs import ATTGIT

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs GnuPG")

SECRET_NAME = "Quillon Marchbanks-Oyelaran"
RECIPIENT = "kills@attgit.invalid"
RECORDS = 12_000


def make_key(home: Path) -> None:
    import gnupg

    home.mkdir(mode=0o700)
    gpg = gnupg.GPG(gnupghome=str(home))
    key = gpg.gen_key(gpg.gen_key_input(key_type="EDDSA", key_curve="ed25519", subkey_type="ECDH",
                                        subkey_curve="cv25519", name_email=RECIPIENT, no_protection=True,
                                        expire_date=0))
    assert key.fingerprint, key.stderr


def encrypted_backup(path: Path, home: Path) -> None:
    """RECORDS records, each employee named SECRET_NAME, encrypted for the key."""
    records = (rec.normalise({"ep_no": f"K{i:05d}", "ep_name": SECRET_NAME, "company": f"Kill Co {i % 3}",
                              "date": f"2025-0{1 + i % 9}-1{i % 10}", "status": "P", "shift": "Day"})
               for i in range(RECORDS))
    plain = io.BytesIO()
    write_backup(plain, [], records, backup_type="full", created_by="kills")
    plain.seek(0)
    crypto.encrypt(plain, RECIPIENT, str(path), str(home), always_trust=True)


class Trial:
    """Environment ``a`` (a repository, a database of other records) with an
    encrypted backup file beside it."""

    def __init__(self, make_env, tmp_path: Path):
        self.root = tmp_path
        self.home = tmp_path / "gnupg"
        make_key(self.home)
        self.tmpdir = tmp_path / "tmpdir"
        self.tmpdir.mkdir()
        self.file = tmp_path / "secret.json.gpg"
        encrypted_backup(self.file, self.home)
        self.env = make_env("a")
        self.env.seed(300, 2)
        self.run("init")
        self.run("commit", "-m", "first")

    def environ(self) -> dict:
        return self.env.environ(ATTGIT_GNUPGHOME=str(self.home), TMPDIR=str(self.tmpdir))

    def run(self, *args, code=0) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.command(), *args], env=self.environ(), capture_output=True, text=True,
                              timeout=300, cwd=str(self.root))
        assert code is None or done.returncode == code, f"{args}: exit {done.returncode}\n{done.stderr}"
        return done

    def command(self) -> list:
        return [ATTGIT]

    def leaks(self) -> list:
        """Every file under the environment's folders holding the secret name."""
        needle = SECRET_NAME.encode()
        found = []
        for folder, _, files in os.walk(self.root):
            for name in files:
                path = os.path.join(folder, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append(path)
        return found

    def spools(self) -> list:
        folder = self.env.repo_path / SPOOL_FOLDER
        return sorted(os.listdir(folder)) if folder.exists() else []


def kill_trials(make_env, tmp_path, kills: int, seed: int) -> None:
    t = Trial(make_env, tmp_path)
    started = time.monotonic()
    done = t.run("import", str(t.file))
    duration = time.monotonic() - started
    assert "did add" in done.stdout, done.stdout
    assert t.leaks() == [] and t.spools() == []
    rng = random.Random(seed)
    plan = [(sig, duration * (i + rng.random()) / kills) for sig in (signal.SIGTERM, signal.SIGKILL)
            for i in range(kills)]
    rng.shuffle(plan)
    outcomes = []
    for n, (sig, delay) in enumerate(plan):
        process = subprocess.Popen([*t.command(), "import", str(t.file)], env=t.environ(), cwd=str(t.root),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        process.send_signal(sig)
        _, err = process.communicate(timeout=300)
        outcomes.append(process.returncode)
        what = f"trial {n} (seed {seed}): {sig.name} after {delay:.2f} s, exit {process.returncode}"
        assert "Traceback" not in err, f"{what}\n{err}"
        if sig == signal.SIGTERM and process.returncode not in (0, -sig):  # -15: before Python set its handler
            assert process.returncode == 128 + sig and "terminated" in err, f"{what}\n{err}"
            assert t.spools() == [], f"{what}: SIGTERM left a spool"
        t.run("status", code=None)  # the next command sweeps what a SIGKILL left
        assert t.spools() == [], f"{what}: the next command left {t.spools()}"
        assert t.leaks() == [], f"{what}: plain-text records on disk: {t.leaks()}"
    print(f"\nunkilled import {duration:.2f} s; exits of the killed ones: {sorted(outcomes)}")


def test_killed_imports_leave_no_plain_text(make_env, tmp_path):
    kill_trials(make_env, tmp_path, 3, seed=time.time_ns() % 100_000)


@pytest.mark.slow
def test_twenty_sigterms_and_sigkills_leave_no_plain_text(make_env, tmp_path):
    kill_trials(make_env, tmp_path, 20, seed=int(os.environ.get("ATTGIT_CRASH_SEED", time.time_ns() % 100_000)))


def test_a_sigterm_ends_an_import_cleanly(make_env, tmp_path):
    """SIGTERM is an interruption: the command says so and exits 143,
    removing its spool (not killed where it stands, as Python's default)."""
    t = Trial(make_env, tmp_path)
    process = subprocess.Popen([*t.command(), "import", str(t.file)], env=t.environ(), cwd=str(t.root),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = t.env.repo_path / SPOOL_FOLDER
    deadline = time.monotonic() + 60
    while not (folder.exists() and os.listdir(folder)) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    if process.returncode == 0:
        pytest.skip("the import finished before the signal came")
    assert process.returncode == 128 + signal.SIGTERM and "terminated (signal 15)" in err, err
    assert t.spools() == [] and t.leaks() == [], (err, process.pid, [os.listdir(folder / n) for n in t.spools()])
