"""Bulk writes to the attendance table through the connection's cursor.

The ORM writes ~11K rows/s on SQLite (``bulk_create`` is capped at 999
parameters a statement); one prepared statement run by ``executemany``
inside the caller's transaction is an order of magnitude faster, and on
PostgreSQL ``COPY`` faster still.  Every method here runs inside the
transaction the caller holds; none commits.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Sequence

from attgit.errors import DatabaseError
from attgit.format.records import describe_key
from attgit.words import plural

from .models import AttendanceRecord, Company

#: Columns written on insert, in this order.
INSERT_COLUMNS = (
    "ep_no", "ep_name", "company_id", "date", "shift", "status",
    "in_time", "out_time", "overstay", "created_at", "updated_at",
)
#: Value columns an update rewrites (the key never changes).
UPDATE_COLUMNS = ("ep_name", "shift", "status", "in_time", "out_time", "overstay")
KEY_WHERE = "company_id = %s AND date = %s AND ep_no = %s"

# PostgreSQL: one statement per batch, the batch passed as arrays (one
# round trip, one plan): 2-3x faster than executemany of keyed statements.
PG_UPDATE = """UPDATE {table} AS r SET ep_name = v.ep_name, shift = v.shift, status = v.status,
    in_time = v.in_time, out_time = v.out_time, overstay = v.overstay, updated_at = %s
  FROM unnest(%s::text[], %s::text[], %s::text[], %s::time[], %s::time[], %s::text[],
              %s::date[], %s::text[])
    AS v(ep_name, shift, status, in_time, out_time, overstay, date, ep_no)
  WHERE r.company_id = %s AND r.date = v.date AND r.ep_no = v.ep_no"""
PG_DELETE = """DELETE FROM {table} AS r USING unnest(%s::date[], %s::text[]) AS v(date, ep_no)
  WHERE r.company_id = %s AND r.date = v.date AND r.ep_no = v.ep_no"""


def db_time(value: str | None) -> str | None:
    """A record's ``HH:MM`` as ``HH:MM:SS``, the text Django itself stores
    in SQLite (so ORM lookups on times keep working); PostgreSQL accepts it
    as well."""
    if value is None or len(value) == 8:
        return value
    return value + ":00"


class RecordWriter:
    """Inserts, updates and deletes attendance rows of one database."""

    def __init__(self, connection, now: datetime):
        self.connection = connection
        self.now = now
        self.db_now = connection.ops.adapt_datetimefield_value(now)
        quote = connection.ops.quote_name
        self.table = quote(AttendanceRecord._meta.db_table)
        self._ids: dict[str, int] | None = None
        columns = ", ".join(quote(c) for c in INSERT_COLUMNS)
        self.insert_sql = (
            f"INSERT INTO {self.table} ({columns}) VALUES ({', '.join(['%s'] * len(INSERT_COLUMNS))})"
        )
        self.copy_sql = f"COPY {self.table} ({columns}) FROM STDIN"
        sets = ", ".join(f"{quote(c)} = %s" for c in (*UPDATE_COLUMNS, "updated_at"))
        self.update_sql = f"UPDATE {self.table} SET {sets} WHERE {KEY_WHERE}"
        self.delete_sql = f"DELETE FROM {self.table} WHERE {KEY_WHERE}"
        self.postgresql = connection.vendor == "postgresql"

    # --- companies ---------------------------------------------------------

    def company_ids(self) -> dict[str, int]:
        if self._ids is None:
            companies = Company.objects.using(self.connection.alias)
            self._ids = dict(companies.values_list("name", "id"))
        return self._ids

    def company_id(self, name: str, created_at: datetime | None = None) -> int:
        """The company's id, creating the company if it is missing (Property 11),
        with ``created_at`` when given (a backup file's; auto_now_add would
        otherwise stamp it now)."""
        ids = self.company_ids()
        if name not in ids:
            company = Company(name=name)
            company.save(using=self.connection.alias, force_insert=True)
            if created_at is not None:
                Company.objects.using(self.connection.alias).filter(pk=company.pk).update(created_at=created_at)
            ids[name] = company.pk
        return ids[name]

    def drop_company(self, name: str) -> None:
        """Delete the company and its records (its users keep their accounts)."""
        ids = self.company_ids()
        if name not in ids:
            return
        with self.connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.table} WHERE company_id = %s", [ids[name]])
        Company.objects.using(self.connection.alias).filter(pk=ids.pop(name)).delete()

    # --- records -----------------------------------------------------------

    def insert(self, company_id: int, records: Sequence[dict]) -> None:
        rows = [self._insert_row(company_id, r) for r in records]
        if self.postgresql:
            self._copy(rows)
        else:
            with self.connection.cursor() as cursor:
                cursor.executemany(self.insert_sql, rows)

    def update(self, company_id: int, records: Sequence[dict]) -> None:
        if self.postgresql:
            columns = [[r[f] for r in records] for f in ("ep_name", "shift", "status")]
            columns += [[db_time(r[f]) for r in records] for f in ("in_time", "out_time")]
            columns += [[r[f] for r in records] for f in ("overstay", "date", "ep_no")]
            self._run_keyed("update", PG_UPDATE.format(table=self.table),
                            [self.db_now, *columns, company_id], records)
            return
        rows = [
            (r["ep_name"], r["shift"], r["status"], db_time(r["in_time"]), db_time(r["out_time"]),
             r["overstay"], self.db_now, company_id, r["date"], r["ep_no"])
            for r in records
        ]
        self._run_keyed("update", self.update_sql, rows, records, many=True)

    def delete(self, company_id: int, keys: Sequence[tuple]) -> None:
        if self.postgresql:
            columns = [[k[2] for k in keys], [k[0] for k in keys]]
            self._run_keyed("delete", PG_DELETE.format(table=self.table),
                            [*columns, company_id], keys)
            return
        rows = [(company_id, k[2], k[0]) for k in keys]
        self._run_keyed("delete", self.delete_sql, rows, keys, many=True)

    def _insert_row(self, company_id: int, r: dict) -> tuple:
        return (
            r["ep_no"], r["ep_name"], company_id, r["date"], r["shift"], r["status"],
            db_time(r["in_time"]), db_time(r["out_time"]), r["overstay"], self.db_now, self.db_now,
        )

    def _copy(self, rows: list[tuple]) -> None:
        """PostgreSQL's COPY on the connection's own psycopg cursor (same
        transaction); errors come back as Django's, like any other query."""
        with self.connection.wrap_database_errors, self.connection.connection.cursor() as cursor:
            with cursor.copy(self.copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)

    def _run_keyed(self, what: str, sql: str, params: list, items: Sequence,
                   many: bool = False) -> None:
        """Run the statement (``many``: once per row of ``params``), then
        insist every key matched exactly one row: a changeset computed
        against other data must not half-apply."""
        with self.connection.cursor() as cursor:
            (cursor.executemany if many else cursor.execute)(sql, params)
            matched = cursor.rowcount
        if matched != len(items):
            first = items[0]
            key = (first["ep_no"], first["company"], first["date"]) if isinstance(first, dict) else first
            raise DatabaseError(
                f"{what} of {plural(len(items), 'record')} matched {plural(matched, 'row')} (batch starting at "
                f"{describe_key(tuple(key))}): the database changed since the change was "
                "computed; nothing was changed, run the command again"
            )


# --- loading an empty table -------------------------------------------------

@contextlib.contextmanager
def empty_table_load(connection, checked: bool):
    """Write into an EMPTY attendance table the way a restore should: without
    the change-log triggers (the caller's transaction records the commit the
    rows are, and consumes the "everything" entry putting them back logs),
    without the secondary indexes (rebuilt once, sorted, at the end rather
    than row by row), and, when ``checked`` (every row was validated by
    attgit's own parse in this process), without re-running the CHECK
    constraints per row on SQLite (``PRAGMA ignore_check_constraints``;
    they cost as much as the insert itself).

    Runs inside the caller's transaction, with other writers kept out (the
    SQLite write lock; a table lock on PostgreSQL), so no edit of another
    session can happen while the triggers are away, and a crash anywhere
    rolls the DDL back with the rows: the triggers and indexes are never
    missing outside this transaction.
    """
    from . import changelog

    if connection.vendor == "postgresql":  # PostgreSQL alters no table while deferred checks wait (the
        with connection.cursor() as cursor:  # companies this apply just made): run them now
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    logged = changelog.installed(connection)
    if logged:
        changelog.uninstall(connection)
    indexes = _drop_secondary_indexes(connection)
    sqlite_unchecked = checked and connection.vendor == "sqlite"
    if sqlite_unchecked:
        _sqlite_pragma(connection, "ignore_check_constraints", 1)
    try:
        yield
    finally:
        if sqlite_unchecked:
            _sqlite_pragma(connection, "ignore_check_constraints", 0)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # PostgreSQL alters no table with deferred checks pending:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run them now (the rest of the transaction too)
        for sql in indexes:
            cursor.execute(sql)
    if logged:
        changelog.install(connection)


def records_empty(connection) -> bool:
    """Whether the attendance table holds no row (one index probe)."""
    table = connection.ops.quote_name(AttendanceRecord._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} LIMIT 1")
        return cursor.fetchone() is None


def _sqlite_pragma(connection, name: str, value: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name} = {int(value)}")


def _drop_secondary_indexes(connection) -> list[str]:
    """Drop the attendance table's droppable indexes and return the
    statements that recreate them exactly (read from the catalog).

    SQLite: every explicitly created index (the unique key is part of the
    table and stays; rows arrive in its order, so it only appends).
    PostgreSQL: the unique key constraint too (its index is built once,
    sorted, when it is added back), the company foreign key (checked once,
    by one join, when added back, rather than by a deferred trigger per
    row) and plain indexes; the primary key stays.
    """
    table = AttendanceRecord._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                           "AND sql IS NOT NULL", [table])
            found = cursor.fetchall()
            for name, _ in found:
                cursor.execute(f'DROP INDEX "{name}"')
            return [sql for _, sql in found]
        if connection.vendor != "postgresql":
            return []
        quoted = connection.ops.quote_name(table)
        cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE conrelid = %s::regclass AND contype IN ('u', 'f')", [table])
        constraints = cursor.fetchall()
        cursor.execute("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                       "WHERE indrelid = %s::regclass AND NOT indisprimary AND NOT indisunique", [table])
        plain = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {quoted} DROP CONSTRAINT "{name}"')
        for name, _ in plain:
            cursor.execute(f"DROP INDEX {name}")
        return ([f'ALTER TABLE {quoted} ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints]
                + [definition for _, definition in plain])
