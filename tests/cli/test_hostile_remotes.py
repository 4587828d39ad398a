"""Hostile remotes (issue 18.6): only path, file, git, ssh, http(s)
transports, and every network git command stopped, with a clear message,
when a remote answers nothing."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from attgit.errors import ExitCode
from attgit.repo import cgit

from ..helpers import git
from .test_cli import run

pytestmark = pytest.mark.django_db(transaction=True)
HOSTILE = ["fd::17", "ext::sh -c touch% /tmp/attgit-ext-ran", "FD::0", "foo::bar", "ftp://example.com/r.git"]


@pytest.mark.parametrize("url", HOSTILE)
def test_a_hostile_transport_is_refused_by_remote_add_and_clone(seeded, tmp_path, url):
    out = run(seeded, "remote", "add", "bad", url, code=ExitCode.USAGE)
    assert "transport attgit does not allow" in out, out
    out = run(tmp_path / "c.git", "clone", url, code=ExitCode.USAGE)
    assert "transport attgit does not allow" in out and not (tmp_path / "c.git").exists(), out


@pytest.mark.parametrize("command", [["fetch", "bad"], ["pull", "bad", "--preview"], ["push", "bad"]])
def test_a_hostile_url_written_into_the_git_config_by_hand_is_refused(seeded, command):
    run(seeded, "commit", "-m", "one")
    git("-C", str(seeded), "remote", "add", "bad", "fd::17")
    started = time.monotonic()
    out = run(seeded, *command, code=ExitCode.USAGE)
    assert "transport attgit does not allow (fd)" in out, out
    assert time.monotonic() - started < 60  # refused, not waited on


def test_c_git_itself_may_not_use_ext(tmp_path):
    marker = tmp_path / "ran"
    done = cgit.run(["ls-remote", f"ext::sh -c touch% {marker}"])
    assert not done.ok and not marker.exists()
    assert "transport 'ext' not allowed" in done.error(), done.error()


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list = []
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"git://127.0.0.1:{server.getsockname()[1]}/attendance.git"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("command", [["fetch", "quiet"], ["push", "quiet"], ["clone"]])
def test_a_remote_that_never_answers_is_stopped_with_a_clear_message(seeded, tmp_path, silent_server,
                                                                      monkeypatch, command):
    monkeypatch.setenv("ATTGIT_NETWORK_TIMEOUT", "2")
    run(seeded, "commit", "-m", "one")
    if command == ["clone"]:
        from django_adapter.models import AttendanceRecord, Company, SyncState

        AttendanceRecord.objects.all().delete()
        Company.objects.all().delete()
        SyncState.objects.all().delete()
        target, args = tmp_path / "c.git", ["clone", silent_server]
    else:
        run(seeded, "remote", "add", "quiet", silent_server)
        target, args = seeded, command
    out = run(target, *args, code=ExitCode.REMOTE)
    assert "no answer for 2 s" in out and "ATTGIT_NETWORK_TIMEOUT" in out, out


def test_a_bad_timeout_setting_is_named(seeded, monkeypatch):
    run(seeded, "remote", "add", "other", str(seeded))
    monkeypatch.setenv("ATTGIT_NETWORK_TIMEOUT", "soon")
    out = run(seeded, "fetch", "other", code=ExitCode.CONFIG)
    assert "ATTGIT_NETWORK_TIMEOUT='soon'" in out, out
