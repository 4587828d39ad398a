"""The attendance database as an attgit working copy.

:class:`DjangoWorkingCopy` implements :class:`attgit.workingcopy.WorkingCopy`
on a Django database alias.  Reads stream through the raw cursor (a
server-side cursor on PostgreSQL) in snapshot order and convert each row
with :func:`attgit.format.records.from_db_row`; writes go through
:class:`django_adapter.bulk.RecordWriter` in one transaction that also
records the commit the database now matches.

What changed since that commit is read from the change log the triggers of
:mod:`django_adapter.changelog` write.  attgit's own writes (restore, pull,
checkout, import, reconcile) CONSUME the entries they cause, in the
transaction that writes the rows and records the new commit, rather than
suspend the triggers as Kart does.  Suspending would be global on both
databases (PostgreSQL's ALTER TABLE DISABLE TRIGGER takes an exclusive lock
and affects every session; SQLite triggers cannot see a per-session flag),
so an edit another process made in that window would go unlogged.
Consuming stays exact: the apply first keeps other writers out (a table
lock on PostgreSQL, the single write transaction on SQLite), refuses if the
log holds an entry beyond the watermark its plan was computed from, and
then every entry beyond the position it read is its own; those (and the
ones up to the plan's watermark, which the plan accounted for) are deleted
before the transaction commits.  The cost is the triggers firing on
attgit's own bulk writes (measured in bench/changes.py).

Reading the log on PostgreSQL takes a brief SHARE lock on it: sequence
numbers are handed out before transactions commit, so without it an entry
with a smaller id could become visible after a larger one was read, and
consuming "up to the watermark" would delete an entry nobody read.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import datetime
from typing import Callable, Iterable, Iterator, Optional

from django.db import DatabaseError as DjangoDatabaseError
from django.db import connections, transaction
from django.utils import timezone

from attgit.errors import DatabaseError, Rejected
from attgit.format.records import from_db_row
from attgit.workingcopy import ApplyResult, ChangeSet, CompanyChange, DatabaseState, Progress

from . import bulk, changelog
from .bulk import RecordWriter
from .dblock import database_lock, describe
from .models import AttendanceRecord, ChangeLog, Company, SyncState

#: Rows per round trip when reading, and per statement when writing.
FETCH_SIZE = 5000
WRITE_BATCH = 1000
#: Keys per query when reading logged rows (SQLite: two parameters each).
KEYS_BATCH = {"sqlite": 400, "postgresql": 5000}
#: More log entries than this and a full read is cheaper than by key.
LOG_LIMIT = 200_000


class DjangoWorkingCopy:
    """A Django database (``using`` alias) seen as an attgit working copy."""

    def __init__(self, using: str = "default"):
        self.using = using

    @property
    def connection(self):
        return connections[self.using]

    def __repr__(self) -> str:
        return f"DjangoWorkingCopy({self.using!r})"

    # --- reading -------------------------------------------------------------

    def companies(self) -> list[str]:
        """Every company's name, sorted as Python sorts (not by collation)."""
        return sorted(Company.objects.using(self.using).values_list("name", flat=True))

    def companies_with_created_at(self) -> list[dict]:
        """[{"name", "created_at", "id"}] sorted by name: the backup file's
        companies (the id is this database's, informative only)."""
        rows = Company.objects.using(self.using).values_list("name", "created_at", "id")
        return [{"name": n, "created_at": c, "id": i} for n, c, i in sorted(rows)]

    def records(self, company: str) -> Iterator[dict]:
        """The company's canonical records, sorted by (date, ep_no)."""
        return map(from_db_row, self.rows(company))

    def all_records(self) -> Iterator[dict]:
        """Every record, company by company (sorted by name), streamed."""
        for company in self.companies():
            yield from self.records(company)

    def records_since(self, since: datetime) -> Iterator[dict]:
        """Records with ``updated_at >= since`` (an incremental backup's),
        company by company.  A naive ``since`` is in the current time zone."""
        if timezone.is_naive(since):
            since = timezone.make_aware(since)
        for company in self.companies():
            yield from map(from_db_row, self.rows(company, since))

    def rows(self, company: str, since: Optional[datetime] = None) -> Iterator[tuple]:
        """The company's raw rows in :data:`attgit.format.records.FIELDS` order and
        snapshot order, fetched in batches (never the whole table)."""
        connection = self.connection
        sql, params = _select_rows(connection, since is not None), [company]
        if since is not None:
            params.append(connection.ops.adapt_datetimefield_value(since))
        with connection.chunked_cursor() as cursor:
            _dates_as_text(connection, cursor)
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(FETCH_SIZE):
                yield from batch

    def records_at(self, company: str, keys: Iterable[tuple]) -> Iterator[dict]:
        """The records stored under ``keys`` (as logged), a batch of keys
        per query, joined on (date, ep_no) through the unique index."""
        connection = self.connection
        keys = list(keys)
        size = KEYS_BATCH.get(connection.vendor, 400)
        with connection.cursor() as cursor:
            _dates_as_text(connection, cursor)
            for start in range(0, len(keys), size):
                batch = keys[start:start + size]
                sql, params = _select_keys(connection, company, batch)
                cursor.execute(sql, params)
                yield from map(from_db_row, cursor.fetchall())

    def record_count(self) -> int:
        return AttendanceRecord.objects.using(self.using).count()

    def latest_change(self):
        """The latest ``updated_at`` of any record (None when there are none):
        how old the database is, for an incremental backup's warning."""
        from django.db.models import Max

        return AttendanceRecord.objects.using(self.using).aggregate(latest=Max("updated_at"))["latest"]

    # --- change log ------------------------------------------------------------

    def capture_installed(self) -> bool:
        """Whether the change-log triggers are all there (a catalog query)."""
        return changelog.installed(self.connection)

    def changes(self, detail: bool = True) -> Optional[ChangeSet]:
        """The log's unconsumed entries (None when the triggers are missing,
        or not exactly attgit's).

        More than LOG_LIMIT entries (a bulk load, say), a TRUNCATE, or a
        doubt about the log (:func:`changelog.doubts`: triggers created
        again, entries deleted by hand) give ``everything``: the caller
        reads every company."""
        if not self.capture_installed():
            return None
        log, connection = self._log_table(), self.connection
        with transaction.atomic(using=self.using), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"LOCK TABLE {log} IN SHARE MODE")
            doubt = changelog.doubts(connection)
            cursor.execute(f"SELECT COUNT(*) FROM {log}")
            high, count = changelog.log_high(connection), cursor.fetchone()[0]
            out = ChangeSet(high, doubt=doubt)
            if count > LOG_LIMIT or not detail or doubt:
                out.everything = True
                return out
            cursor.execute(f"SELECT DISTINCT company, ep_no, date FROM {log} WHERE id <= %s", [high])
            for company, ep_no, date in cursor.fetchall():
                if company is None:
                    out.everything = True
                elif ep_no is None:
                    out.companies.add(company)
                else:
                    out.add_key(company, ep_no, date)
        return out

    def log_size(self) -> int:
        return ChangeLog.objects.using(self.using).count()

    def _log_high(self) -> int:
        return changelog.log_high(self.connection)

    def _log_table(self) -> str:
        return self.connection.ops.quote_name(ChangeLog._meta.db_table)

    def _consume(self, after: int, through: Optional[int]) -> None:
        """Delete the entries beyond ``after`` (an apply's own) and those up
        to ``through``."""
        where = "id > %s" + (" OR id <= %s" if through is not None else "")
        params = [after] + ([through] if through is not None else [])
        with changelog.consuming(self.connection), self.connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self._log_table()} WHERE {where}", params)

    def _mark_companies(self, companies: Iterable[str]) -> None:
        ChangeLog.objects.using(self.using).bulk_create([ChangeLog(company=c) for c in companies])

    # --- state ---------------------------------------------------------------

    def state(self) -> DatabaseState:
        row = SyncState.objects.using(self.using).filter(pk=SyncState.DEFAULT).first()
        if row is None:
            return DatabaseState()
        return DatabaseState(row.commit, row.watermark)

    def set_state(self, state: DatabaseState, consume: Optional[int] = None) -> None:
        """Record the state and, in the same transaction, consume the log
        up to ``consume``."""
        with transaction.atomic(using=self.using):
            self._record_state(state.commit, consume if consume is not None else state.watermark)
            if consume is not None:
                with changelog.consuming(self.connection), self.connection.cursor() as cursor:
                    cursor.execute(f"DELETE FROM {self._log_table()} WHERE id <= %s", [consume])

    def _record_state(self, commit: Optional[str], watermark: int) -> None:
        SyncState.objects.using(self.using).update_or_create(
            pk=SyncState.DEFAULT, defaults={"commit": commit, "watermark": watermark})

    # --- writing -------------------------------------------------------------

    def apply(
        self,
        changes: Iterable[CompanyChange],
        commit: Optional[str],
        progress: Optional[Progress] = None,
        total: int = 0,
        expect: Optional[int] = None,
        dirty: Iterable[str] = (),
    ) -> ApplyResult:
        """Apply every change and record ``commit``, consuming the log
        entries the writes cause, in ONE transaction; on any error nothing
        changes.

        ``expect``: the log watermark the changes were computed against.
        Writers are locked out first (PostgreSQL: a table lock; SQLite:
        the IMMEDIATE transaction), then, if the log holds an entry beyond
        it (someone edited since), the apply is refused (Rejected) rather
        than overwrite an edit it never saw, or record it as committed.
        ``dirty``: companies logged as changed afterwards (edits a merge
        kept, which ``commit`` lacks)."""

        def write_and_record() -> ApplyResult:
            self._exclude_writers()
            before = self._log_high()
            if expect is not None and before > expect:
                raise Rejected("the database changed while attgit was working (someone edited "
                               "attendance meanwhile); nothing was applied: run the command again")
            with self._loading(self._table_empty()):
                result = self._write(changes, progress, total)
            watermark = self._log_high() if expect is not None else self.state().watermark
            self._consume(before, expect)
            self._record_state(commit, watermark)
            self._mark_companies(dirty)
            return result

        return self._in_transaction(write_and_record)

    def _table_empty(self) -> bool:
        """Whether this apply loads an empty attendance table (a clone, a
        first load, an import into a new database): then it may write the
        fast way (:func:`django_adapter.bulk.empty_table_load`), since the
        transaction that writes also records the commit the rows are."""
        return bulk.records_empty(self.connection)

    def _loading(self, empty: bool):
        """The empty-table load around the writes when ``empty``: every row an
        apply writes comes from a snapshot or a backup file attgit parsed and
        validated, so the SQLite CHECKs need not run again per row."""
        if not empty:
            return contextlib.nullcontext()
        return bulk.empty_table_load(self.connection, checked=True)

    def _exclude_writers(self) -> None:
        if self.connection.vendor == "postgresql":
            records, companies = _tables(self.connection)
            with self.connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {companies}, {records} IN SHARE ROW EXCLUSIVE MODE")

    def bulk_load(self, records: Iterable[dict], progress: Optional[Progress] = None,
                  total: int = 0, drop: Iterable[str] = (), log_rows: bool = True) -> ApplyResult:
        """Insert canonical records fast (demo data, tests), in one transaction.

        Unlike :meth:`apply` it records no commit: to attgit the new rows
        are edits like any other, found by the next commit.  ``drop``
        names companies to delete first.  Records grouped by company keep
        memory to one batch.

        ``log_rows=False`` (``seed_demo``'s million rows) writes with the
        change-log triggers dropped and puts them back in the same
        transaction, which logs "compare everything": the next commit reads
        every row once, as it would for a million logged keys, and the load
        skips a million trigger calls.  No other writer's edit can slip past:
        the dropped triggers are never visible outside the transaction
        (PostgreSQL locks the tables; SQLite holds its write lock).
        """
        changes = itertools.chain(
            (CompanyChange(name, drop=True) for name in drop), _insert_changes(records)
        )
        if log_rows or not changelog.installed(self.connection):
            return self._in_transaction(lambda: self._write(changes, progress, total))

        def unlogged() -> ApplyResult:
            changelog.uninstall(self.connection)
            result = self._write(changes, progress, total)
            changelog.install(self.connection)
            return result

        return self._in_transaction(unlogged)

    def _in_transaction(self, work: Callable[[], ApplyResult]) -> ApplyResult:
        try:
            with transaction.atomic(using=self.using):
                return work()
        except DjangoDatabaseError as exc:
            raise DatabaseError(
                f"database {describe(self.connection)}: {' '.join(str(exc).split())}; "
                "nothing was changed"
            ) from exc

    def _write(self, changes: Iterable[CompanyChange], progress, total: int) -> ApplyResult:
        writer = RecordWriter(self.connection, timezone.now())
        result, done = ApplyResult(), 0
        for change in changes:
            if change.drop:
                writer.drop_company(change.company)
                done += len(change)
            else:
                company_id = writer.company_id(change.company, change.created_at)
                for write, items in ((writer.delete, change.deletes),
                                     (writer.update, change.updates),
                                     (writer.insert, change.inserts)):
                    for start in range(0, len(items), WRITE_BATCH):
                        batch = items[start:start + WRITE_BATCH]
                        write(company_id, batch)
                        done += len(batch)
                        if progress:
                            progress(done, total)
            result.add(change)
            if progress:
                progress(done, total)
        return result

    @contextlib.contextmanager
    def consistent_read(self):
        """Hold one snapshot of the database for several reads (a backup
        file must count what it holds).  PostgreSQL: a REPEATABLE READ, READ
        ONLY transaction (unless already inside one the caller opened).
        SQLite: a transaction (with this site's ``transaction_mode``
        IMMEDIATE it also keeps writers out meanwhile)."""
        outermost = not self.connection.in_atomic_block
        with transaction.atomic(using=self.using):
            if outermost and self.connection.vendor == "postgresql":
                with self.connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield self

    def lock(self, wait: float = 0.0):
        """The database's single-writer lock; raises Locked when taken
        (after retrying for ``wait`` seconds)."""
        return database_lock(self.connection, wait)


def connect(using: str = "default") -> DjangoWorkingCopy:
    """The working copy of the Django database ``using``."""
    return DjangoWorkingCopy(using)


def _insert_changes(records: Iterable[dict]) -> Iterator[CompanyChange]:
    """Consecutive records of one company, as insert-only changes of at
    most a few thousand records each."""
    for company, group in itertools.groupby(records, key=lambda r: r["company"]):
        while batch := list(itertools.islice(group, WRITE_BATCH * 5)):
            yield CompanyChange(company, inserts=batch, create=True)


# --- SQL -------------------------------------------------------------------

def _tables(connection) -> tuple[str, str]:
    quote = connection.ops.quote_name
    return quote(AttendanceRecord._meta.db_table), quote(Company._meta.db_table)


def _select_rows(connection, since: bool) -> str:
    """SELECT of a company's rows in FIELDS order, ordered (date, ep_no).

    SQLite: dates and times are CAST to text so the driver's per-value
    Python converters (Django registers them by declared type) never run;
    ``from_db_row`` reads the text directly.  PostgreSQL: native types, and
    ep_no ordered by byte ("C" collation), which is Python's string order.
    """
    records, companies = _tables(connection)
    if connection.vendor == "sqlite":
        date, in_time, out_time = (f"CAST(r.{c} AS TEXT)" for c in ("date", "in_time", "out_time"))
        order = "r.date, r.ep_no"
    else:
        date, in_time, out_time = "r.date", "r.in_time", "r.out_time"
        order = 'r.date, r.ep_no COLLATE "C"'
    where = "c.name = %s" + (" AND r.updated_at >= %s" if since else "")
    return (
        f"SELECT r.ep_no, r.ep_name, c.name, {date}, r.shift, r.status, {in_time}, {out_time}, "
        f"r.overstay FROM {records} r JOIN {companies} c ON c.id = r.company_id "
        f"WHERE {where} ORDER BY {order}"
    )


def _dates_as_text(connection, cursor) -> None:
    """On PostgreSQL with ISO DateStyle, load date and time columns as the
    server's text (``YYYY-MM-DD``, ``HH:MM:SS``): from_db_row reads text
    ~30% faster than it formats date and time objects."""
    if connection.vendor != "postgresql":
        return
    if not (connection.connection.info.parameter_status("DateStyle") or "").startswith("ISO"):
        return
    from psycopg.types.string import TextLoader

    for type_name in ("date", "time"):
        cursor.cursor.adapters.register_loader(type_name, TextLoader)


def _select_keys(connection, company: str, keys: list) -> tuple[str, list]:
    """SELECT of the rows of ``company`` under ``keys`` (FIELDS order)."""
    records, companies = _tables(connection)
    if connection.vendor == "postgresql":
        join = "JOIN unnest(%s::date[], %s::text[]) AS v(d, e) ON r.date = v.d AND r.ep_no = v.e"
        params = [[k[2] for k in keys], [k[0] for k in keys]]
        columns = "r.date, r.in_time, r.out_time"
    else:
        join = ("JOIN (VALUES " + ", ".join(["(%s, %s)"] * len(keys)) + ") AS v "
                "ON r.date = v.column1 AND r.ep_no = v.column2")
        params = [part for k in keys for part in (k[2], k[0])]
        columns = "CAST(r.date AS TEXT), CAST(r.in_time AS TEXT), CAST(r.out_time AS TEXT)"
    date, in_time, out_time = columns.split(", ")
    sql = (f"SELECT r.ep_no, r.ep_name, c.name, {date}, r.shift, r.status, {in_time}, {out_time}, "
           f"r.overstay FROM {records} r JOIN {companies} c ON c.id = r.company_id {join} WHERE c.name = %s")
    return sql, params + [company]
