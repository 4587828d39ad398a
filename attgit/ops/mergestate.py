"""A merge waiting for a person: git's MERGE_HEAD, for attendance data.

With the ``manual`` strategy the database gets every change that did not
conflict and keeps its own version of each conflicting record; the merge's
state (the commits involved and the conflicts, with any resolutions made
so far) is kept in ``ATTGIT_MERGE.json`` inside the repository, written
atomically, so it survives the process and is resumable from the CLI or the
web page until it is concluded or aborted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import orjson

from attgit.errors import ConflictsPending, NotFound
from attgit.merge.conflict import Conflict
from attgit.words import plural

STATE_FILE = "ATTGIT_MERGE.json"
WORK_REF = "refs/attgit/merge-work"


@dataclass
class MergeState:
    """The pending merge: ours/theirs/base commits, the work commit the
    database matches meanwhile, and the conflicts."""

    kind: str  # "pull", "import" or "checkout"
    ours: Optional[str]
    theirs: Optional[str]
    theirs_name: str
    base: Optional[str]
    work: str
    conflicts: list = field(default_factory=list)  # Conflict
    resolutions: dict = field(default_factory=dict)  # conflict id -> record or None (deleted)
    #: the commit that concludes the merge, recorded before the database is
    #: changed to it, so a crash mid-conclude is finished, never discarded
    concluding: Optional[str] = None

    # --- persistence -------------------------------------------------

    @staticmethod
    def path(repo) -> Path:
        return Path(repo.path) / STATE_FILE

    @classmethod
    def load(cls, repo) -> Optional["MergeState"]:
        try:
            data = orjson.loads(cls.path(repo).read_bytes())
        except FileNotFoundError:
            return None
        data["conflicts"] = [Conflict.from_dict(c) for c in data["conflicts"]]
        return cls(**data)

    @classmethod
    def peek(cls, repo) -> Optional[dict]:
        """The merge's commits and names without its conflicts (None: no
        merge): what a caller that only asks "is a merge waiting, on which
        work commit?" needs.  Loading checks every record of every conflict,
        seconds for thousands of them; this only parses the file."""
        try:
            data = orjson.loads(cls.path(repo).read_bytes())
        except FileNotFoundError:
            return None
        data.pop("conflicts", None)
        data.pop("resolutions", None)
        return data

    def save(self, repo) -> None:
        data = {**self.__dict__, "conflicts": [c.to_dict() for c in self.conflicts]}
        path = self.path(repo)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def clear(cls, repo) -> None:
        try:
            cls.path(repo).unlink()
        except FileNotFoundError:
            pass

    # --- queries -----------------------------------------------------

    @classmethod
    def discard(cls, repo) -> None:
        """Forget the merge: its state file and the ref that kept its work
        commit alive."""
        cls.clear(repo)
        repo.set_ref(WORK_REF, None)

    def pending(self) -> list:
        return [c for c in self.conflicts if c.id not in self.resolutions]

    def find(self, conflict_id: str) -> Conflict:
        matches = [c for c in self.conflicts if c.id.startswith(conflict_id)]
        if len(matches) != 1:
            what = "no conflict" if not matches else plural(len(matches), "conflict")
            raise NotFound(f"{what} with id {conflict_id!r}; see `attgit conflicts`")
        return matches[0]

    def resolve(self, conflict_id: str, choice) -> Conflict:
        """Record a resolution: "ours", "theirs" or {field: ours|theirs|value}."""
        conflict = self.find(conflict_id)
        self.resolutions[conflict.id] = conflict.resolve(choice)
        return conflict


class ExportWhileMerging(ConflictsPending):
    """A backup file was asked for while a manual merge waits: refused
    (exit 7), by every export path with the same words."""


def refuse_export_while_merging(repo) -> None:
    """Raise ExportWhileMerging when a manual merge waits: the database then
    holds a half-merged state (ours for each conflicting record, theirs for
    the rest), and a backup of it would pass for a state that never was.
    ``attgit export``, ``manage.py backup_data``, BackupService and the web
    backup all call this, so all say the same."""
    state = MergeState.load(repo)
    if state is None:
        return
    raise ExportWhileMerging(
        f"no backup was made: a merge of {state.theirs_name} is in progress ({len(state.pending()):,} of "
        f"{len(state.conflicts):,} conflicts unresolved), so the database holds a half-merged state. "
        "Finish the merge first (resolve its conflicts, then conclude it) or abort it: on the Conflicts page, "
        "or with attgit conflicts, attgit merge --continue or attgit merge --abort."
    )


def refuse_while_merging(repo, doing: str) -> None:
    """Raise ConflictsPending when a manual merge waits for a person.

    As git refuses to commit with unmerged paths: anything that would move
    main (commit, checkout, import, pull) would settle the merge behind the
    person's back and lose their resolutions.
    """
    state = MergeState.load(repo)
    if state is None:
        return
    pending, total = len(state.pending()), len(state.conflicts)
    raise ConflictsPending(
        f"cannot {doing}: a merge is in progress (the merge of {state.theirs_name} waits for you, {pending:,} of "
        f"{plural(total, 'conflict')} unresolved). Finish it: `attgit conflicts` lists them, `attgit resolve ID --ours|--theirs` settles one, "
        "`attgit merge --continue` concludes it; or undo it with `attgit merge --abort`."
    )
