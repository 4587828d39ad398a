"""Compare snapshots with each other and with the database (diff, status).

Both walk company by company and parse only what can differ: between
commits, the companies whose blob ids differ; against the database, the
rows its change log names (and the same lines of the commit, found by
search), or everything on ``full``, when the log is missing, or against a
commit the database does not record as its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

from attgit.format import layout
from attgit.format import records as rec
from attgit.format.lines import split_versions
from attgit.format.snapshot import Snapshot, encode_sorted, split_snapshots
from attgit.merge.diff import CompanyDiff, diff_company
from attgit.ops.capture import diff_pending, pending_changes
from attgit.ops.validity import naming_invalid_rows
from attgit.repo.repository import Repository
from attgit.workingcopy import WorkingCopy


def diff_snapshots(old: Snapshot, new: Snapshot, companies: Optional[set] = None,
                   trusted: Snapshot | None = None) -> Iterator[CompanyDiff]:
    """Per-company differences between two snapshots (changed companies only).

    Only lines that are not in both blobs are parsed, provided they are also
    in ``trusted``'s (a snapshot known valid, such as main: see
    :mod:`attgit.format.lines`); without ``trusted`` every line of a changed
    company is parsed and checked.
    """
    old_names, new_names = set(old.companies()), set(new.companies())
    for company in sorted(old_names | new_names):
        if companies is not None and company not in companies:
            continue
        if old.blob_id(company) == new.blob_id(company) and (company in old_names) == (company in new_names):
            continue
        before, after = split_snapshots(company, [old, new], trusted, ["the old snapshot", "the new snapshot"]).sides
        yield diff_company(company, before, after)


class BackupVersion:
    """A backup file seen as a version of the data, the way a snapshot is:
    each company's canonical lines, sorted by (date, ep_no), made on demand
    one company at a time (the file is already validated and spooled per
    company by :func:`attgit.format.backup.read_backup`)."""

    #: the lines are built here from validated records: a valid blob, so a
    #: line shared with it is a valid record (see :mod:`attgit.format.lines`)
    trusted = True

    def __init__(self, backup):
        self.backup = backup
        self._names = backup.companies()
        self._known = set(self._names)

    def companies(self) -> list:
        return self._names

    def company_bytes(self, company: str) -> bytes:
        if company not in self._known:
            return b""
        return encode_sorted(company, self.backup.records(company))[0]


def diff_versions(old, new, companies: Optional[set] = None,
                  labels: tuple = ("the old version", "the new version")) -> Iterator[CompanyDiff]:
    """Per-company differences between two versions of the data, each a
    :class:`Snapshot` or a :class:`BackupVersion`: the same line-level split
    and keyed diff commits get (:func:`diff_snapshots`), one company in
    memory at a time.  Companies whose lines are byte-equal are skipped; a
    backup file's lines are the trusted side (a snapshot's lines shared
    with them need no parse), else every differing line is parsed."""
    old_names, new_names = set(old.companies()), set(new.companies())
    for company in sorted(old_names | new_names):
        if companies is not None and company not in companies:
            continue
        before, after = old.company_bytes(company), new.company_bytes(company)
        if before == after and (company in old_names) == (company in new_names):
            continue
        trusted = before if getattr(old, "trusted", False) else after if getattr(new, "trusted", False) else None
        split = split_versions(company, layout.company_path(company), [before, after], trusted, list(labels))
        yield diff_company(company, *split.sides)


def trusted_snapshot(repo: Repository) -> Snapshot:
    """The snapshot a read-only comparison may trust: main's, which only
    attgit's checked writes move (:mod:`attgit.format.lines`)."""
    return repo.snapshot(repo.head())


def database_records(db: WorkingCopy, company: str) -> dict:
    return {rec.key(r): r for r in db.records(company)}


def diff_database(repo: Repository, db: WorkingCopy, commit=None, full: bool = False,
                  companies: Optional[set] = None) -> Iterator[CompanyDiff]:
    """Per-company differences from a commit (default: main) to the database;
    InvalidRows names every row that cannot be read as a record."""
    with naming_invalid_rows(db):
        yield from _diff_database(repo, db, commit, full, companies)


def _diff_database(repo: Repository, db: WorkingCopy, commit=None, full: bool = False,
                   companies: Optional[set] = None) -> Iterator[CompanyDiff]:
    head = repo.head()
    target = repo.resolve(commit) if commit is not None else head
    pending = pending_changes(repo, db, full or target != head, at=target)
    for diff in diff_pending(db, repo.snapshot(target), pending):
        if companies is None or diff.company in companies:
            yield diff


def require_diff_companies(repo: Repository, companies: Optional[set], revs: tuple,
                           db: Optional[WorkingCopy] = None) -> None:
    """A diff limited to companies neither side holds is a mistake (a
    mistyped name): UsageError naming the companies there are."""
    if not companies:
        return
    from attgit.ops.companies import require_known

    known: set = set()
    for rev in revs or ((None,) if db is not None else ()):
        known.update(repo.snapshot(repo.resolve(rev) if rev is not None else repo.head()).companies())
    if db is not None and len(revs) < 2:
        known.update(db.companies())
    sides = " and ".join(revs) if len(revs) == 2 else f"the database or {revs[0] if revs else 'HEAD'}"
    require_known(companies, known, sides)


def require_version_companies(companies: Optional[set], versions: list, labels: tuple) -> None:
    """:func:`require_diff_companies` for versions already open (snapshots
    or backup files, as :func:`diff_versions` takes them): a company none
    of them holds is a UsageError naming the ones they hold."""
    if not companies:
        return
    from attgit.ops.companies import require_known

    require_known(companies, {name for version in versions for name in version.companies()}, " and ".join(labels))


@dataclass
class Status:
    """Where the database stands against the last commit."""

    head: Optional[str]
    database_commit: Optional[str]
    added: int = 0
    changed: int = 0
    deleted: int = 0
    companies: list = field(default_factory=list)
    merge_in_progress: bool = False
    conflicts: int = 0
    #: every row was compared (``full``, no change log, or the database
    #: does not record main as its state)
    scanned_all: bool = False
    capture_missing: bool = False
    #: the database is empty and never matched a commit while main has one (a
    #: clone killed before its load, a new database): not "everything deleted"
    unloaded: bool = False
    #: with ``full``: the differences themselves (CompanyDiff), to name them
    diffs: list = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.added or self.changed or self.deleted or self.companies)

    def to_dict(self) -> dict:
        return {**self.__dict__, "diffs": [d.to_dict() for d in self.diffs], "clean": self.clean}


def status(repo: Repository, db: WorkingCopy, full: bool = False) -> Status:
    """Counts of what the database changed since main.  With ``full``,
    every row is compared with main (proof that the change log missed
    nothing) and the differences are kept in ``diffs`` to be named."""
    head = repo.head()
    result = Status(str(head) if head else None, db.state().commit)
    pending = pending_changes(repo, db, full, at=head)
    result.scanned_all, result.capture_missing = pending.full, pending.capture_missing
    result.unloaded = head is not None and result.database_commit is None and not db.companies()
    for diff in diff_pending(db, repo.snapshot(head), pending):
        result.added += len(diff.added)
        result.changed += len(diff.changed)
        result.deleted += len(diff.removed)
        result.companies.append(diff.company)
        if full:
            result.diffs.append(diff)
    return result
