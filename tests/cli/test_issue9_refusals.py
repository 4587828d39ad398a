"""Issue 9 through the command: rows forced in around the constraints are
listed all at once (status) and refuse a commit (exit 4); a merge waiting
for a person refuses every command that would move main (exit 7) and
keeps its conflicts and resolutions."""

from __future__ import annotations

import contextlib
import subprocess

import orjson
import pytest
from django.db import connection
from django.utils import timezone

from attgit.errors import ExitCode
from attgit.format.snapshot import SnapshotBuilder, encode_sorted
from attgit.ops.mergestate import MergeState
from attgit.repo.repository import Repository
from django_adapter.models import AttendanceRecord, Company

from ..helpers import AUTHOR, fsck
from .test_cli import run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seeded(tmp_path):
    from django.core.management import call_command

    call_command("seed_demo", records=60, companies=3, seed=11)
    repo = tmp_path / "repo.git"
    run(repo, "init")
    run(repo, "commit", "-m", "first")
    return repo


@contextlib.contextmanager
def constraints_dropped():
    """Write around the CHECK constraints, as a DBA could: SQLite ignores
    them on this connection; PostgreSQL has them dropped, then put back."""
    models = (AttendanceRecord, Company)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA ignore_check_constraints = ON")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")
        return
    with connection.schema_editor() as editor:
        for model in models:
            for constraint in model._meta.constraints:
                if constraint.name != "attendance_record_key":
                    editor.remove_constraint(model, constraint)
    try:
        yield
    finally:
        AttendanceRecord.objects.all().delete()
        Company.objects.all().delete()
        with connection.schema_editor() as editor:
            for model in models:
                for constraint in model._meta.constraints:
                    if constraint.name != "attendance_record_key":
                        editor.add_constraint(model, constraint)


def _force_invalid_rows() -> set:
    """Four invalid things; returns the (company, employee, date) named."""
    rows = list(AttendanceRecord.objects.select_related("company").order_by("company__name", "date", "ep_no")[:3])
    table = AttendanceRecord._meta.db_table
    now = connection.ops.adapt_datetimefield_value(timezone.now())  # a DBA's UPDATE, seen by any change capture
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET status = 'O', updated_at = %s WHERE id = %s", [now, rows[0].pk])
        cursor.execute(f"UPDATE {table} SET in_time = %s, updated_at = %s WHERE id = %s",
                       ["09:00:00xyz" if connection.vendor == "sqlite" else "09:00:00.5", now, rows[1].pk])
        cursor.execute(f"UPDATE {table} SET ep_no = %s, updated_at = %s WHERE id = %s",
                       [rows[2].ep_no + " ", now, rows[2].pk])
    Company.objects.create(name="name with trailing space ")
    named = {(r.company.name, r.ep_no, r.date.isoformat()) for r in rows[:2]}
    named.add((rows[2].company.name, rows[2].ep_no + " ", rows[2].date.isoformat()))
    named.add(("name with trailing space ", None, None))
    return named


def test_rows_forced_around_the_constraints_are_listed_and_refuse_a_commit(seeded):
    repo = Repository.open(seeded)
    head = repo.head()
    with constraints_dropped():
        named = _force_invalid_rows()
        out = run(seeded, "status", "--json", code=ExitCode.INVALID_DATA)
        listed = orjson.loads(out.split("attgit: error")[0])["invalid_rows"]  # stderr follows stdout here
        assert {(r["company"], r["ep_no"], r["date"]) for r in listed} == named
        assert all(r["problems"] for r in listed)
        text = run(seeded, "status", code=ExitCode.INVALID_DATA)
        assert "4 rows in the database cannot be committed" in text
        assert "field 'status' must be one of" in text and "has surrounding spaces" in text
        out = run(seeded, "commit", code=ExitCode.INVALID_DATA)
        assert "4 rows in the database cannot be committed" in out and "nothing was committed" in out
        for company, ep_no, date in named:
            assert f"company {company!r}" in out
            if ep_no is not None:
                assert f"employee {ep_no!r}, date {date}" in out
        assert Repository.open(seeded).head() == head
        assert len(list(Repository.open(seeded).log())) == 1
        fsck(seeded)


# --- a merge waiting for a person -----------------------------------------------

def _publish_conflicting_edits(tmp_path, repo_path) -> tuple:
    """A hub with main's history plus an edit of two records; the same two
    records edited differently in the database."""
    hub = tmp_path / "hub.git"
    subprocess.run(["git", "clone", "--bare", "-q", str(repo_path), str(hub)], check=True)
    hub_repo = Repository.open(hub)
    head = hub_repo.head()
    snap = hub_repo.snapshot(head)
    company = snap.companies()[0]
    records = snap.records(company)
    keys = sorted(records)[:2]
    for key in keys:
        records[key] = {**records[key], "shift": "Hub shift"}
    builder = SnapshotBuilder(hub_repo.git, snap)
    builder.put_blob(company, encode_sorted(company, records)[0])
    commit = hub_repo.write_commit(builder.write(), [head], "hub edit", {}, AUTHOR)
    hub_repo.move_head(head, commit, "hub edit")
    for ep_no, _, date in keys:
        _edit(company, ep_no, date, shift="Local shift")
    return hub, keys


def _edit(company, ep_no, date, **fields):
    row = AttendanceRecord.objects.get(company__name=company, ep_no=ep_no, date=date)
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()


def _assert_merge_kept(repo_path, resolved_id):
    state = MergeState.load(Repository.open(repo_path))
    assert state is not None and len(state.conflicts) == 2 and len(state.pending()) == 1
    assert state.resolutions[resolved_id]["shift"] == "Hub shift"


def test_a_waiting_merge_refuses_commit_checkout_import_pull(seeded, tmp_path):
    hub, keys = _publish_conflicting_edits(tmp_path, seeded)
    run(seeded, "remote", "add", "hub", str(hub))
    backup = tmp_path / "b.json"
    run(seeded, "export", str(backup))  # before the merge: a half-merged database is never exported
    run(seeded, "pull", "hub", "--strategy", "manual", code=ExitCode.CONFLICTS)
    conflicts = orjson.loads(run(seeded, "conflicts", "--json"))
    assert len(conflicts) == 2
    first = conflicts[0]["id"]
    assert "1 conflict left" in run(seeded, "resolve", first, "--theirs")
    head = Repository.open(seeded).head()
    assert "no backup was made" in run(seeded, "export", str(tmp_path / "during.json"), code=ExitCode.CONFLICTS)
    assert not (tmp_path / "during.json").exists()
    _edit(keys[0][1], keys[0][0], keys[0][2], overstay="2")  # an edit made while the merge waits
    for args in (("commit",), ("checkout", "HEAD~1"), ("import", str(backup)), ("pull", "hub")):
        out = run(seeded, *args, code=ExitCode.CONFLICTS)
        assert "a merge is in progress" in out, args
        for hint in ("attgit resolve", "attgit merge --continue", "attgit merge --abort"):
            assert hint in out, (args, out)
        assert Repository.open(seeded).head() == head
        _assert_merge_kept(seeded, first)
    out = run(seeded, "resolve", "--all-ours")
    assert "all conflicts resolved" in out
    shifts = {AttendanceRecord.objects.get(company__name=k[1], ep_no=k[0], date=k[2]).shift for k in keys}
    assert shifts == {"Hub shift", "Local shift"}
    assert AttendanceRecord.objects.get(company__name=keys[0][1], ep_no=keys[0][0], date=keys[0][2]).overstay == "2"
    concluded = Repository.open(seeded)
    assert MergeState.load(concluded) is None and concluded.head() != head
    assert len(concluded.info(concluded.head()).parents) == 2
    fsck(seeded)
