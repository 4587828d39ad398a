"""A merge that waits for a person: starting it, concluding it, aborting it.

With the manual strategy the database takes what merged cleanly and keeps
its own version of each conflict; the work commit and the conflicts are
persisted (:mod:`attgit.ops.mergestate`) until every conflict is resolved
(one merge commit) or the merge is aborted (the database goes back).  Edits
made to the database while the merge waited are kept either way.
"""


from __future__ import annotations

import pygit2

from attgit.errors import ConflictsPending
from attgit.format.snapshot import Snapshot, SnapshotBuilder, encode_sorted
from attgit.merge.plan import Plan, plan_between
from attgit.merge.trees import MergeOutcome, merge_snapshots
from attgit.ops.apply import apply_and_move
from attgit.ops.commit import _as_tuples, database_tree, moved_since_state, snapshot_trailers
from attgit.ops.mergestate import WORK_REF, MergeState
from attgit.repo.repository import Author, Repository
from attgit.words import plural
from attgit.workingcopy import DatabaseState, WorkingCopy
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
             expect=db.state().fingerprints)
    result.status, result.commit = "conflicts", str(work)
    return result


def conclude(repo: Repository, db: WorkingCopy, author: Author, progress: Progress = None) -> str:
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
    commit = _land(repo, db, author, work, target, parents, summary, trailers, progress)
    MergeState.discard(repo)
    return str(commit)


def abort(repo: Repository, db: WorkingCopy, author: Author, progress: Progress = None) -> str:
    """Return the database to the state before the merge began."""
    state = _require_merge(repo)
    work = repo.snapshot(state.work)
    ours_oid = pygit2.Oid(hex=state.ours) if state.ours else None
    original = repo.snapshot(ours_oid)
    plan = _plan_keeping_new_edits(repo, db, author, work, original)
    db.apply(plan.changes(), state.ours, progress, plan.counts.total, expect=plan.expect)
    if plan.tree is not None:  # edits made meanwhile were kept: the next commit must re-read all
        db.set_state(DatabaseState(state.ours, {}))
    MergeState.discard(repo)
    return state.ours or ""


def _land(repo, db, author, work: Snapshot, target: Snapshot, parents, summary, trailers, progress):
    """Commit ``target`` (after folding in any edit made to the database
    while the merge waited), apply it, move main."""
    plan = _plan_keeping_new_edits(repo, db, author, work, target)
    tree = plan.tree if plan.tree is not None else target.tree.id
    commit = repo.write_commit(tree, parents, summary, trailers, author)
    apply_and_move(repo, db, parents[0] if parents else None, commit, plan, "attgit merge: concluded", progress,
                   expect=plan.expect)
    return commit


def _plan_keeping_new_edits(repo, db, author, work: Snapshot, target: Snapshot) -> Plan:
    """The plan from the database to ``target``; edits made to the database
    since it matched ``work`` win over the target (nobody's edit is lost)."""
    now = _as_tuples(db.fingerprints())
    moved = moved_since_state(db, now)
    if not moved:
        plan = plan_between(work, target)
        plan.expect = now
        return plan
    current = database_tree(repo, db, work, moved)
    outcome = merge_snapshots(repo, work, current, target, "ours")
    outcome.plan.tree = outcome.tree
    outcome.plan.expect = now
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
