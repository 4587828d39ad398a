"""`attgit verify --database`: the change log's safety net (issue 18.1).
Edits the log cannot see (made while a trigger was dropped) are found by
the full compare, reported loudly (exit 12, audit log) and committed as a
repair; ordinary logged edits are not a problem."""

from __future__ import annotations

import orjson
import pytest

from attgit.errors import ExitCode
from attgit.ops.capture import Pending, database_tree
from attgit.repo.repository import Repository
from django_adapter.models import AttendanceRecord, BackupLog

from ..helpers import unlogged_edit
from .test_cli import run

pytestmark = pytest.mark.django_db(transaction=True)


def test_verify_database_finds_reports_and_repairs_what_the_log_missed(seeded):
    run(seeded, "commit")
    ordinary, hidden = AttendanceRecord.objects.order_by("id")[:2]
    AttendanceRecord.objects.filter(id=ordinary.id).update(status="WO" if ordinary.status != "WO" else "P")
    out = run(seeded, "verify", "--database")
    assert "ok (1 logged edit not committed yet)" in out
    unlogged_edit(hidden.id)
    assert orjson.loads(run(seeded, "status", "--json"))["changed"] == 1  # the log cannot see it

    out = run(seeded, "verify", "--database", code=ExitCode.INTEGRITY)
    assert f"the change log missed edits in {hidden.company.name}: 0 added, 1 changed, 0 deleted" in out
    entry = BackupLog.objects.filter(operation="verify_database").latest("id")
    assert not entry.success and "change log missed" in entry.error_message

    out = run(seeded, "verify", "--database", "--repair")
    assert "repair snapshot" in out
    entry = BackupLog.objects.filter(operation="verify_database").latest("id")
    assert not entry.success and entry.commit == log_head(seeded) and "change log missed" in entry.error_message
    log = orjson.loads(run(seeded, "log", "--json"))
    assert log[0]["type"] == "repair"
    assert "Repair: edits the change log missed in 1 company\n" in run(seeded, "log", "-n", "1", "--oneline")
    repo = Repository.open(seeded)
    full = database_tree(repo, _db(), repo.snapshot(None), Pending(None, True))
    assert str(repo.git[repo.head()].tree_id) == str(full.tree.id)
    assert "ok (0 logged edits" in run(seeded, "verify", "--database")


def test_repair_needs_database(seeded):
    run(seeded, "verify", "--repair", code=ExitCode.USAGE)


def log_head(path) -> str:
    return str(Repository.open(path).head())


def _db():
    from django_adapter.workingcopy import DjangoWorkingCopy

    return DjangoWorkingCopy()
