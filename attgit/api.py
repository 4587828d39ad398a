"""The library's entry points: what each `attgit` command does, as one call.

Each function is a thin door over :mod:`attgit.ops`: it takes what the
command would take, holds the single-writer locks where the command holds
them (and reconciles what a crash left apart, as every writer must), and
returns the operation's result as data.  Nothing here prints, and nothing
imports Django: a database takes part through the
:class:`attgit.workingcopy.WorkingCopy` protocol.  ``attgit/__init__.py``
re-exports these names; import them from ``attgit``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Optional, Union

from attgit.errors import UsageError
from attgit.repo.repository import Author, Repository, default_author

if TYPE_CHECKING:
    from attgit.format.backup import BackupSummary
    from attgit.merge.diff import CompanyDiff
    from attgit.ops.clone import CloneResult
    from attgit.ops.commit import CommitResult
    from attgit.ops.compare import Status
    from attgit.ops.pull import PullResult
    from attgit.ops.restore import RestoreResult
    from attgit.ops.verify import VerifyResult
    from attgit.workingcopy import WorkingCopy

PathLike = Union[str, "os.PathLike[str]"]


def _repo(repo: Union[Repository, PathLike]) -> Repository:
    """A Repository as given, or the one at a path (NotARepository if none)."""
    return repo if isinstance(repo, Repository) else Repository.open(repo)


def normalise_record(raw: dict) -> dict:
    """The canonical record for ``raw`` (the fields of an attendance row;
    dates and times as text or ``date``/``time`` objects), or
    :class:`ValidationError` naming the bad field.  Records put into a
    :class:`MemoryWorkingCopy` should be canonical, as a database's are."""
    from attgit.format.records import normalise

    return normalise(raw)


def snapshot(repo: Union[Repository, PathLike], db: "WorkingCopy", author: Optional[Author] = None, *,
             message: Optional[str] = None, full: bool = False, wait: float = 0.0) -> "CommitResult":
    """Commit the database's current content to main (`attgit commit`).

    Only the companies the database's change log names are re-read, unless
    ``full``.  ``result.commit`` is None when there was nothing to commit.
    ``author`` defaults to ``$ATTGIT_USER`` or the login name.  Refused
    while a manual merge waits (:class:`ConflictsPending`), when rows cannot
    be committed (:class:`ValidationError` naming each) and while another
    writer holds the locks (:class:`Locked`, after ``wait`` seconds).
    """
    from attgit.ops.commit import snapshot_database
    from attgit.ops.reconcile import exclusive

    repo = _repo(repo)
    with exclusive(repo, db, wait):
        return snapshot_database(repo, db, author or default_author(), message=message, full=full)


def status(repo: Union[Repository, PathLike], db: "WorkingCopy", *, full: bool = False) -> "Status":
    """How the database differs from main (`attgit status`): counts of
    added, changed and deleted records and the companies touched.  Reads
    only; ``full`` compares every row and keeps the differences in
    ``result.diffs``."""
    from attgit.ops.compare import status as compute

    return compute(_repo(repo), db, full=full)


def diff(repo: Union[Repository, PathLike], old: Optional[str] = None, new: Optional[str] = None, *,
         db: Optional["WorkingCopy"] = None, companies: Optional[Iterable[str]] = None) -> Iterator["CompanyDiff"]:
    """Record-level differences, one :class:`CompanyDiff` per changed
    company (`attgit diff`): ``added``, ``removed`` and ``changed`` (each
    change names its fields).

    Two revisions (``old``, ``new``: anything `attgit` takes, such as
    ``"HEAD~1"`` or a short id) compare two commits; with ``db`` and at most
    ``old``, the database is compared with ``old`` (default: main).
    ``companies`` limits the comparison to those names.
    """
    from attgit.ops.compare import diff_database, diff_snapshots, require_diff_companies, trusted_snapshot

    repo = _repo(repo)
    only = set(companies) if companies is not None else None
    if new is not None:
        if old is None or db is not None:
            raise UsageError("diff compares two revisions (old and new) or the database (db) with one")
        require_diff_companies(repo, only, (old, new))
        return diff_snapshots(repo.snapshot(old), repo.snapshot(new), only, trusted_snapshot(repo))
    if db is None:
        raise UsageError("diff needs a second revision or a database (db=...) to compare with")
    require_diff_companies(repo, only, (old,) if old is not None else (), db)
    return diff_database(repo, db, old, companies=only)


def pull(repo: Union[Repository, PathLike], db: "WorkingCopy", remote: str = "origin",
         author: Optional[Author] = None, *, strategy: str = "manual", preview: bool = False,
         allow_unrelated: bool = False, wait: float = 0.0) -> "PullResult":
    """Fetch ``remote`` and merge its main into the database and main
    (`attgit pull`).

    The database is committed first; then a fast-forward, a three-way merge
    or, with conflicts and strategy ``"manual"`` (the default, git's), a
    manual merge that waits for a person (``result.status == "conflicts"``).
    ``"theirs"`` and ``"ours"`` settle conflicts at once.  A ``preview``
    fetches and writes nothing else.
    """
    from attgit.ops.pull import pull_remote
    from attgit.ops.reconcile import exclusive

    repo = _repo(repo)
    with exclusive(repo, db, wait):
        return pull_remote(repo, db, author or default_author(), remote, strategy=strategy, preview=preview,
                           allow_unrelated=allow_unrelated)


def clone(url: str, path: PathLike, db: "WorkingCopy", remote: str = "origin", *,
          wait: float = 0.0) -> "CloneResult":
    """Clone ``url`` (a path, ``file://``, ``ssh://``, ``https://`` ...)
    into a new bare repository at ``path`` and load its main into ``db``,
    which must be empty (`attgit clone`).  ``result.repo`` is the new
    :class:`Repository`."""
    from attgit.ops.clone import clone_into

    return clone_into(url, Path(path), db, remote, wait=wait)


def import_backup(repo: Union[Repository, PathLike], db: "WorkingCopy", path: PathLike,
                  author: Optional[Author] = None, *, strategy: str = "theirs", preview: bool = False,
                  companies: Optional[Iterable[str]] = None, date_from: Optional[str] = None,
                  date_to: Optional[str] = None, gnupghome: Optional[str] = None,
                  wait: float = 0.0) -> "RestoreResult":
    """Merge a JSON backup file (the design document's format) into the
    database (`attgit import`): absent records are added, identical ones
    skipped, different ones settled by ``strategy`` (``"theirs"`` = the
    file wins, ``"ours"`` = the database wins, ``"manual"``); never deletes.

    The whole file is validated first (:class:`ValidationError` lists every
    problem, and nothing is changed).  ``companies``, ``date_from`` and
    ``date_to`` (YYYY-MM-DD) limit what is taken; ``preview`` writes
    nothing.  An OpenPGP-encrypted file is decrypted with the key in
    ``gnupghome``.
    """
    from attgit.format.backup import read_backup
    from attgit.ops.reconcile import exclusive
    from attgit.ops.restore import Selection
    from attgit.ops.restore import import_backup as run

    repo = _repo(repo)
    selection = Selection(set(companies) if companies is not None else None, date_from, date_to)
    with read_backup(path, gnupghome=gnupghome) as backup, exclusive(repo, db, wait):
        return run(repo, db, author or default_author(), backup, os.path.basename(os.fspath(path)),
                   strategy=strategy, preview=preview, selection=selection)


def export_backup(db: "WorkingCopy", path: PathLike, *, backup_type: str = "full",
                  since: Union[str, dt.date, dt.datetime, None] = None, created_by: Optional[str] = None,
                  encrypt_to: Optional[str] = None, gnupghome: Optional[str] = None) -> "BackupSummary":
    """Write the database as a JSON backup file (`attgit export`): mode
    0600, written under a hidden name and renamed when complete, after a
    free-space check.  ``backup_type="incremental"`` with ``since`` (a date
    is its midnight UTC here) needs a database that keeps update times
    (``records_since``); a full backup works from any working copy.
    ``encrypt_to`` names a public key in ``gnupghome``.  Returns the counts
    written (``companies``, ``records``, ``bytes``)."""
    from attgit.ops.export import export_backup as run
    from attgit.ops.export import parse_since

    moment = parse_since(since) if since is not None else None
    return run(_exportable(db, backup_type), path, backup_type=backup_type, since=moment,
               created_by=created_by or default_author().name, encrypt_to=encrypt_to, gnupghome=gnupghome)


def _exportable(db, backup_type: str):
    """``db`` itself when it can list companies with their creation times,
    else a view that lists them without (a full backup needs nothing more)."""
    if hasattr(db, "companies_with_created_at") and hasattr(db, "records_since"):
        return db
    if backup_type == "incremental":
        raise UsageError("an incremental backup needs a database that keeps update times (records_since)")
    return _FullExport(db)


class _FullExport:
    """A working copy seen as the exporter sees a database: companies with
    no creation time or id (both informative only in a backup file)."""

    def __init__(self, db):
        self._db = db

    def __getattr__(self, name):
        return getattr(self._db, name)

    def companies_with_created_at(self) -> list:
        return [{"name": name, "created_at": None, "id": None} for name in sorted(self._db.companies())]

    def records_since(self, since):  # never called for a full backup
        raise UsageError("an incremental backup needs a database that keeps update times (records_since)")


def verify(repo: Union[Repository, PathLike]) -> "VerifyResult":
    """Read every commit, tree and blob of the repository and check every
    record's checksum and every commit's counts (`attgit verify`).  Damage
    is data: ``result.ok`` and ``result.problems`` say what was found."""
    from attgit.ops.verify import verify as run

    return run(_repo(repo))
