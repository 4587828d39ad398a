"""The writers' door: locks, then reconcile what a crash left apart.

The write order (:mod:`attgit.ops.apply`) makes every crash leave either
the old state or a database ahead of its branch; :func:`reconcile`, run by
every writing command through :func:`exclusive`, finishes such a state.
"""


from __future__ import annotations

import contextlib
from typing import Optional

import pygit2

from attgit.merge.plan import load_changes, plan_between
from attgit.merge.trees import merge_snapshots
from attgit.ops.apply import apply_and_move
from attgit.ops.capture import database_tree, log_position, pending_changes
from attgit.ops.commit import snapshot_trailers
from attgit.ops.mergestate import MergeState
from attgit.repo import maintenance
from attgit.repo.repository import Author, Repository
from attgit.words import plural
from attgit.workingcopy import DatabaseState, WorkingCopy


@contextlib.contextmanager
def exclusive(repo: Repository, db: WorkingCopy, wait: float = 0.0, notes: Optional[list] = None):
    """Hold the repository's and the database's single-writer locks and
    reconcile what a crash may have left apart.  Every writer (CLI, web,
    admin) goes through here.  What reconcile did is appended to ``notes``.
    When the writer is done and the locks are released, the repository is
    packed, in a detached process, if its loose objects passed a threshold
    (:mod:`attgit.repo.maintenance`): no command waits for the packing."""
    with repo.lock(wait), db.lock(wait):
        found = [*repo.take_recovered(), reconcile(repo, db)]
        if notes is not None:
            notes.extend(note for note in found if note)
        yield
    maintenance.auto(repo.path, background=True)


def reconcile(repo: Repository, db: WorkingCopy) -> Optional[str]:
    """Bring a database and a branch that a crash left apart back together.

    Returns a sentence saying what was done, or None when nothing was needed.
    """
    head, recorded = repo.head(), db.state().commit
    merge = MergeState.peek(repo)  # the commits only: loading every conflict costs seconds at 5,000
    if merge is not None:
        note = _settle_merge(repo, merge, head, recorded)
        if MergeState.path(repo).exists():
            return note  # a merge waits for a person: nothing may move main meanwhile
        if note is not None and note.startswith("finished"):
            return note
        head = repo.head()
        return "; ".join(n for n in (note, reconcile(repo, db)) if n)
    if recorded is None and head is not None and not db.companies():
        return _load_main(repo, db, head)
    if recorded and recorded != str(head) and repo.contains(recorded):
        target = pygit2.Oid(hex=recorded)
        if head is None or repo.is_ancestor(head, target):
            repo.move_head(head, target, "attgit: finish an interrupted apply")
            return f"finished an interrupted apply: main moved to {recorded[:10]}"
    if recorded and head is not None and repo.contains(recorded) and recorded != str(head) \
            and repo.is_ancestor(pygit2.Oid(hex=recorded), head):
        return _catch_up(repo, db, pygit2.Oid(hex=recorded), head)
    return None


def _settle_merge(repo: Repository, merge: dict, head, recorded: Optional[str]) -> Optional[str]:
    """Where a pending manual merge stands against the database.

    Only two merges are ever settled here: one whose conclusion reached the
    database (main is moved to it) and one that never changed the database
    (interrupted before its apply, or aborted back to where it began).  A
    merge waiting for a person is kept, whatever else happened meanwhile:
    its conflicts and resolutions are the person's work.
    """
    if recorded == merge["work"]:
        return None
    concluding = merge.get("concluding")
    if concluding and recorded == concluding:
        target = pygit2.Oid(hex=concluding)
        if head != target:
            repo.move_head(head, target, "attgit: finish concluding a merge")
        MergeState.discard(repo)
        return f"finished concluding the merge of {merge['theirs_name']}: main at {concluding[:10]}"
    if recorded == merge["ours"]:
        MergeState.discard(repo)
        return "discarded a merge that was interrupted before it changed the database"
    return (f"the merge of {merge['theirs_name']} still waits for you, though the database no longer matches its "
            f"work commit ({merge['work'][:10]}): its conflicts and resolutions are kept; finish it with "
            "`attgit resolve` and `attgit merge --continue`, or undo it with `attgit merge --abort`")


def _catch_up(repo: Repository, db: WorkingCopy, recorded: pygit2.Oid, head: pygit2.Oid) -> str:
    """main moved past the database (a push into this repository, or a crash
    right after a commit): bring the database up to main, keeping any edit
    it has that main lacks (those win; the history keeps both sides)."""
    base = repo.snapshot(recorded)
    target = repo.snapshot(head)
    pending = pending_changes(repo, db, at=recorded)
    current = database_tree(repo, db, base, pending)
    if current.tree_id == target.tree_id:
        db.set_state(DatabaseState(str(head)), consume=pending.watermark)
        return f"the database already matched main; recorded {str(head)[:10]}"
    if current.tree_id == base.tree_id:
        db.apply(plan_between(base, target).changes(), str(head), expect=pending.watermark)
        return f"main had moved past the database: brought the database up to {str(head)[:10]}"
    author = Author("attgit")
    assert current.tree is not None  # database_tree always writes a tree
    own = repo.write_commit(current.tree.id, [recorded], "Database edits not yet committed",
                            snapshot_trailers("incremental", author, len(current.companies()),
                                              current.count_records()), author)
    outcome = merge_snapshots(repo, base, current, target, "ours")
    trailers = snapshot_trailers("merge", author, outcome.companies, outcome.records)
    commit = repo.write_commit(outcome.tree, [head, own], "Merge database edits with main", trailers, author)
    apply_and_move(repo, db, head, commit, outcome.plan, "attgit: database caught up with main",
                   expect=pending.watermark)
    return f"main had moved past the database: merged them at {str(commit)[:10]} (database edits kept)"


def _load_main(repo: Repository, db: WorkingCopy, head: pygit2.Oid) -> str:
    """An empty database that never matched a commit, beside a repository
    that has history (a copied repository, a new environment): it gets
    main's snapshot, as `attgit clone` would give it, rather than a commit
    that deletes everything."""
    target = repo.snapshot(head)
    total = target.count_records()
    db.apply(load_changes(target), str(head), None, total, expect=log_position(db))
    return f"the database was empty and had never matched a commit: loaded main ({str(head)[:10]}, " \
           f"{plural(total, 'record')})"

