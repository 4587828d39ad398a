"""Snapshot the database into a commit.

A commit after a few edits need not read a million rows: the database's
per-company fingerprints (row count, latest ``updated_at``) are compared
with those it recorded at the last commit, and only companies whose
fingerprint moved are re-read and re-serialised.  When the database and the
repository disagree about where they stand, or on ``full=True``, every
company is re-read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from attgit.format.snapshot import Snapshot, SnapshotBuilder
from attgit.repo.repository import Author, Repository
from attgit.workingcopy import DatabaseState, WorkingCopy


@dataclass
class CommitResult:
    """What a commit did (``commit`` is None when there was nothing to commit)."""

    commit: Optional[str]
    parent: Optional[str]
    kind: str
    companies: int
    records: int
    changed_companies: list = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.commit is not None

    def to_dict(self) -> dict:
        return {**self.__dict__, "created": self.created}


def _as_tuples(fingerprints: dict) -> dict:
    return {c: tuple(f) for c, f in fingerprints.items()}


def moved_since_state(db: WorkingCopy, now: dict) -> set:
    """Companies whose fingerprint differs from the one the database
    recorded with its state (present on one side only counts as moved)."""
    recorded = _as_tuples(db.state().fingerprints)
    return {c for c in set(now) | set(recorded) if now.get(c) != recorded.get(c)}


def dirty_companies(repo: Repository, db: WorkingCopy, fingerprints: dict, full: bool = False,
                    at=None) -> tuple[set, bool]:
    """Companies whose rows may differ from commit ``at`` (default: main),
    and whether that needed a full scan (the database does not record
    ``at`` as its state, or ``full``)."""
    at = repo.head() if at is None else at
    committed = set(repo.snapshot(at).companies())
    if full or at is None or db.state().commit != str(at):
        return set(fingerprints) | committed, True
    return moved_since_state(db, fingerprints) | (committed ^ set(fingerprints)), False


def database_tree(repo: Repository, db: WorkingCopy, base: Snapshot, companies: set,
                  present: Optional[set] = None, progress: Optional[Callable[[str], None]] = None) -> Snapshot:
    """The database as a snapshot: ``base`` with ``companies`` re-read from
    the database (removed where the database has no such company).  Writes
    blobs and a tree, never a commit or a ref."""
    present = set(db.companies()) if present is None else present
    builder = SnapshotBuilder(repo.git, base)
    for company in sorted(companies):
        if progress:
            progress(company)
        if company in present:
            builder.put_records(company, db.records(company))
        else:
            builder.remove(company)
    return Snapshot(repo.git, repo.git[builder.write()])


def database_snapshot(repo: Repository, db: WorkingCopy, store: Optional[Repository] = None) -> Snapshot:
    """The database's current content as a snapshot, without committing
    (what a preview compares against).  Its objects are written into
    ``store`` (a :meth:`Repository.scratch`, so that a preview writes nothing
    into ``repo``), by default into ``repo``."""
    head = repo.head()
    dirty, _ = dirty_companies(repo, db, _as_tuples(db.fingerprints()))
    return database_tree(store or repo, db, repo.snapshot(head), dirty)


def snapshot_database(
    repo: Repository,
    db: WorkingCopy,
    author: Author,
    *,
    message: Optional[str] = None,
    full: bool = False,
    kind: Optional[str] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> CommitResult:
    """Commit the database's current content; the caller holds both locks."""
    head = repo.head()
    fingerprints = _as_tuples(db.fingerprints())
    if not fingerprints and (head is None or db.state().commit is None):
        # An empty database makes no empty first commit, and one that never
        # matched a commit does not commit "everything deleted" on top of a
        # history it never had (reconcile loads main into it instead).
        return CommitResult(None, str(head) if head else None, kind or "full", 0, 0)
    dirty, scanned_all = dirty_companies(repo, db, fingerprints, full)
    base = repo.snapshot(head)
    tree = database_tree(repo, db, base, dirty, set(fingerprints), progress).tree.id
    kind = kind or ("full" if scanned_all else "incremental")
    companies, records = len(fingerprints), sum(f[0] for f in fingerprints.values())
    if head is not None and base.tree.id == tree:
        db.set_state(DatabaseState(str(head), fingerprints))
        return CommitResult(None, str(head), kind, companies, records)
    summary = message or f"Snapshot: {companies} companies, {records:,} records ({kind})"
    trailers = snapshot_trailers(kind, author, companies, records, len(dirty))
    commit = repo.write_commit(tree, [head] if head else [], summary, trailers, author)
    repo.move_head(head, commit, f"attgit commit ({kind})")
    db.set_state(DatabaseState(str(commit), fingerprints))
    return CommitResult(str(commit), str(head) if head else None, kind, companies, records, sorted(dirty))


def snapshot_trailers(kind: str, author: Author, companies: int, records: int, changed: int | None = None) -> dict:
    """The metadata every attgit commit carries in its message."""
    trailers = {
        "Type": kind,
        "Created-By": author.name,
        "Companies": str(companies),
        "Records": str(records),
        "Format": "1",
    }
    if changed is not None:
        trailers["Changed-Companies"] = str(changed)
    return trailers
