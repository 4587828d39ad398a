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

LOG = "attendance_changelog"
RECORDS = "attendance_attendancerecord"
COMPANIES = "attendance_company"


def _log_record(row: str, when: str = "") -> str:
    """The statement logging the key of ``row`` (NEW or OLD) of the attendance table."""
    return (f"INSERT INTO {LOG} (company, ep_no, date) SELECT name, {row}.ep_no, {row}.date "
            f"FROM {COMPANIES} WHERE id = {row}.company_id{when};")


def _log_company(row: str) -> str:
    """The statement logging the name of ``row`` (NEW or OLD) of the company table."""
    return f"INSERT INTO {LOG} (company) VALUES ({row}.name);"


def _sqlite_trigger(name: str, event: str, table: str, *body: str, when: str = "") -> tuple[str, str]:
    return name, f"CREATE TRIGGER {name} AFTER {event} ON {table} {when}BEGIN {' '.join(body)} END"


# An update logs the new key, and the old one too when the row moved (key or company).
_MOVED = " AND (OLD.ep_no IS NOT NEW.ep_no OR OLD.date IS NOT NEW.date OR OLD.company_id IS NOT NEW.company_id)"
SQLITE_TRIGGERS = dict([
    _sqlite_trigger("attgit_log_record_insert", "INSERT", RECORDS, _log_record("NEW")),
    _sqlite_trigger("attgit_log_record_update", "UPDATE", RECORDS, _log_record("NEW"), _log_record("OLD", _MOVED)),
    _sqlite_trigger("attgit_log_record_delete", "DELETE", RECORDS, _log_record("OLD")),
    _sqlite_trigger("attgit_log_company_insert", "INSERT", COMPANIES, _log_company("NEW")),
    _sqlite_trigger("attgit_log_company_update", "UPDATE", COMPANIES, _log_company("OLD"), _log_company("NEW"),
                    when="WHEN OLD.name IS NOT NEW.name "),
    _sqlite_trigger("attgit_log_company_delete", "DELETE", COMPANIES, _log_company("OLD")),
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
}
_PG_TABLE_OF = {name: (COMPANIES if "company" in name else RECORDS) for name in PG_TRIGGERS}


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

    When the triggers were missing, edits made meanwhile went unlogged:
    an "everything" entry is logged, so the next commit or status compares
    every row once before the log is trusted again.  Returns whether
    anything was missing."""
    if not triggers(connection.vendor):
        return False
    was_missing = not installed(connection)
    if was_missing:
        uninstall(connection)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for sql in PG_FUNCTIONS:
                    cursor.execute(sql)
            for sql in triggers(connection.vendor).values():
                cursor.execute(sql)
            cursor.execute(f"INSERT INTO {LOG} (company, ep_no, date) VALUES (NULL, NULL, NULL)")
    return was_missing


def ensure_installed(sender=None, using="default", **kwargs) -> None:
    """post_migrate: put the triggers back if a migration dropped them
    (SQLite drops a table's triggers when a migration rebuilds the table),
    only where the change log exists (not when migrated back below 0005)."""
    from django.db import connections

    connection = connections[using]
    if LOG in connection.introspection.table_names():
        install(connection)


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
            for function in ("attgit_log_records", "attgit_log_company", "attgit_log_truncate"):
                cursor.execute(f"DROP FUNCTION IF EXISTS {function}()")


def installed(connection) -> bool:
    """Whether every trigger is there and enabled (one catalog query)."""
    names = list(triggers(connection.vendor))
    if not names:
        return False
    marks = ", ".join(["%s"] * len(names))
    if connection.vendor == "sqlite":
        sql = f"SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})"
    else:
        sql = (f"SELECT COUNT(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
               f"AND tgrelid IN ('{RECORDS}'::regclass, '{COMPANIES}'::regclass) AND tgname IN ({marks})")
    with connection.cursor() as cursor:
        cursor.execute(sql, names)
        return cursor.fetchone()[0] == len(names)
