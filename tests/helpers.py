"""Small helpers shared by tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import gzip
import io
import subprocess

from attgit.format import records as rec
from attgit.repo.repository import Author

AUTHOR = Author("tester", "tester@example.com", 1_700_000_000)


def record(ep_no="E001", company="ABC Corp", date="2025-11-20", **fields) -> dict:
    base = {"ep_no": ep_no, "ep_name": f"Name {ep_no}", "company": company, "date": date, "shift": "Day",
            "status": "P", "in_time": "09:00", "out_time": "17:00", "overstay": "0"}
    base.update(fields)
    return rec.normalise(base)


def git(*args, cwd=None) -> str:
    """Run C git and return its output; raises with git's stderr on failure."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def fsck(path) -> None:
    git("-C", str(path), "fsck", "--strict", "--no-progress")


def as_set(wc) -> set:
    """A database's content as comparable data."""
    return {tuple(sorted(r.items(), key=lambda kv: kv[0])) for r in wc.all_records()}


def bomb(size: int) -> bytes:
    """A gzip file of a few KB holding a valid start and ``size`` bytes of blank space."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as z:
        z.write(b'{"metadata":')
        chunk = b" " * (1 << 20)
        for _ in range(size >> 20):
            z.write(chunk)
        z.write(b"{}}")
    return out.getvalue()


def unlogged_edit(record_id: int) -> None:
    """An edit made while the update trigger was away, the trigger put back
    exactly and its stamp forged (what no check of the triggers can see):
    only a full compare finds it (Django tests only)."""
    from django.db import connection

    from django_adapter import changelog

    name = "attgit_log_record_update"
    table = "attendance_attendancerecord"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {name}" + (f" ON {table}" if connection.vendor == "postgresql" else ""))
        cursor.execute(f"UPDATE {table} SET ep_name = 'Unlogged' WHERE id = %s", [record_id])
        cursor.execute(changelog.triggers(connection.vendor)[name])
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")
        cursor.execute("UPDATE attendance_syncstate SET capture = %s WHERE name = 'default'",
                       [changelog._identity(connection)])
