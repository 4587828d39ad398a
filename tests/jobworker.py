"""A real background worker for the tests: ``manage.py db_worker`` of
django-tasks-db, in a process of its own, on the test database.

    python tests/jobworker.py [POINT]     the worker; with POINT, it stops there

The tests run it against the database pytest-django made (a file for
SQLite, see tests/conftest.py; the test database on PostgreSQL) and the
site folders of the test (repository, backups, uploads, job progress), so
it sees what the pages record once their transaction commits.

With POINT the worker runs its jobs' own code, and at POINT writes
``<ATTGIT_JOB_DIR>/paused-at-POINT`` and waits there, for the test to kill it:

    mid-apply   inside the database transaction, some rows already written
    applied     the transaction is committed; the repository's main has not moved yet
    claimed     the worker has taken a task from the queue (committed) and not started it yet
    written     a backup file is complete, in place, and not yet logged

and one point that only slows the worker down, so a browser can watch a bar move:

    slow        each report of a counted step (records written, conflicts resolved), at most
                one an eighth of the way, takes 0.25 s more
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
START = 30.0


def database_url(settings_dict: dict) -> dict:
    """The environment naming the database ``settings_dict`` describes."""
    if settings_dict["ENGINE"].endswith("sqlite3"):
        name = str(settings_dict["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("a worker process cannot see an in-memory test database (tests/conftest.py "
                               "gives tests that use the worker a file)")
        return {"ATTGIT_DB_PATH": name, "DATABASE_URL": ""}
    user, password = settings_dict.get("USER") or "", settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host, port = settings_dict.get("HOST") or "127.0.0.1", settings_dict.get("PORT") or 5432
    return {"DATABASE_URL": f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"}


class Worker:
    """One ``db_worker`` process; start(), kill() (SIGKILL), stop() (SIGTERM, as a deploy does)."""

    def __init__(self, environ: dict, log: Path):
        self.environ, self.log, self.process = environ, log, None

    def start(self, point: str = "") -> "Worker":
        args = [sys.executable, str(Path(__file__).resolve()), *([point] if point else [])]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(args, env=self.environ, stdout=out, stderr=subprocess.STDOUT,
                                            cwd=str(EXAMPLES))
        deadline = time.monotonic() + START
        ready = Path(self.environ["ATTGIT_JOB_DIR"]) / f"worker-{self.process.pid}.ready"
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until_paused(self, point: str, timeout: float = 60.0) -> None:
        marker = Path(self.environ["ATTGIT_JOB_DIR"]) / f"paused-at-{point}"
        deadline = time.monotonic() + timeout
        while not marker.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the worker never reached {point}:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)
        marker.unlink()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


# --- the worker process ---------------------------------------------------------------

def pause_at(point: str) -> None:
    from django.conf import settings

    from django_adapter.bulk import RecordWriter
    from django_adapter.workingcopy import DjangoWorkingCopy

    def pause():
        (Path(settings.ATTGIT_JOB_DIR) / f"paused-at-{point}").write_text(str(os.getpid()))
        time.sleep(3600)

    def after(owner, name):
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)
            pause()
            return result

        setattr(owner, name, wrapper)

    def before(owner, name):
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            pause()
            return original(*args, **kwargs)

        setattr(owner, name, wrapper)

    if point == "slow":
        slow_progress()
    elif point == "written":
        from django_adapter import backups

        after(backups, "write_file")
    elif point == "claimed":
        from django_tasks_db.management.commands.db_worker import Worker as TaskWorker

        before(TaskWorker, "run_task")
    elif point == "mid-apply":
        after(RecordWriter, "insert")
    elif point == "applied":
        after(DjangoWorkingCopy, "apply")
    else:
        raise SystemExit(f"unknown point {point!r}")


def slow_progress(pause: float = 0.25) -> None:
    from django_adapter.web import jobs

    real = jobs.Progress.counter

    def counter(self, label):
        report, last = real(self, label), [0]

        def slowly(done, total):
            report(done, total)
            if total and (done - last[0] >= max(1, total // 8) or done == total):
                last[0] = done
                self.update(label, done, total, force=True)
                time.sleep(pause)

        return slowly

    jobs.Progress.counter = counter


def main(argv: list[str]) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if argv:
        pause_at(argv[0])
    (Path(settings.ATTGIT_JOB_DIR) / f"worker-{os.getpid()}.ready").touch()
    call_command("db_worker", "--no-startup-delay", "--interval", "0.1", "--no-reload", verbosity=0)


if __name__ == "__main__":
    sys.path[0:1] = [str(EXAMPLES), str(ROOT)]  # not tests/: its django/ folder
    main(sys.argv[1:])
