"""What differs between the database and a commit, from the change log.

The database's change log (triggers; see :mod:`attgit.workingcopy.protocol`)
names every key written since the database last matched its recorded
commit.  From it, the database's snapshot is the commit's tree with each
touched company's blob spliced (:mod:`attgit.format.splice`): the logged
rows are read by key, every other line is copied as bytes.  A company
created, renamed or deleted is read whole.  Everything is read whole when
the log cannot speak for the database: no log (triggers missing or
dropped), a TRUNCATE, a database that does not record the commit being
compared with, or a ``full`` request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from attgit.format import records as rec
from attgit.format.snapshot import Snapshot, SnapshotBuilder
from attgit.format.splice import find_lines, splice_records
from attgit.merge.diff import CompanyDiff, diff_company
from attgit.ops.validity import naming_invalid_rows
from attgit.repo.repository import Repository
from attgit.workingcopy import ChangeSet, WorkingCopy

MISSING_LOG = ("the database's change-log triggers are missing (restored from elsewhere, or dropped): "
               "comparing every row instead; run `manage.py migrate` to put them back")


@dataclass
class Pending:
    """How the database may differ from commit ``at``.

    ``changes``: the log (None when the database has none).  ``full``:
    every company must be read whole.  ``watermark``: what a commit built
    from this consumes (None when there is no log)."""

    changes: Optional[ChangeSet]
    full: bool

    @property
    def watermark(self) -> Optional[int]:
        return self.changes.watermark if self.changes is not None else None

    @property
    def capture_missing(self) -> bool:
        return self.changes is None

    def log(self) -> ChangeSet:
        """The log, for a caller that reads by key: only when not ``full``
        (a database without a log always makes ``full``)."""
        assert self.changes is not None, "a Pending without a change log is always full"
        return self.changes

    def companies(self, base: Snapshot, present: set) -> set:
        """Companies that may differ from ``base``."""
        if self.full:
            return set(base.companies()) | present
        return self.log().touched()

    def whole(self, company: str, base_names: set, present: set) -> bool:
        """Whether ``company`` must be read whole rather than by key."""
        return self.full or company in self.log().companies or (company in base_names) != (company in present)


def pending_changes(repo: Repository, db: WorkingCopy, full: bool = False, at=None) -> Pending:
    """The log, read first (so an edit made after this is left for the
    next commit), and whether it suffices against commit ``at`` (main)."""
    at = repo.head() if at is None else at
    whole = full or at is None or db.state().commit != str(at)
    changes = db.changes(detail=not whole)
    return Pending(changes, whole or changes is None or changes.everything)


def log_position(db: WorkingCopy) -> Optional[int]:
    """The change log's watermark now (None without a log): what an apply
    computed from the database as it is now expects."""
    changes = db.changes()
    return None if changes is None else changes.watermark


def database_tree(repo: Repository, db: WorkingCopy, base: Snapshot, pending: Pending,
                  present: Optional[set] = None, progress: Optional[Callable[[str], None]] = None) -> Snapshot:
    """The database as a snapshot: ``base`` with what ``pending`` names
    taken from the database.  Writes blobs and a tree, never a commit.
    A row that cannot be read as a record raises InvalidRows naming every
    bad row (this is where rows are read, for every caller)."""
    with naming_invalid_rows(db):
        return _database_tree(repo, db, base, pending, present, progress)


def _database_tree(repo: Repository, db: WorkingCopy, base: Snapshot, pending: Pending,
                   present: Optional[set], progress: Optional[Callable[[str], None]]) -> Snapshot:
    present = set(db.companies()) if present is None else present
    base_names = set(base.companies())
    builder = SnapshotBuilder(repo.git, base)
    for company in sorted(pending.companies(base, present)):
        if progress:
            progress(company)
        if company not in present:
            builder.remove(company)
        elif pending.whole(company, base_names, present):
            builder.put_blob(company, *rec.encode_rows(company, db.rows(company)))
        else:
            keys = pending.log().keys[company]
            data = splice_records(company, base.company_bytes(company), keys, db.records_at(company, keys))
            builder.put_blob(company, data)
    return Snapshot(repo.git, repo.git[builder.write()])


def diff_pending(db: WorkingCopy, snap: Snapshot, pending: Pending) -> Iterator[CompanyDiff]:
    """Per-company differences from ``snap`` to the database, reading only
    the logged rows (and the logged lines of ``snap``) unless whole;
    InvalidRows names every database row that cannot be read as a record."""
    with naming_invalid_rows(db):
        yield from _diff_pending(db, snap, pending)


def _diff_pending(db: WorkingCopy, snap: Snapshot, pending: Pending) -> Iterator[CompanyDiff]:
    present = set(db.companies())
    committed = set(snap.companies())
    for company in sorted(pending.companies(snap, present)):
        if pending.whole(company, committed, present):
            before = snap.records(company) if company in committed else {}
            after = {rec.key(r): r for r in db.records(company)} if company in present else {}
        else:
            keys = pending.log().keys[company]
            before = _committed_at(snap, company, keys)
            after = {rec.key(r): r for r in db.records_at(company, keys)}
        diff = diff_company(company, before, after)
        if diff.added or diff.removed or diff.changed or (company in committed) != (company in present):
            yield diff


def _committed_at(snap: Snapshot, company: str, keys) -> dict:
    """{key: record} of ``snap``'s lines under ``keys`` (found by search)."""
    lines = find_lines(snap.company_bytes(company), ((k[2], k[0].strip()) for k in keys))
    records = (rec.from_line(line, f"{company} at {order}") for order, line in lines.items())
    return {rec.key(r): r for r in records}


def differing_companies(a: Snapshot, b: Snapshot) -> set:
    """Companies whose blobs differ between two snapshots (or exist in one)."""
    names_a, names_b = set(a.companies()), set(b.companies())
    return {c for c in names_a | names_b
            if (c in names_a) != (c in names_b) or a.blob_id(c) != b.blob_id(c)}
