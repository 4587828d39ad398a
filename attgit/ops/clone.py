"""Clone: a new repository from a remote, and its main loaded into an empty
database.  What `attgit clone` does, as one library function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from attgit.errors import AttgitError, UsageError
from attgit.merge.plan import load_changes
from attgit.ops.capture import log_position
from attgit.ops.reconcile import exclusive
from attgit.repo.repository import Repository
from attgit.repo.transport import TransferProgress, check_url, clone, list_remotes
from attgit.workingcopy import Progress, WorkingCopy


@dataclass
class CloneResult:
    """The new repository, the commit the database now matches, and what
    was loaded."""

    repo: Repository
    commit: str
    records: int
    notes: list

    def to_dict(self) -> dict:
        return {"repo": str(self.repo.path), "commit": self.commit, "records": self.records, "notes": self.notes}


def clone_into(url: str, path: str | Path, db: WorkingCopy, name: str = "origin", *,
               progress: Optional[TransferProgress] = None, load_progress: Optional[Progress] = None,
               wait: float = 0.0) -> CloneResult:
    """Clone ``url`` into a new bare repository at ``path`` (remote ``name``)
    and load its main into ``db``, which must be empty.

    The load is the one every writer does for an empty database that never
    matched a commit (:func:`attgit.ops.reconcile.reconcile`), under both
    locks; the database ends up recording main as the commit it matches.
    """
    check_url(url)
    if db.companies():
        raise UsageError("the database is not empty: use `attgit init`, `attgit remote add` and `attgit pull` "
                         "to merge into existing data")
    notes: list = []
    repo = _interrupted_clone(url, Path(path), name, db)
    if repo is not None:
        notes.append(f"resumed an interrupted clone: {repo.path} was cloned from {url} but the database "
                     "was never loaded")
    else:
        repo = clone(url, path, name, progress)
    with exclusive(repo, db, wait, notes):  # reconcile loads main into the empty database
        head = repo.head()
        if db.state().commit != str(head):  # a database that recorded another commit once
            target = repo.snapshot(head)
            db.apply(load_changes(target), str(head), load_progress, target.count_records(),
                     expect=log_position(db))
    return CloneResult(repo, str(head), repo.snapshot(head).count_records(), notes)


def _interrupted_clone(url: str, path: Path, name: str, db: WorkingCopy) -> Optional[Repository]:
    """The repository a clone killed before it loaded the (still empty)
    database left at ``path``, to finish the job; None when ``path`` is
    empty or absent (a clone from scratch).  Anything else there is
    refused, saying what it is: attgit never deletes a folder it did not
    just create."""
    if not path.exists() or not any(path.iterdir()):
        return None
    try:
        repo = Repository.open(path)
    except AttgitError:
        raise UsageError(f"{path} exists and is not an attgit repository (a clone killed while git was still "
                         "writing it leaves such a folder): remove it, or clone into a new path") from None
    urls = {r["name"]: r["url"] for r in list_remotes(repo)}
    if urls.get(name) != url or repo.head() is None or db.state().commit is not None:
        raise UsageError(f"{path} exists and is not empty; clone into a new path (a clone of {url} is resumed "
                         "only into the repository it left, beside a database it never loaded)")
    return repo
