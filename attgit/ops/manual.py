"""A merge that waits for a person: starting it, concluding it, aborting it.

With the manual strategy the database takes what merged cleanly and keeps
its own version of each conflict; the work commit and the conflicts are
persisted (:mod:`attgit.ops.mergestate`) until every conflict is resolved
(one merge commit) or the merge is aborted (the database goes back).  Edits
made to the database while the merge waited are kept either way.
"""


from __future__ import annotations

from typing import Optional

import pygit2

from attgit.errors import ConflictsPending
from attgit.format.snapshot import Snapshot, SnapshotBuilder, encode_sorted
from attgit.merge.plan import Plan, plan_between
from attgit.merge.trees import MergeOutcome, merge_snapshots
from attgit.ops.apply import apply_and_move
from attgit.ops.capture import database_tree, differing_companies, pending_changes
from attgit.ops.commit import snapshot_trailers
from attgit.ops.mergestate import WORK_REF, MergeState
from attgit.repo.repository import Author, Repository
from attgit.words import plural
from attgit.workingcopy import WorkingCopy
from attgit.workingcopy.protocol import Progress


def start_manual(repo, db, author, head, theirs, base, name, outcome: MergeOutcome, result,
                 kind: str = "pull"):
    """Apply what merged cleanly, keep ours for conflicts, persist the rest."""
    trailers = snapshot_trailers("merge-wip", author, outcome.companies, outcome.records)
    work = repo.write_commit(outcome.tree, [head] if head else [], f"Work in progress: merge of {name}",
                             trailers, author)
    repo.set_ref(WORK_REF, work)
    state = MergeState(kind, str(head) if head else None, str(theirs) if theirs else None, name,
                       str(base) if base else None, str(work), conflicts=outcome.pending)
    state.save(repo)
    db.apply(outcome.plan.changes(), str(work), None, outcome.plan.counts.total,
             expect=db.state().watermark)
    result.status, result.commit = "conflicts", str(work)
    return result


def conclude(repo: Repository, db: WorkingCopy, author: Author, progress: Optional[Progress] = None) -> str:
    """Finish a manual merge whose conflicts are all resolved: one commit."""
    state = _require_merge(repo)
    if state.pending():
        raise ConflictsPending(f"{plural(len(state.pending()), 'conflict')} still to resolve; see `attgit conflicts`")
    work = repo.snapshot(state.work)
    builder = SnapshotBuilder(repo.git, work)
    for company, resolved in _resolutions_by_company(state).items():
        current = work.records(company)
        for key, record in resolved.items():
            if record is None:
                current.pop(key, None)
            else:
                current[key] = record
        builder.put_blob(company, encode_sorted(company, current)[0])
    target = Snapshot(repo.git, repo.git[builder.write()])
    parents = [pygit2.Oid(hex=p) for p in (state.ours, state.theirs if state.kind == "pull" else None) if p]
    kind = "merge" if state.kind == "pull" else state.kind
    trailers = snapshot_trailers(kind, author, len(target.companies()), target.count_records())
    trailers["Strategy"] = "manual"
    trailers["Conflicts"] = str(len(state.conflicts))
    settled = f"{plural(len(state.conflicts), 'conflict')} resolved by hand"
    summary = f"Merge {state.theirs_name} into main: {settled}" if state.kind == "pull" \
        else f"Import {state.theirs_name}: {settled}"
    commit = _land(repo, db, author, state, target, parents, summary, trailers, progress)
    MergeState.discard(repo)
    return str(commit)


def abort(repo: Repository, db: WorkingCopy, author: Author, progress: Optional[Progress] = None) -> str:
    """Return the database to the state before the merge began."""
    state = _require_merge(repo)
    ours_oid = pygit2.Oid(hex=state.ours) if state.ours else None
    original = repo.snapshot(ours_oid)
    plan = _plan_keeping_new_edits(repo, db, author, state, original)
    # Edits made meanwhile were kept: their companies are logged as changed
    # in the apply's transaction, so the next commit reads them.
    dirty = differing_companies(Snapshot(repo.git, repo.git[plan.tree]), original) if plan.tree is not None else ()
    db.apply(plan.changes(), state.ours, progress, plan.counts.total, expect=plan.expect, dirty=dirty)
    MergeState.discard(repo)
    return state.ours or ""


def _land(repo, db, author, state: MergeState, target: Snapshot, parents, summary, trailers, progress):
    """Commit ``target`` (after folding in any edit made to the database
    while the merge waited), apply it, move main.  The concluding commit is
    recorded in the merge state before the database changes, so reconcile
    finishes a conclude a crash interrupted instead of discarding it."""
    plan = _plan_keeping_new_edits(repo, db, author, state, target)
    assert target.tree is not None  # conclude's target is a tree it just wrote
    tree = plan.tree if plan.tree is not None else target.tree.id
    commit = repo.write_commit(tree, parents, summary, trailers, author)
    state.concluding = str(commit)
    state.save(repo)
    apply_and_move(repo, db, parents[0] if parents else None, commit, plan, "attgit merge: concluded", progress,
                   expect=plan.expect)
    return commit


def _plan_keeping_new_edits(repo, db, author, state: MergeState, target: Snapshot) -> Plan:
    """The plan from the database to ``target``; edits made to the database
    since it matched the merge's work commit win over the target (nobody's
    edit is lost).  A database that no longer records the work commit (it
    was moved while the merge waited) is re-read whole."""
    work = repo.snapshot(state.work)
    pending = pending_changes(repo, db, at=state.work)
    current = database_tree(repo, db, work, pending) if pending.full or pending.changes else work
    if current.tree_id == work.tree_id:
        plan = plan_between(work, target)
        plan.expect = pending.watermark
        return plan
    outcome = merge_snapshots(repo, work, current, target, "ours")
    outcome.plan.tree = outcome.tree
    outcome.plan.expect = pending.watermark
    return outcome.plan


def _resolutions_by_company(state: MergeState) -> dict:
    out: dict = {}
    for conflict in state.conflicts:
        out.setdefault(conflict.key[1], {})[tuple(conflict.key)] = state.resolutions[conflict.id]
    return out


def _require_merge(repo: Repository) -> MergeState:
    from attgit.errors import NoMergeInProgress

    state = MergeState.load(repo)
    if state is None:
        raise NoMergeInProgress()
    return state
