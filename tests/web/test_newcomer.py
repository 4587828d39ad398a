"""The README's Django integration, done as a newcomer does it, from the
README alone: ``django-admin startproject`` in a temporary folder, then
every fenced block the README marks with ``<!-- attgit:apply FILE -->``
applied in order (``settings.py`` and ``urls.py`` blocks appended to the
project's files, ``shell`` blocks run line by line; ``runserver`` and
``db_worker`` started in the background, as a person starts them in two
terminals), then in a real browser: log in on the app's own login page,
make a backup, download it, delete records, restore the file with a preview.

What the test adds to the README's commands, and why: ``createsuperuser``
gets ``--noinput`` and its answers from ``DJANGO_SUPERUSER_*`` (no terminal
here), ``runserver`` a free port, and demo data comes from ``seed_demo``.
The project runs in a clean environment: none of the test suite's Django,
database or attgit variables reach it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .. import browser as chromium

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARK = re.compile(r"^<!-- attgit:apply (\S+) -->\n```[a-z]*\n(.*?)^```$", re.M | re.S)
PASSWORD = "a newcomer's password 7"
RECORDS = 120


def marked_blocks(text: str) -> list[tuple[str, str]]:
    """``(target, body)`` of every block the README marks for this test, in order."""
    return [(target, body) for target, body in MARK.findall(text)]


def test_the_readme_marks_its_integration_steps():
    targets = [target for target, _ in marked_blocks(README.read_text())]
    assert targets.count("settings.py") == 1 and targets.count("urls.py") == 1, targets
    assert set(targets) == {"settings.py", "urls.py", "shell"}, targets
    commands = " ".join(body for target, body in marked_blocks(README.read_text()) if target == "shell")
    for step in ("migrate", "createsuperuser", "runserver", "db_worker"):
        assert f"manage.py {step}" in commands, step


def clean_environment(tmp: Path) -> dict:
    """The user's environment without the suite's settings, with the test
    venv's python first on PATH (the README says ``python``)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "ATTGIT_", "PYTHONPATH")) and k != "DATABASE_URL"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(HOME=str(tmp), DJANGO_SUPERUSER_USERNAME="admin", DJANGO_SUPERUSER_EMAIL="admin@example.com",
               DJANGO_SUPERUSER_PASSWORD=PASSWORD)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Project:
    """A project made by ``startproject``, and the processes started in it."""

    def __init__(self, tmp: Path):
        self.tmp, self.env, self.port = tmp, clean_environment(tmp), free_port()
        self.dir = tmp / "mysite"
        self.background: list[subprocess.Popen] = []

    def run(self, command: str, timeout: float = 300) -> str:
        done = subprocess.run(command, shell=True, cwd=self.dir if self.dir.exists() else self.tmp, env=self.env,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def apply(self, target: str, body: str) -> None:
        if target in ("settings.py", "urls.py"):
            with open(self.dir / "mysite" / target, "a") as out:
                out.write("\n" + body)
            return
        assert target == "shell", target
        for line in body.splitlines():
            command = line.split("#")[0].strip()
            if not command:
                continue
            words = shlex.split(command)
            if words[-1] == "runserver":
                self.start(f"{command} 127.0.0.1:{self.port} --noreload", "runserver")
            elif words[-1] == "db_worker":
                self.start(command, "db_worker")
            elif "createsuperuser" in words:
                self.run(f"{command} --noinput")
            else:
                self.run(command)

    def start(self, command: str, name: str) -> None:
        log = open(self.tmp / f"{name}.log", "ab")
        self.background.append(subprocess.Popen(command, shell=True, cwd=self.dir, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True))

    def wait_for_server(self) -> str:
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/attgit/login/", timeout=5).close()
                return url
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"runserver did not answer:\n{(self.tmp / 'runserver.log').read_text()}")

    def stop(self) -> None:
        for process in self.background:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.background:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def project(tmp_path):
    made = Project(tmp_path)
    yield made
    made.stop()


def test_a_new_project_follows_the_readme_and_backs_up_and_restores_in_a_browser(project, tmp_path):
    if chromium.missing():
        pytest.skip(chromium.missing())
    project.run("django-admin startproject mysite")
    blocks = marked_blocks(README.read_text())
    for target, body in blocks:
        if target != "shell" or "runserver" not in body:
            project.apply(target, body)
    check = project.run("python manage.py check --database default")
    assert "no issues" in check, check
    project.run(f"python manage.py seed_demo --records {RECORDS} --companies 3")
    for target, body in blocks:
        if target == "shell" and "runserver" in body:
            project.apply(target, body)
    url = project.wait_for_server()

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = chromium.launch(p)
        try:
            context = launched.new_context(base_url=url, accept_downloads=True)
            context.set_default_timeout(60_000)
            page = context.new_page()
            page.goto("/attgit/")  # the README's address; anonymous: sent to the app's login page
            assert page.url == f"{url}/attgit/login/?next=/attgit/attendance/", page.url
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/attgit/attendance/")
            assert page.locator("p.count").inner_text() == f"{RECORDS} records"
            page.click("nav.sections >> text=Backup")

            page.click("text=Create backup")  # a job: only the worker finishes it
            page.wait_for_selector("#summary")
            assert page.locator("#job").get_attribute("data-state") == "done"
            with page.expect_download() as info:
                page.click("[data-download]")
            saved = tmp_path / info.value.suggested_filename
            info.value.save_as(saved)
            assert saved.stat().st_size > 0

            project.run('python manage.py shell -c "from django_adapter.models import AttendanceRecord as R; '
                        'R.objects.filter(id__in=list(R.objects.order_by(\'id\').values_list(\'id\', flat=True)'
                        '[:7])).delete()"')
            page.click("nav.sections >> text=Restore")
            page.set_input_files("input[type=file]", str(saved))
            page.click("text=Upload and preview")
            page.wait_for_selector(".tiles")
            counts = {name: int(page.locator(f'[data-count="{name}"]').inner_text().replace(",", ""))
                      for name in ("add", "differ", "skip")}
            assert counts == {"add": 7, "differ": 0, "skip": RECORDS - 7}, counts
            page.click("text=Apply restore")
            page.wait_for_selector("#summary")
            assert page.locator('[data-result="added"]').inner_text() == "7"
            page.click("button:has-text('Log out')")
            page.wait_for_url("**/attgit/login/")
        finally:
            launched.close()
    left = project.run('python manage.py shell -c "from django_adapter.models import AttendanceRecord as R; '
                       'print(R.objects.count())"')
    assert left.strip().splitlines()[-1] == str(RECORDS)
