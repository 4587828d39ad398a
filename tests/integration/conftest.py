"""Fixtures of the integration tests: environments on real databases, and
real git servers (``git daemon``, ``git http-backend``, OpenSSH's ``sshd``)
on 127.0.0.1."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .envs import Databases, Env, Pair, postgres_url

# The Django settings the test process itself runs with; a subprocess gets
# its own through envs.site_environ.
GIT_SERVER_START = 20.0


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    """Databases for environments, on PostgreSQL when DATABASE_URL names a
    server, else SQLite files."""
    dbs = Databases(tmp_path_factory.mktemp("databases"), postgres_url())
    yield dbs
    dbs.drop_all()


@pytest.fixture
def make_env(databases, tmp_path):
    """make_env("prod") -> a new environment with an empty, migrated
    database and no repository yet."""

    def make(name: str) -> Env:
        return Env(name, tmp_path, databases.create(name))

    return make


@pytest.fixture(scope="session")
def pair_template(databases, tmp_path_factory) -> Pair:
    """Environments a and b in sync through a hub, 120 records of 3 companies."""
    return Pair(databases, tmp_path_factory.mktemp("pair"), records=120, companies=3)


@pytest.fixture
def pair(pair_template) -> Pair:
    """a, b and their hub as pair_template saved them (a file copy each)."""
    return pair_template.restore()


def free_port() -> int:
    """A port nobody listens on right now (also: an unreachable remote)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + GIT_SERVER_START
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> Path:
    """The folder both git servers export: put repositories here."""
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="session")
def git_daemon(served):
    """``git daemon`` exporting ``served`` with push enabled; yields the URL
    prefix (git://127.0.0.1:PORT/)."""
    for _ in range(5):  # another process may take the free port first
        port = free_port()
        process = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--listen=127.0.0.1",
             f"--port={port}", f"--base-path={served}", str(served)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _wait_for_port(port, process):
            break
        process.kill()
        process.wait()
    else:
        pytest.fail("git daemon did not start")
    yield f"git://127.0.0.1:{port}/"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def git_http(served):
    """``git http-backend`` behind a threaded HTTP server exporting
    ``served``; yields the URL prefix (http://127.0.0.1:PORT/)."""
    script = Path(__file__).with_name("githttp.py")
    process = subprocess.Popen([sys.executable, str(script), str(served)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    port = int(process.stdout.readline())
    if not _wait_for_port(port, process):
        pytest.fail("the git HTTP server did not start")
    yield f"http://127.0.0.1:{port}/"
    process.terminate()
    process.wait(10)


SSHD = "/usr/sbin/sshd"


@pytest.fixture(scope="session")
def git_ssh(served, tmp_path_factory):
    """A real ``sshd`` on 127.0.0.1 with a throwaway host key and client
    key (its own config, its own port, StrictModes off so the temp files
    may be anyone's); yields the URL prefix (ssh://USER@127.0.0.1:PORT/SERVED/).
    GIT_SSH_COMMAND names the client key and the pinned host key, as a
    deployment's ssh config would; attgit adds BatchMode to it."""
    if not os.path.exists(SSHD):
        pytest.skip("OpenSSH's sshd is not installed (./run-tests installs openssh-server with apt-get)")
    root = tmp_path_factory.mktemp("sshd")
    for key in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", str(root / key)], check=True)
    shutil.copy(root / "client.pub", root / "authorized_keys")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    process, port = _start_sshd(root)
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {(root / 'host.pub').read_text()}")
    saved = os.environ.get("GIT_SSH_COMMAND")
    os.environ["GIT_SSH_COMMAND"] = (f"ssh -i {root / 'client'} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes "
                                     f"-o UserKnownHostsFile={root / 'known_hosts'}")
    yield f"ssh://{getpass.getuser()}@127.0.0.1:{port}{served}/"
    if saved is None:
        os.environ.pop("GIT_SSH_COMMAND", None)
    else:
        os.environ["GIT_SSH_COMMAND"] = saved
    process.terminate()
    process.wait(10)


def _start_sshd(root: Path):
    for _ in range(5):  # another process may take the free port first
        port = free_port()
        config = root / "sshd_config"
        config.write_text("\n".join([
            f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {root / 'host'}", f"PidFile {root / 'sshd.pid'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}", "StrictModes no", "PubkeyAuthentication yes",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "PermitRootLogin yes",
            f"AllowUsers {getpass.getuser()}", "LogLevel ERROR", ""]))
        process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                   stderr=open(root / "sshd.log", "a"))
        if _wait_for_port(port, process):
            return process, port
        process.kill()
        process.wait()
    pytest.fail(f"sshd did not start: {(root / 'sshd.log').read_text()}")
