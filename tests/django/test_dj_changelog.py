"""The triggers see every way of writing the attendance tables, and
status, diff and commit built from their log equal a full re-read (on
SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import orjson
import pytest
from django.core.management import call_command
from django.db import connection

from attgit.errors import Rejected
from attgit.format.snapshot import SnapshotBuilder
from attgit.ops.capture import Pending, database_tree
from attgit.ops.commit import snapshot_database
from attgit.ops.compare import diff_database, status
from attgit.ops.pull import pull_commit
from attgit.ops.restore import checkout
from attgit.repo.repository import Author, Repository
from attgit.workingcopy import CompanyChange
from django_adapter import changelog
from django_adapter.models import AttendanceRecord, Company
from django_adapter.workingcopy import DjangoWorkingCopy

pytestmark = pytest.mark.django_db(transaction=True)
AUTHOR = Author("tester", "tester@example.com", 1_700_000_000)


@pytest.fixture
def env(tmp_path):
    call_command("seed_demo", records=90, companies=3, seed=5)
    repo = Repository.init(tmp_path / "r.git")
    db = DjangoWorkingCopy()
    assert snapshot_database(repo, db, AUTHOR).kind == "full"
    assert db.log_size() == 0
    return repo, db


def full_tree(repo, db) -> str:
    return str(database_tree(repo, db, repo.snapshot(None), Pending(None, True)).tree.id)


def other_connection():
    """A second connection to the test database, outside Django (another
    program's, or a DBA's)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        name = settings["NAME"]
        if connection.is_in_memory_db():
            name = settings["TEST"].get("NAME") or "file:memorydb_default?mode=memory&cache=shared"
        return sqlite3.connect(name, uri=name.startswith("file:"), isolation_level=None, timeout=10)
    import psycopg

    return psycopg.connect(dbname=settings["NAME"], host=settings["HOST"] or "127.0.0.1",
                           port=settings["PORT"] or 5432, user=settings["USER"],
                           password=settings["PASSWORD"] or None, autocommit=True)


def raw(sql: str, params=()) -> None:
    other = other_connection()
    try:
        other.execute(sql.replace("%s", "?") if connection.vendor == "sqlite" else sql, params)
        if connection.vendor == "sqlite":
            other.commit()
    finally:
        other.close()


def company(n=0) -> Company:
    return Company.objects.order_by("name")[n]


def some(n=1, of=0):
    return list(AttendanceRecord.objects.filter(company=company(of)).order_by("id")[:n])


def assert_seen_and_committed(repo, db, changed_companies) -> None:
    """status, diff and commit from the log agree with a full comparison,
    and the spliced commit's tree is the full re-read's."""
    seen, proof = status(repo, db), status(repo, db, full=True)
    assert not seen.scanned_all and not seen.clean
    assert (seen.added, seen.changed, seen.deleted, sorted(seen.companies)) == \
        (proof.added, proof.changed, proof.deleted, sorted(proof.companies))
    assert sorted(seen.companies) == sorted(changed_companies)
    diffs = [(d.company, d.counts) for d in diff_database(repo, db)]
    assert diffs == [(d.company, d.counts) for d in diff_database(repo, db, full=True)]
    result = snapshot_database(repo, db, AUTHOR)
    assert result.created and result.kind == "incremental"
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)
    assert db.log_size() == 0 and status(repo, db, full=True).clean


def test_save(env):
    row = some()[0]
    row.status = "A" if row.status != "A" else "P"
    row.save()
    assert_seen_and_committed(*env, [company().name])


def test_queryset_update_of_many_rows(env):
    ids = [r.id for r in some(20)] + [r.id for r in some(5, of=1)]
    AttendanceRecord.objects.filter(id__in=ids).update(status="WO", shift="Night")
    assert_seen_and_committed(*env, [company().name, company(1).name])


def test_bulk_update(env):
    rows = some(3, of=2)
    for r in rows:
        r.ep_name = f"Renamed {r.id}"
    AttendanceRecord.objects.bulk_update(rows, ["ep_name"])
    assert_seen_and_committed(*env, [company(2).name])


def test_bulk_create(env):
    AttendanceRecord.objects.bulk_create([
        AttendanceRecord(ep_no=f"NEW{n}", ep_name="New", company=company(1), date=dt.date(2030, 1, n + 1),
                         status="P") for n in range(4)])
    assert_seen_and_committed(*env, [company(1).name])


def test_delete(env):
    AttendanceRecord.objects.filter(id__in=[r.id for r in some(4)]).delete()
    some(1, of=2)[0].delete()
    assert_seen_and_committed(*env, [company().name, company(2).name])


def test_update_moving_a_record_to_another_date_and_company(env):
    first, second = some(2)
    AttendanceRecord.objects.filter(id=first.id).update(date=dt.date(2031, 5, 5))
    AttendanceRecord.objects.filter(id=second.id).update(company=company(1), date=dt.date(2031, 6, 6))
    assert_seen_and_committed(*env, [company().name, company(1).name])


def test_raw_sql_from_another_connection(env):
    target = some(1, of=1)[0]
    raw("UPDATE attendance_attendancerecord SET status = %s WHERE id = %s", ["L", target.id])
    raw("DELETE FROM attendance_attendancerecord WHERE id = %s", [some(1, of=2)[0].id])
    assert_seen_and_committed(*env, [company(1).name, company(2).name])


def test_loaddata(env, tmp_path):
    row = some(1, of=2)[0]
    fixture = tmp_path / "edit.json"
    fields = {"ep_no": row.ep_no, "ep_name": "Loaded", "company": row.company_id, "date": str(row.date),
              "shift": row.shift, "status": row.status, "in_time": None, "out_time": None,
              "overstay": row.overstay, "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}
    fixture.write_bytes(orjson.dumps([
        {"model": "attendance.attendancerecord", "pk": row.id, "fields": fields},
        {"model": "attendance.attendancerecord", "pk": 999_999,
         "fields": {**fields, "ep_no": "LOADED", "date": "2032-02-02"}},
    ]))
    call_command("loaddata", str(fixture), verbosity=0)
    assert_seen_and_committed(*env, [company(2).name])


def test_company_rename_and_delete(env):
    renamed, gone = company(0), company(1)
    old_name = renamed.name
    renamed.name = "Renamed Holdings"
    renamed.save()
    gone.delete()  # cascades to its records
    assert_seen_and_committed(*env, [old_name, "Renamed Holdings", gone.name])
    assert "Renamed Holdings" in repo_companies(env[0])


def repo_companies(repo) -> list:
    return repo.snapshot(repo.head()).companies()


def test_an_edit_by_another_program_while_a_commit_runs_is_in_the_next_commit(env):
    repo, db = env
    edited, late = some(1, of=0)[0], some(1, of=2)[0]
    AttendanceRecord.objects.filter(id=edited.id).update(status="HD")
    late_company = late.company.name

    def meanwhile(name):  # after the log was read, before the rows are
        if name == edited.company.name:
            raw("UPDATE attendance_attendancerecord SET status = %s WHERE id = %s", ["OD", late.id])

    first = snapshot_database(repo, db, AUTHOR, progress=meanwhile)
    assert first.created and first.changed_companies == [edited.company.name]
    assert db.log_size() == 1  # the other program's edit stays logged
    second = snapshot_database(repo, db, AUTHOR)
    assert second.created and second.changed_companies == [late_company]
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)


def test_apply_refuses_an_edit_made_after_its_plan_and_keeps_it(env):
    repo, db = env
    seen = db.state().watermark
    target = some(1, of=1)[0]
    raw("UPDATE attendance_attendancerecord SET ep_name = %s WHERE id = %s", ["Meanwhile", target.id])
    record = next(db.records(company(1).name))
    with pytest.raises(Rejected):
        db.apply([CompanyChange(company(1).name, updates=[{**record, "shift": "Other"}])], "f" * 40, expect=seen)
    assert AttendanceRecord.objects.get(id=target.id).ep_name == "Meanwhile" and db.log_size() == 1


def test_the_log_is_consumed_by_checkout_pull_and_import(env, tmp_path, settings):
    repo, db = env
    first = repo.head()
    AttendanceRecord.objects.filter(id__in=[r.id for r in some(5)]).delete()
    snapshot_database(repo, db, AUTHOR)
    checkout(repo, db, AUTHOR, str(first))
    assert db.log_size() == 0 and status(repo, db, full=True).clean
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)

    # pull: a commit made elsewhere (a fast-forward), then a diverged one (a merge)
    head = repo.head()
    base = repo.snapshot(head)
    name = company(2).name
    records = base.records(name)
    builder = SnapshotBuilder(repo.git, base)
    builder.put_records(name, sorted(({**r, "overstay": "9"} for r in records.values()),
                                     key=lambda r: (r["date"], r["ep_no"])))
    theirs = repo.write_commit(builder.write(), [head], "elsewhere", {}, AUTHOR)
    pull_commit(repo, db, AUTHOR, theirs, "other")
    assert db.log_size() == 0 and status(repo, db, full=True).clean
    AttendanceRecord.objects.filter(id=some(1, of=0)[0].id).update(status="L")
    other = SnapshotBuilder(repo.git, repo.snapshot(theirs))
    other.remove(company(1).name)
    diverged = repo.write_commit(other.write(), [theirs], "elsewhere again", {}, AUTHOR)
    assert pull_commit(repo, db, AUTHOR, diverged, "other").status == "merged"
    assert db.log_size() == 0 and status(repo, db, full=True).clean
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)

    settings.ATTGIT_REPO = str(repo.path)
    backup = tmp_path / "backup.json"
    call_command("backup_data", "--type", "full", "--output", str(backup))
    AttendanceRecord.objects.filter(company=company(0)).update(status="A")
    call_command("restore_data", "--input", str(backup), "--strategy", "backup_wins")
    assert db.log_size() == 0 and status(repo, db, full=True).clean
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)


def test_missing_triggers_are_detected_and_everything_compared(env):
    repo, db = env
    changelog.uninstall(connection)
    try:
        assert not db.capture_installed() and db.changes() is None
        AttendanceRecord.objects.filter(id=some(1, of=1)[0].id).update(status="L")  # unlogged
        seen = status(repo, db)
        assert seen.capture_missing and seen.scanned_all and seen.changed == 1
        result = snapshot_database(repo, db, AUTHOR)
        assert result.created and result.capture_missing and result.kind == "full"
        AttendanceRecord.objects.filter(id=some(1, of=2)[0].id).update(status="L")  # unlogged too
    finally:
        assert changelog.install(connection)  # they were missing: "everything" is logged
    assert db.capture_installed()
    again = status(repo, db)
    assert again.scanned_all and not again.capture_missing and again.changed == 1
    assert snapshot_database(repo, db, AUTHOR).kind == "full"
    assert not status(repo, db).scanned_all and db.log_size() == 0
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)


def test_seed_demo_logs_compare_everything_not_a_row_each(env):
    """seed_demo's bulk load skips the row triggers and logs one "everything"
    entry: the next commit compares every row (a full commit) and equals a
    full re-read; the triggers are back and log the next edit again."""
    repo, db = env
    call_command("seed_demo", records=60, companies=2, seed=9, clear=True)
    assert db.capture_installed() and db.log_size() == 1
    assert db.changes().everything
    seen = status(repo, db)
    assert seen.scanned_all and not seen.capture_missing and not seen.clean
    assert snapshot_database(repo, db, AUTHOR).kind == "full"
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)
    assert db.log_size() == 0 and status(repo, db, full=True).clean
    row = some()[0]
    row.status = "A" if row.status != "A" else "P"
    row.save()
    assert_seen_and_committed(repo, db, [company().name])


# --- issue 18.1: edits the log used to miss ----------------------------------

def other_session(*statements) -> None:
    """Run ``statements`` in one session of another program (SQLite: one
    transaction, as sqlite3's shell would)."""
    other = other_connection()
    try:
        for sql, params in statements:
            other.execute(sql.replace("%s", "?") if connection.vendor == "sqlite" else sql, params)
        if connection.vendor == "sqlite":
            other.commit()
    finally:
        other.close()


def assert_compared_and_committed(repo, db, reason: str) -> None:
    """The log is doubted (``reason``): status compares every row, says
    why, and agrees with a full compare; the commit equals a full re-read."""
    seen, proof = status(repo, db), status(repo, db, full=True)
    assert seen.scanned_all and db.changes().everything
    assert (seen.added, seen.changed, seen.deleted) == (proof.added, proof.changed, proof.deleted)
    assert not proof.clean
    result = snapshot_database(repo, db, AUTHOR)
    assert result.created
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)
    assert status(repo, db, full=True).clean and not status(repo, db).scanned_all


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_sqlite_replace_through_an_id_conflict_logs_the_replaced_row(env):
    """REPLACE removes the row holding the id without firing its DELETE
    trigger: the BEFORE INSERT trigger logs it."""
    victim, other = some(1, of=0)[0], some(1, of=1)[0]
    raw("REPLACE INTO attendance_attendancerecord (id, ep_no, ep_name, company_id, date, shift, status, "
        "overstay, created_at, updated_at) VALUES (%s, 'R1', 'Replacer', %s, '2033-03-03', '', 'P', '', "
        "'2024-01-01', '2024-01-01')", [victim.id, other.company_id])
    assert not AttendanceRecord.objects.filter(ep_no=victim.ep_no, date=victim.date,
                                               company_id=victim.company_id).exists()
    assert_seen_and_committed(*env, [company(0).name, company(1).name])


@pytest.mark.skipif("connection.vendor != 'sqlite'")
@pytest.mark.parametrize("holding_the_id", [None, 1], ids=["new id", "another row's id"])
def test_sqlite_replace_through_a_unique_key_conflict_is_committed(env, holding_the_id):
    """REPLACE of a row whose (company, date, ep_no) is an existing row's
    removes that row through the UNIQUE KEY, not the id (and, given a
    third row's id, that one too): what is committed is a full re-read."""
    victim, in_the_way = some(2, of=0)
    new_id = in_the_way.id if holding_the_id else None
    raw("REPLACE INTO attendance_attendancerecord (id, ep_no, ep_name, company_id, date, shift, status, "
        "overstay, created_at, updated_at) VALUES (%s, %s, 'Replacer', %s, %s, '', 'P', '', "
        "'2024-01-01', '2024-01-01')", [new_id, victim.ep_no, victim.company_id, str(victim.date)])
    replacer = AttendanceRecord.objects.get(ep_no=victim.ep_no, date=victim.date, company_id=victim.company_id)
    assert replacer.ep_name == "Replacer" and not AttendanceRecord.objects.filter(id=victim.id).exists()
    assert AttendanceRecord.objects.filter(ep_no=in_the_way.ep_no, date=in_the_way.date,
                                           company_id=in_the_way.company_id).exists() == (holding_the_id is None)
    assert (replacer.id == in_the_way.id) == (holding_the_id is not None)
    repo, db = env
    assert_seen_and_committed(repo, db, [company(0).name])
    committed = {(r["ep_no"], r["date"]): r for r in repo.snapshot(repo.head()).records(company(0).name).values()}
    assert committed[(victim.ep_no, str(victim.date))]["ep_name"] == "Replacer"
    assert ((in_the_way.ep_no, str(in_the_way.date)) in committed) == (holding_the_id is None)


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_sqlite_update_or_replace_onto_another_rows_id_logs_it(env):
    first, second = some(2, of=2)
    raw("UPDATE OR REPLACE attendance_attendancerecord SET id = %s WHERE id = %s", [second.id, first.id])
    raw("UPDATE OR REPLACE attendance_company SET id = %s WHERE id = %s", [company(0).id, company(1).id])
    repo, db = env
    seen, proof = status(repo, db), status(repo, db, full=True)
    assert (seen.added, seen.changed, seen.deleted) == (proof.added, proof.changed, proof.deleted)
    assert snapshot_database(repo, db, AUTHOR).created
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgres_replica_role_still_logs(env):
    """session_replication_role = replica (pg_restore --disable-triggers,
    logical replication) skips ordinary triggers, not ENABLE ALWAYS ones."""
    target = some(1, of=1)[0]
    other_session(("SET session_replication_role = replica", []),
                  ("UPDATE attendance_attendancerecord SET status = %s WHERE id = %s",
                   ["L" if target.status != "L" else "A", target.id]))
    assert_seen_and_committed(*env, [company(1).name])


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.parametrize("state", ["REPLICA", ""])
def test_postgres_triggers_not_always_enabled_are_not_trusted(env, state):
    repo, db = env
    raw(f"ALTER TABLE attendance_attendancerecord ENABLE {state} TRIGGER attgit_log_record_update")
    assert not db.capture_installed() and db.changes() is None
    target = some(1, of=2)[0]
    other_session(("SET session_replication_role = replica", []),
                  ("UPDATE attendance_attendancerecord SET shift = 'Late' WHERE id = %s", [target.id]))
    seen = status(repo, db)
    assert seen.capture_missing and seen.scanned_all and seen.changed == 1
    assert snapshot_database(repo, db, AUTHOR).created
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)


def test_an_edited_trigger_is_not_trusted(env):
    """A trigger replaced by one that logs nothing is not attgit's."""
    repo, db = env
    if connection.vendor == "sqlite":
        raw("DROP TRIGGER attgit_log_record_delete")
        raw("CREATE TRIGGER attgit_log_record_delete AFTER DELETE ON attendance_attendancerecord "
            "BEGIN SELECT 1; END")
    else:
        raw("CREATE OR REPLACE FUNCTION attgit_log_truncate() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RETURN NULL; END $$")
    assert not db.capture_installed()
    raw("DELETE FROM attendance_attendancerecord WHERE id = %s", [some(1, of=0)[0].id])
    seen = status(repo, db)
    assert seen.capture_missing and seen.deleted == 1
    assert changelog.install(connection) and db.capture_installed()
    assert snapshot_database(repo, db, AUTHOR).created
    assert str(repo.git[repo.head()].tree_id) == full_tree(repo, db)


def test_log_entries_deleted_by_hand_are_noticed(env):
    repo, db = env
    target = some(1, of=0)[0]
    raw("UPDATE attendance_attendancerecord SET ep_name = 'Hidden' WHERE id = %s", [target.id])
    raw("DELETE FROM attendance_changelog")
    assert db.changes().everything
    assert_compared_and_committed(repo, db, "deleted by hand")


def test_a_trigger_dropped_and_created_again_is_noticed(env):
    """The edit made while the trigger was gone is found by a full compare."""
    repo, db = env
    name = "attgit_log_record_update"
    sql = changelog.triggers(connection.vendor)[name]
    target = some(1, of=1)[0]
    statements = [(f"DROP TRIGGER {name}" + (" ON attendance_attendancerecord" if connection.vendor != "sqlite"
                                              else ""), []),
                  ("UPDATE attendance_attendancerecord SET ep_name = 'Unlogged' WHERE id = %s", [target.id]),
                  (sql, [])]
    if connection.vendor == "postgresql":
        statements.append((f"ALTER TABLE attendance_attendancerecord ENABLE ALWAYS TRIGGER {name}", []))
    other_session(*statements)
    assert db.capture_installed()
    assert "created again" in db.changes().doubt
    assert_compared_and_committed(repo, db, "created again")
