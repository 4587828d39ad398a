"""The attendance database as an attgit working copy.

:class:`DjangoWorkingCopy` implements :class:`attgit.workingcopy.WorkingCopy`
on a Django database alias.  Reads stream through the raw cursor (a
server-side cursor on PostgreSQL) in snapshot order and convert each row
with :func:`attgit.format.records.from_db_row`; writes go through
:class:`django_adapter.bulk.RecordWriter` in one transaction that also
records the commit the database now matches.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Callable, Iterable, Iterator, Optional

from django.db import DatabaseError as DjangoDatabaseError
from django.db import connections, transaction
from django.utils import timezone

from attgit.errors import DatabaseError, Rejected
from attgit.format.records import from_db_row
from attgit.workingcopy import ApplyResult, CompanyChange, DatabaseState, Progress

from .bulk import RecordWriter
from .dblock import database_lock, describe
from .models import AttendanceRecord, Company, SyncState

#: Rows per round trip when reading, and per statement when writing.
FETCH_SIZE = 5000
WRITE_BATCH = 1000


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

    def fingerprints(self) -> dict[str, tuple]:
        """One grouped query: company -> (row count, latest updated_at as
        ISO text, None for a company without rows)."""
        with self.connection.cursor() as cursor:
            cursor.execute(_select_fingerprints(self.connection))
            return {name: (count, _iso(latest)) for name, count, latest in cursor.fetchall()}

    # --- state ---------------------------------------------------------------

    def state(self) -> DatabaseState:
        row = SyncState.objects.using(self.using).filter(pk=SyncState.DEFAULT).first()
        if row is None:
            return DatabaseState()
        return DatabaseState(row.commit, {c: tuple(f) for c, f in row.fingerprints.items()})

    def set_state(self, state: DatabaseState) -> None:
        SyncState.objects.using(self.using).update_or_create(
            pk=SyncState.DEFAULT,
            defaults={
                "commit": state.commit,
                "fingerprints": {c: list(f) for c, f in state.fingerprints.items()},
            },
        )

    # --- writing -------------------------------------------------------------

    def apply(
        self,
        changes: Iterable[CompanyChange],
        commit: Optional[str],
        progress: Optional[Progress] = None,
        total: int = 0,
        expect: Optional[dict] = None,
    ) -> ApplyResult:
        """Apply every change and record ``commit`` with the new
        fingerprints, in ONE transaction; on any error nothing changes.

        ``expect``: the fingerprints the changes were computed against.
        Writers are locked out first (PostgreSQL: a table lock; SQLite:
        the IMMEDIATE transaction), then, if anyone edited the rows since,
        the apply is refused (attgit.errors.Rejected) rather than overwrite
        an edit it never saw, or record it as committed."""

        def write_and_record() -> ApplyResult:
            self._exclude_writers()
            if expect is not None and self.fingerprints() != _tuples(expect):
                raise Rejected("the database changed while attgit was working (someone edited "
                               "attendance meanwhile); nothing was applied: run the command again")
            result = self._write(changes, progress, total)
            self.set_state(DatabaseState(commit, self.fingerprints()))
            return result

        return self._in_transaction(write_and_record)

    def _exclude_writers(self) -> None:
        if self.connection.vendor == "postgresql":
            records, companies = _tables(self.connection)
            with self.connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {companies}, {records} IN SHARE ROW EXCLUSIVE MODE")

    def bulk_load(self, records: Iterable[dict], progress: Optional[Progress] = None,
                  total: int = 0, drop: Iterable[str] = ()) -> ApplyResult:
        """Insert canonical records fast (demo data, tests), in one transaction.

        Unlike :meth:`apply` it records no commit: to attgit the new rows
        are edits like any other, found by the next commit.  ``drop``
        names companies to delete first.  Records grouped by company keep
        memory to one batch.
        """
        changes = itertools.chain(
            (CompanyChange(name, drop=True) for name in drop), _insert_changes(records)
        )
        return self._in_transaction(lambda: self._write(changes, progress, total))

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


def _tuples(fingerprints: dict) -> dict:
    return {c: tuple(f) for c, f in fingerprints.items()}


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


def _select_fingerprints(connection) -> str:
    records, companies = _tables(connection)
    return (
        f"SELECT c.name, COUNT(r.id), MAX(r.updated_at) FROM {companies} c "
        f"LEFT JOIN {records} r ON r.company_id = c.id GROUP BY c.id, c.name"
    )


def _iso(value) -> Optional[str]:
    """A timestamp as UTC ISO text, whether the driver gave a datetime
    (PostgreSQL) or the stored text (SQLite keeps naive UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_timezone.utc)
    return value.astimezone(dt_timezone.utc).isoformat()
