"""The change-log triggers: installed by migration 0005, checked by every
command that trusts the log.

Every row written to the attendance table logs its key (company name,
ep_no, date), the key it had too when an update moved it; a company
inserted, renamed or deleted logs its name(s) alone (read whole).  SQLite
logs row by row; PostgreSQL logs once per statement from the statement's
transition tables (a bulk ``update()`` of 100K rows costs one INSERT ...
SELECT, not 100K trigger calls) and a TRUNCATE logs "everything".

The log is written whatever writes the rows (``save()``, ``update()``,
``bulk_update``, raw SQL from another program, ``loaddata``), so attgit
trusts it; when these triggers are missing or disabled attgit says so and
compares every row instead (:func:`installed`).
"""

from __future__ import annotations

import contextlib
import hashlib

LOG = "attendance_changelog"
RECORDS = "attendance_attendancerecord"
COMPANIES = "attendance_company"
STATE = "attendance_syncstate"
#: What marks attgit's own deletion of the log entries it consumed (any
#: other deletion leaves "compare everything"): PostgreSQL, a setting local
#: to the transaction; SQLite, a sync state row of that name, which no
#: other connection can see before it is gone again.
CONSUMING = "attgit.consuming"


def _log_record(row: str, when: str = "") -> str:
    """The statement logging the key of ``row`` (NEW or OLD) of the attendance table."""
    return (f"INSERT INTO {LOG} (company, ep_no, date) SELECT name, {row}.ep_no, {row}.date "
            f"FROM {COMPANIES} WHERE id = {row}.company_id{when};")


def _log_company(row: str) -> str:
    """The statement logging the name of ``row`` (NEW or OLD) of the company table."""
    return f"INSERT INTO {LOG} (company) VALUES ({row}.name);"


def _sqlite_trigger(name: str, event: str, table: str, *body: str, when: str = "",
                    timing: str = "AFTER") -> tuple[str, str]:
    return name, f"CREATE TRIGGER {name} {timing} {event} ON {table} {when}BEGIN {' '.join(body)} END"


# An update logs the new key, and the old one too when the row moved (key or company).
_MOVED = " AND (OLD.ep_no IS NOT NEW.ep_no OR OLD.date IS NOT NEW.date OR OLD.company_id IS NOT NEW.company_id)"
# SQLite's REPLACE (INSERT OR REPLACE, UPDATE OR REPLACE) deletes the rows
# in its way without firing their DELETE triggers (unless the connection
# turned recursive_triggers on, which another program's never does).  A row
# in the way shares the new row's key (logged anyway) or its id: the BEFORE
# triggers log the row holding that id, whatever program writes the file.
_REPLACED_RECORD = (f"INSERT INTO {LOG} (company, ep_no, date) SELECT c.name, r.ep_no, r.date "
                    f"FROM {RECORDS} r JOIN {COMPANIES} c ON c.id = r.company_id WHERE r.id = NEW.id;")
_REPLACED_COMPANY = f"INSERT INTO {LOG} (company) SELECT name FROM {COMPANIES} WHERE id = NEW.id OR name = NEW.name;"
SQLITE_TRIGGERS = dict([
    _sqlite_trigger("attgit_log_record_insert", "INSERT", RECORDS, _log_record("NEW")),
    _sqlite_trigger("attgit_log_record_update", "UPDATE", RECORDS, _log_record("NEW"), _log_record("OLD", _MOVED)),
    _sqlite_trigger("attgit_log_record_delete", "DELETE", RECORDS, _log_record("OLD")),
    _sqlite_trigger("attgit_log_company_insert", "INSERT", COMPANIES, _log_company("NEW")),
    _sqlite_trigger("attgit_log_company_update", "UPDATE", COMPANIES, _log_company("OLD"), _log_company("NEW"),
                    when="WHEN OLD.name IS NOT NEW.name "),
    _sqlite_trigger("attgit_log_company_delete", "DELETE", COMPANIES, _log_company("OLD")),
    _sqlite_trigger("attgit_log_record_replace", "INSERT", RECORDS, _REPLACED_RECORD, timing="BEFORE"),
    _sqlite_trigger("attgit_log_record_renumber", "UPDATE", RECORDS, _REPLACED_RECORD, timing="BEFORE",
                    when="WHEN NEW.id IS NOT OLD.id "),
    _sqlite_trigger("attgit_log_company_replace", "INSERT", COMPANIES, _REPLACED_COMPANY, timing="BEFORE"),
    _sqlite_trigger("attgit_log_company_renumber", "UPDATE", COMPANIES, _REPLACED_COMPANY, _log_company("OLD"),
                    timing="BEFORE", when="WHEN NEW.id IS NOT OLD.id "),
    # The log guards itself (as on PostgreSQL): an entry deleted by anyone
    # but attgit consuming it (which marks so, see consuming()) leaves
    # "compare everything" behind.
    _sqlite_trigger("attgit_log_guard_delete", "DELETE", LOG, "INSERT INTO {0} (company, ep_no, date) "
                    "VALUES (NULL, NULL, NULL);".format(LOG),
                    when=f"WHEN NOT EXISTS (SELECT 1 FROM {STATE} WHERE name = '{CONSUMING}') "),
])

_PG_KEYS = "to_char(k.date, 'YYYY-MM-DD')"
PG_FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION attgit_log_records() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO {LOG} (company, ep_no, date)
          SELECT c.name, k.ep_no, {_PG_KEYS} FROM attgit_new k JOIN {COMPANIES} c ON c.id = k.company_id;
      ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {LOG} (company, ep_no, date)
          SELECT c.name, k.ep_no, {_PG_KEYS}
          FROM (SELECT company_id, ep_no, date FROM attgit_new
                UNION SELECT company_id, ep_no, date FROM attgit_old) k
          JOIN {COMPANIES} c ON c.id = k.company_id;
      ELSE
        INSERT INTO {LOG} (company, ep_no, date)
          SELECT c.name, k.ep_no, {_PG_KEYS} FROM attgit_old k JOIN {COMPANIES} c ON c.id = k.company_id;
      END IF;
      RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION attgit_log_company() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO {LOG} (company) VALUES (OLD.name);
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO {LOG} (company) VALUES (NEW.name);
      END IF;
      RETURN NULL;
    END $$""",
    f"""CREATE OR REPLACE FUNCTION attgit_log_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO {LOG} (company, ep_no, date) VALUES (NULL, NULL, NULL);
      RETURN NULL;
    END $$""",
]
PG_TRIGGERS = {
    "attgit_log_record_insert": f"""CREATE TRIGGER attgit_log_record_insert AFTER INSERT ON {RECORDS}
        REFERENCING NEW TABLE AS attgit_new FOR EACH STATEMENT EXECUTE FUNCTION attgit_log_records()""",
    "attgit_log_record_update": f"""CREATE TRIGGER attgit_log_record_update AFTER UPDATE ON {RECORDS}
        REFERENCING OLD TABLE AS attgit_old NEW TABLE AS attgit_new
        FOR EACH STATEMENT EXECUTE FUNCTION attgit_log_records()""",
    "attgit_log_record_delete": f"""CREATE TRIGGER attgit_log_record_delete AFTER DELETE ON {RECORDS}
        REFERENCING OLD TABLE AS attgit_old FOR EACH STATEMENT EXECUTE FUNCTION attgit_log_records()""",
    "attgit_log_record_truncate": f"""CREATE TRIGGER attgit_log_record_truncate AFTER TRUNCATE ON {RECORDS}
        FOR EACH STATEMENT EXECUTE FUNCTION attgit_log_truncate()""",
    "attgit_log_company_rows": f"""CREATE TRIGGER attgit_log_company_rows AFTER INSERT OR DELETE ON {COMPANIES}
        FOR EACH ROW EXECUTE FUNCTION attgit_log_company()""",
    "attgit_log_company_rename": f"""CREATE TRIGGER attgit_log_company_rename AFTER UPDATE ON {COMPANIES}
        FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION attgit_log_company()""",
    "attgit_log_company_truncate": f"""CREATE TRIGGER attgit_log_company_truncate AFTER TRUNCATE ON {COMPANIES}
        FOR EACH STATEMENT EXECUTE FUNCTION attgit_log_truncate()""",
    # The log guards itself: entries deleted by anyone but attgit consuming
    # them (which says so in CONSUMING) leave "compare everything" behind.
    "attgit_log_guard_delete": f"""CREATE TRIGGER attgit_log_guard_delete AFTER DELETE ON {LOG}
        FOR EACH STATEMENT WHEN (current_setting('{CONSUMING}', true) IS DISTINCT FROM 'on')
        EXECUTE FUNCTION attgit_log_truncate()""",
    "attgit_log_guard_truncate": f"""CREATE TRIGGER attgit_log_guard_truncate AFTER TRUNCATE ON {LOG}
        FOR EACH STATEMENT EXECUTE FUNCTION attgit_log_truncate()""",
}
_PG_TABLE_OF = {name: (LOG if "guard" in name else COMPANIES if "company" in name else RECORDS)
                for name in PG_TRIGGERS}
_PG_FUNCTION_NAMES = ("attgit_log_records", "attgit_log_company", "attgit_log_truncate")


def triggers(vendor: str) -> dict:
    """{name: CREATE statement} for the database ``vendor``."""
    if vendor == "sqlite":
        return SQLITE_TRIGGERS
    if vendor == "postgresql":
        return PG_TRIGGERS
    return {}


def install(connection) -> bool:
    """(Re)create every trigger (idempotent); other vendors get none, and
    attgit compares every row there.

    When the triggers were missing (or not exactly attgit's, or not firing
    in every replication role), edits made meanwhile went unlogged: an
    "everything" entry is logged, so the next commit or status compares
    every row once before the log is trusted again, and the triggers'
    identity is stamped (see :func:`trust`).  Returns whether anything was
    missing."""
    if not triggers(connection.vendor):
        return False
    was_missing = not installed(connection)
    if was_missing:
        uninstall(connection)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # ALTER TABLE refuses while deferred foreign-key checks wait
                # (rows a bulk load wrote in this transaction): run them now
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for sql in PG_FUNCTIONS:
                    cursor.execute(sql)
            for name, sql in triggers(connection.vendor).items():
                cursor.execute(sql)
                if connection.vendor == "postgresql":  # fire in every session_replication_role
                    cursor.execute(f"ALTER TABLE {_PG_TABLE_OF[name]} ENABLE ALWAYS TRIGGER {name}")
            cursor.execute(f"INSERT INTO {LOG} (company, ep_no, date) VALUES (NULL, NULL, NULL)")
        _write_stamp(connection, _identity(connection))
    return was_missing


def ensure_installed(sender=None, using="default", **kwargs) -> None:
    """post_migrate: put the triggers back if a migration dropped them
    (SQLite drops a table's triggers when a migration rebuilds the table),
    only where the change log exists (not when migrated back below 0005).
    When they were all there, their identity is checked and stamped again
    here (:func:`doubts`): migrations change SQLite's schema version, and
    the first status after ``migrate`` should not doubt the log for that."""
    from django.db import connections, transaction

    connection = connections[using]
    if LOG in connection.introspection.table_names() and not install(connection):
        columns = [c.name for c in connection.introspection.get_table_description(connection.cursor(), STATE)]
        if "capture" in columns:
            with transaction.atomic(using=using):
                doubts(connection)


def suspend_triggers(apps=None, schema_editor=None) -> None:
    """Migration step: drop the triggers before a migration rebuilds the
    attendance or company table.  SQLite rebuilds a table to alter it (new
    table, copy, drop, rename) and refuses the drop and rename while a
    trigger names the table (``no such table: main.attendance_company``);
    rows a migration rewrites would be logged halfway, too.  Pair it with
    :func:`resume_triggers` at the migration's end (each is the other's
    reverse, so migrating back works the same way)."""
    uninstall(schema_editor.connection)


def resume_triggers(apps=None, schema_editor=None) -> None:
    """Migration step: put the triggers back (logging "everything", since
    rows were rewritten unlogged), when the change log exists at this
    point of the migration history; below 0005 there is none to write to."""
    connection = schema_editor.connection
    if LOG in connection.introspection.table_names():
        install(connection)


def uninstall(connection) -> None:
    """Drop every trigger (and PostgreSQL's functions)."""
    with connection.cursor() as cursor:
        for name in triggers(connection.vendor):
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {_PG_TABLE_OF[name]}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
        if connection.vendor == "postgresql":
            for function in _PG_FUNCTION_NAMES:
                cursor.execute(f"DROP FUNCTION IF EXISTS {function}()")


def installed(connection) -> bool:
    """Whether every trigger is there, exactly as attgit creates it, and
    fires whatever the session is told (PostgreSQL: ENABLE ALWAYS, since
    ``session_replication_role = replica`` skips ordinary triggers, and
    the functions' bodies unchanged).  A few catalog rows."""
    expected = triggers(connection.vendor)
    if not expected:
        return False
    if connection.vendor == "sqlite":
        sql = f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({_marks(expected)})"
        with connection.cursor() as cursor:
            cursor.execute(sql, list(expected))
            return dict(cursor.fetchall()) == expected
    return _pg_installed(connection, expected)


def _marks(names) -> str:
    return ", ".join(["%s"] * len(names))


def _pg_installed(connection, expected: dict) -> bool:
    tables = ", ".join(f"'{t}'::regclass" for t in sorted(set(_PG_TABLE_OF.values())))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN ({tables}) "
                       f"AND tgname IN ({_marks(expected)})", list(expected))
        states = dict(cursor.fetchall())
        cursor.execute(f"SELECT proname, prosrc FROM pg_proc WHERE proname IN ({_marks(_PG_FUNCTION_NAMES)})",
                       list(_PG_FUNCTION_NAMES))
        bodies = dict(cursor.fetchall())
    wanted = {sql.split("(")[0].split()[-1]: sql.split("$$")[1] for sql in PG_FUNCTIONS}
    return states == {name: "A" for name in expected} and bodies == wanted


# --- trust: re-created triggers and deleted log entries ----------------------

def _identity(connection) -> str:
    """What changes whenever the triggers are dropped and created again,
    even identically: PostgreSQL's trigger and function oids and trigger
    definitions; SQLite's schema version (any schema change: a migration
    makes one extra full compare, which is cheap beside a missed edit)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA schema_version")
            return f"sqlite:{cursor.fetchone()[0]}"
        names = list(triggers(connection.vendor))
        cursor.execute(f"SELECT tgname, oid, tgfoid, pg_get_triggerdef(oid) FROM pg_trigger "
                       f"WHERE NOT tgisinternal AND tgname IN ({_marks(names)}) ORDER BY tgname", names)
        rows = cursor.fetchall()
    return "pg:" + hashlib.sha256(repr(rows).encode()).hexdigest()


def _stored_stamp(connection) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT capture FROM {STATE} WHERE name = 'default'")
        row = cursor.fetchone()
    return row[0] if row else ""


def _write_stamp(connection, stamp: str) -> None:
    """Record the triggers' identity in the sync state row (from migration
    0009 on: earlier migrations call :func:`install` before the column
    exists)."""
    with connection.cursor() as cursor:
        columns = [c.name for c in connection.introspection.get_table_description(cursor, STATE)]
        if "capture" not in columns:
            return
        cursor.execute(f"UPDATE {STATE} SET capture = %s WHERE name = 'default'", [stamp])
        if cursor.rowcount == 0:
            cursor.execute(f'INSERT INTO {STATE} (name, "commit", watermark, updated_at, capture) '
                           f"VALUES ('default', NULL, 0, CURRENT_TIMESTAMP, %s)", [stamp])


def doubts(connection) -> str:
    """Why the log may lack entries although the triggers are right now
    ("" when nothing says so), checked each time the log is trusted: the
    triggers were dropped and created again since attgit last checked them
    (an edit made in between went unlogged).  (Entries deleted by hand are
    caught by the log's own guard trigger, which logs "everything".)

    The caller compares every row; the doubt is logged as "everything" and
    the identity stamped again, in the caller's transaction, so it lasts
    until a commit compares every row."""
    identity, stored = _identity(connection), _stored_stamp(connection)
    if stored == identity:
        return ""
    _write_stamp(connection, identity)
    if not stored:  # no stamp yet (a sync state row made afresh): nothing to compare with
        return ""
    with connection.cursor() as cursor:  # stays until a commit consumes it
        cursor.execute(f"INSERT INTO {LOG} (company, ep_no, date) VALUES (NULL, NULL, NULL)")
    return "the change-log triggers were created again since attgit last checked them"


def log_high(connection) -> int:
    """The highest log id there (0 when the log is empty)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {LOG}")
        return cursor.fetchone()[0]


@contextlib.contextmanager
def consuming(connection):
    """Context (inside a transaction) for attgit's own deletion of consumed
    entries: the guard lets it pass.  The mark never outlives the
    transaction, so no other program's deletion can pass."""
    if connection.vendor == "postgresql":
        set_mark = ["SELECT set_config(%s, 'on', true)", [CONSUMING]]
        clear_mark = ["SELECT set_config(%s, 'off', true)", [CONSUMING]]
    else:
        set_mark = [f'INSERT INTO {STATE} (name, "commit", watermark, updated_at, capture) '
                    "VALUES (%s, NULL, 0, CURRENT_TIMESTAMP, '')", [CONSUMING]]
        clear_mark = [f"DELETE FROM {STATE} WHERE name = %s", [CONSUMING]]
    with connection.cursor() as cursor:
        cursor.execute(*set_mark)
        try:
            yield
        finally:
            cursor.execute(*clear_mark)
