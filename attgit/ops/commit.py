"""Snapshot the database into a commit.

A commit after a few edits need not read a million rows: the database's
change log names every key written since it matched main, so only those
rows are read and each touched company's blob is spliced (unchanged lines
copied as bytes; :mod:`attgit.ops.capture`).  Exactly the log entries read
are consumed, in the transaction that records the new commit in the
database, so an edit made while the commit ran is in the next one.  When
the database and the repository disagree about where they stand, when the
log is missing, or on ``full=True``, every company is re-read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from attgit import fsutil
from attgit.format import layout, objects
from attgit.format.snapshot import Snapshot
from attgit.ops.capture import database_tree, pending_changes
from attgit.ops.mergestate import refuse_while_merging
from attgit.ops.validity import naming_invalid_rows
from attgit.repo.repository import Author, Repository
from attgit.words import plural
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
    #: the database keeps no change log: everything was compared
    capture_missing: bool = False

    @property
    def created(self) -> bool:
        return self.commit is not None

    def to_dict(self) -> dict:
        return {**self.__dict__, "created": self.created}


def database_snapshot(repo: Repository, db: WorkingCopy, store: Optional[Repository] = None) -> Snapshot:
    """The database's current content as a snapshot, without committing
    (what a preview compares against).  Its objects are written into
    ``store`` (a :meth:`Repository.scratch`, so that a preview writes nothing
    into ``repo``), by default into ``repo``."""
    head = repo.head()
    return database_tree(store or repo, db, repo.snapshot(head), pending_changes(repo, db, at=head))


def snapshot_database(repo: Repository, db: WorkingCopy, author: Author, **options) -> CommitResult:
    """Commit the database's current content; the caller holds both locks.

    Refused while a manual merge waits for a person (committing over it
    would lose the person's choices), and refused, naming every bad row,
    when the database holds rows that cannot be committed exactly.
    Options: see :func:`_snapshot_database`.
    """
    refuse_while_merging(repo, "commit")
    with naming_invalid_rows(db):
        return _snapshot_database(repo, db, author, **options)


def _snapshot_database(
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
    pending = pending_changes(repo, db, full)  # the log first: later edits stay for the next commit
    present = set(db.companies())
    if not present and (head is None or db.state().commit is None):
        # An empty database makes no empty first commit, and one that never
        # matched a commit does not commit "everything deleted" on top of a
        # history it never had (reconcile loads main into it instead).  What
        # the log says about rows no longer there is moot: consumed.
        db.set_state(db.state(), consume=pending.watermark)
        return CommitResult(None, str(head) if head else None, kind or "full", 0, 0,
                            capture_missing=pending.capture_missing)
    base = repo.snapshot(head)
    touched = sorted(pending.companies(base, present))
    _check_room(repo, base, touched, pending.full, db)
    current = database_tree(repo, db, base, pending, present, progress)
    assert current.tree is not None  # database_tree always writes a tree
    tree = current.tree.id
    kind = kind or ("full" if pending.full else "incremental")
    companies, records = len(present), db.record_count()
    done = CommitResult(None, str(head) if head else None, kind, companies, records, touched,
                        capture_missing=pending.capture_missing)
    if head is not None and base.tree_id == str(tree):
        db.set_state(DatabaseState(str(head)), consume=pending.watermark)
        return done
    summary = message or f"Snapshot: {plural(companies, 'company')}, {plural(records, 'record')} ({kind})"
    trailers = snapshot_trailers(kind, author, companies, records, len(touched))
    commit = repo.write_commit(tree, [head] if head else [], summary, trailers, author)
    repo.move_head(head, commit, f"attgit commit ({kind})")
    db.set_state(DatabaseState(str(commit)), consume=pending.watermark)
    done.commit = str(commit)
    return done


def _check_room(repo: Repository, base: Snapshot, touched: list, full: bool, db: WorkingCopy) -> None:
    """Refuse (NoSpace) before writing a commit whose new blobs would not
    fit: every record x the average line for a full read, else the touched
    companies' current files again (uncompressed sizes: a generous estimate)."""
    if full or base.tree is None:
        needed = fsutil.estimate(db.record_count())
    else:
        blobs = ((base.blob_id(c), c) for c in touched)  # sizes from headers: no blob is read here
        needed = sum(objects.size(repo.git, oid, "blob", layout.company_path(c), base.commit)
                     for oid, c in blobs if oid is not None) + fsutil.estimate(0)
    fsutil.check_free_space(repo.path, needed, "the commit")


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
