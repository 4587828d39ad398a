"""Helpers shared by the Django tests."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner
from django.core.management import call_command
from django.db import connection

from attgit.cli import main
from attgit.format import records as rec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def reset_db() -> None:
    """Empty every table the tests write (at the start of a Hypothesis example)."""
    from django_adapter.models import (
        AttendanceRecord,
        BackupLog,
        Company,
        SyncState,
        User,
    )

    BackupLog.objects.all().delete()
    AttendanceRecord.objects.all().delete()
    User.objects.all().delete()
    Company.objects.all().delete()
    SyncState.objects.all().delete()


def keys(records) -> set:
    return {rec.key(r) for r in records}


def in_stream_order(records) -> list[dict]:
    """Records in the order DjangoWorkingCopy.all_records streams them."""
    return sorted(records, key=lambda r: (r["company"], r["date"], r["ep_no"]))


def database_url() -> str:
    """A DATABASE_URL for the database the tests are using right now (for a
    subprocess); SQLite test databases live in memory and have none."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def site_env(**extra) -> dict:
    """Environment for a subprocess running the example site."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ATTGIT_DB_PATH")}
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES), str(ROOT), env.get("PYTHONPATH", "")])
    env["DJANGO_SETTINGS_MODULE"] = "attendance_site.settings"
    env.update(extra)
    return env


def python(code: str, env: dict, **kwargs) -> subprocess.Popen:
    """Start ``python -c code`` with the site's environment."""
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(EXAMPLES),
                            text=True, **kwargs)


def through_the_worker(client, response):
    """Follow a page's redirects as a browser would, the site's task queue
    (django-tasks-db, as configured) holding each job a page starts until
    the worker's side -- ``jobs.run``, what ``db_worker`` calls -- runs it."""
    from django_adapter.models import Job
    from django_adapter.web import jobs

    while response.status_code == 302:
        for job in Job.objects.filter(status=Job.QUEUED).order_by("created_at"):
            assert job.task_id, f"job {job.pk} was not put on the task queue"
            jobs.run(job.pk)
        response = client.get(response["Location"])
    return response


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def cli_entry(args):
    """The attgit CLI as a click command, so CliRunner captures its output and exit code."""
    main(list(args))


def attgit(*args, code=0) -> str:
    """Run ``attgit ARGS`` in this process (the test's database and settings) and return its
    output; fail unless it exits with ``code``."""
    result = CliRunner().invoke(cli_entry, [*args], catch_exceptions=False)
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}:\n{result.output}"
    return result.output


def manage_attgit(*args) -> str:
    """Run ``manage.py attgit ARGS`` (the management command) and return what it printed."""
    out = io.StringIO()
    call_command("attgit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()
