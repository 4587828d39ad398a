"""Clone: a new repository from a remote, and its main loaded into an empty
database.  What `attgit clone` does, as one library function.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from attgit.errors import UsageError
from attgit.merge.plan import load_changes
from attgit.ops.capture import log_position
from attgit.ops.reconcile import exclusive
from attgit.repo.repository import Repository
from attgit.repo.transport import TransferProgress, clone
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
    if db.companies():
        raise UsageError("the database is not empty: use `attgit init`, `attgit remote add` and `attgit pull` "
                         "to merge into existing data")
    repo = clone(url, path, name, progress)
    notes: list = []
    with exclusive(repo, db, wait, notes):  # reconcile loads main into the empty database
        head = repo.head()
        if db.state().commit != str(head):  # a database that recorded another commit once
            target = repo.snapshot(head)
            db.apply(load_changes(target), str(head), load_progress, target.count_records(),
                     expect=log_position(db))
    return CloneResult(repo, str(head), repo.snapshot(head).count_records(), notes)
