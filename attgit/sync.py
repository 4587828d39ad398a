"""Merging snapshots into the database: pull, conclude, abort, reconcile.

The order of writes is what makes a crash harmless:

1. every object of the new commit (blobs, trees, the commit) is written;
2. the database changes in ONE transaction that also records the new
   commit id as the one it matches;
3. the branch moves.

A crash before 2 leaves unreferenced objects (harmless); a crash between 2
and 3 leaves a database ahead of its branch, which :func:`reconcile` (run
by every writing command) notices and finishes by moving the branch.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Optional

import pygit2

from . import records as rec
from .commit import snapshot_database, snapshot_trailers
from .conflicts import WORK_REF, MergeState
from .errors import ConflictsPending
from .merge import MergeCounts, import_company, merge_company, parse_strategy
from .plan import Plan, plan_between
from .repository import Author, Repository
from .snapshot import Snapshot, SnapshotBuilder, encode_sorted
from .workingcopy import DatabaseState, WorkingCopy

Progress = Optional[Callable[[int, int], None]]


# --- reconcile -------------------------------------------------------------

@contextlib.contextmanager
def exclusive(repo: Repository, db: WorkingCopy, wait: float = 0.0, notes: Optional[list] = None):
    """Hold the repository's and the database's single-writer locks and
    reconcile what a crash may have left apart.  Every writer (CLI, web,
    admin) goes through here.  What reconcile did is appended to ``notes``."""
    with repo.lock(wait), _db_lock(db, wait):
        note = reconcile(repo, db)
        if note and notes is not None:
            notes.append(note)
        yield


def _db_lock(db: WorkingCopy, wait: float):
    try:
        return db.lock(wait=wait)
    except TypeError:  # a working copy whose lock() takes no wait
        return db.lock()


def reconcile(repo: Repository, db: WorkingCopy) -> Optional[str]:
    """Bring a database and a branch that a crash left apart back together.

    Returns a sentence saying what was done, or None when nothing was needed.
    """
    head, recorded = repo.head(), db.state().commit
    if recorded is None and head is not None and not db.fingerprints():
        return _load_main(repo, db, head)
    merge = MergeState.load(repo)
    if merge is not None and recorded == merge.work:
        return None  # a manual merge waits for resolutions: consistent
    if recorded and recorded != str(head) and repo.contains(recorded):
        target = pygit2.Oid(hex=recorded)
        if head is None or repo.git.descendant_of(target, head):
            repo.move_head(head, target, "attgit: finish an interrupted apply")
            _clear_merge(repo)
            return f"finished an interrupted apply: main moved to {recorded[:10]}"
    if merge is not None:
        _clear_merge(repo)
        return "discarded a merge that was interrupted before it changed the database"
    if recorded and head is not None and repo.contains(recorded) and recorded != str(head) \
            and repo.git.descendant_of(head, pygit2.Oid(hex=recorded)):
        return _catch_up(repo, db, pygit2.Oid(hex=recorded), head)
    return None


def _catch_up(repo: Repository, db: WorkingCopy, recorded: pygit2.Oid, head: pygit2.Oid) -> str:
    """main moved past the database (a push into this repository, or a crash
    right after a commit): bring the database up to main, keeping any edit
    it has that main lacks (those win; the history keeps both sides)."""
    from .commit import _as_tuples, dirty_companies

    base = repo.snapshot(recorded)
    target = repo.snapshot(head)
    fingerprints = _as_tuples(db.fingerprints())
    dirty, _ = dirty_companies_at(repo, db, fingerprints, recorded)
    current = _database_tree(repo, db, base, dirty) if dirty else base
    if current.tree.id == target.tree.id:
        db.set_state(DatabaseState(str(head), fingerprints))
        return f"the database already matched main; recorded {str(head)[:10]}"
    if current.tree.id == base.tree.id:
        db.apply(plan_between(base, target).changes(), str(head), expect=fingerprints)
        return f"main had moved past the database: brought the database up to {str(head)[:10]}"
    author = Author("attgit")
    own = repo.write_commit(current.tree.id, [recorded], "Database edits not yet committed",
                            snapshot_trailers("incremental", author, len(current.companies()),
                                              current.count_records()), author)
    outcome = merge_snapshots(repo, base, current, target, "ours")
    trailers = snapshot_trailers("merge", author, outcome.companies, outcome.records)
    commit = repo.write_commit(outcome.tree, [head, own], "Merge database edits with main", trailers, author)
    apply_and_move(repo, db, head, commit, outcome.plan, "attgit: database caught up with main",
                   expect=fingerprints)
    return f"main had moved past the database: merged them at {str(commit)[:10]} (database edits kept)"


def dirty_companies_at(repo: Repository, db: WorkingCopy, fingerprints: dict, recorded) -> tuple:
    """Companies whose rows moved since the database recorded ``recorded``."""
    from .commit import _as_tuples

    state = _as_tuples(db.state().fingerprints)
    committed = set(repo.snapshot(recorded).companies())
    moved = {c for c, f in fingerprints.items() if state.get(c) != f}
    return moved | (committed ^ set(fingerprints)), False


def _load_main(repo: Repository, db: WorkingCopy, head: pygit2.Oid) -> str:
    """An empty database that never matched a commit, beside a repository
    that has history (a copied repository, a new environment): it gets
    main's snapshot, as `attgit clone` would give it, rather than a commit
    that deletes everything."""
    plan = plan_between(repo.snapshot(None), repo.snapshot(head))
    db.apply(plan.changes(), str(head), None, plan.counts.total, expect={})
    return f"the database was empty and had never matched a commit: loaded main ({str(head)[:10]}, " \
           f"{plan.counts.inserts:,} records)"


def _clear_merge(repo: Repository) -> None:
    MergeState.clear(repo)
    repo.set_ref(WORK_REF, None)


# --- three-way merge of snapshots -----------------------------------------

@dataclass
class MergeOutcome:
    """A merge as data: the merged tree, the plan ours -> merged, conflicts."""

    tree: pygit2.Oid
    plan: Plan
    conflicts: list = field(default_factory=list)
    counts: MergeCounts = field(default_factory=MergeCounts)
    records: int = 0
    companies: int = 0

    @property
    def pending(self) -> list:
        return [c for c in self.conflicts if c.resolution is None]


def _add_counts(total: MergeCounts, part: MergeCounts) -> None:
    for name, value in part.__dict__.items():
        setattr(total, name, getattr(total, name) + value)


def _as_mapping(merged) -> dict:
    return merged if isinstance(merged, dict) else {rec.key(r): r for r in merged}


def merge_snapshots(repo: Repository, base: Snapshot, ours: Snapshot, theirs: Snapshot,
                    strategy: str) -> MergeOutcome:
    """Three-way merge, company by company; only differing blobs are parsed."""
    builder = SnapshotBuilder(repo.git, ours)
    plan, conflicts, counts = Plan(), [], MergeCounts()
    names = set(base.companies()), set(ours.companies()), set(theirs.companies())
    for company in sorted(names[0] | names[1] | names[2]):
        b, o, t = (s.blob_id(company) if company in n else None for s, n in zip((base, ours, theirs), names))
        if o == t or b == t:
            continue  # nothing for ours to take
        if b == o:
            merged = theirs.records(company) if t is not None else {}
            change_source = None
        else:
            result = merge_company(company, base.records(company) if b else {},
                                   ours.records(company) if o else {},
                                   theirs.records(company) if t else {}, strategy)
            merged, change_source = _as_mapping(result.records), result
            conflicts.extend(result.conflicts)
            _add_counts(counts, result.counts)
        present = _company_present(company, names, bool(merged))
        _put(builder, company, merged, present, theirs if change_source is None else None)
        change = _change(company, ours.records(company) if o else {}, merged, change_source,
                         create=company not in names[1], drop=not present)
        plan.add(change)
        if change_source is None:
            counts.added += len(change.inserts)
            counts.updated += len(change.updates)
            counts.deleted += len(change.deletes)
    tree = builder.write()
    merged_snapshot = Snapshot(repo.git, repo.git[tree])
    return MergeOutcome(tree, plan, conflicts, counts, merged_snapshot.count_records(),
                        len(merged_snapshot.companies()))


def _company_present(company: str, names: tuple, has_records: bool) -> bool:
    """Whether the company survives: 3-way on presence, records keep it."""
    b, o, t = (company in n for n in names)
    present = t if b == o else o
    return present or has_records


def _put(builder: SnapshotBuilder, company: str, merged: dict, present: bool, theirs: Optional[Snapshot]) -> None:
    if not present:
        builder.remove(company)
    elif theirs is not None and theirs.blob_id(company) is not None:
        builder.put_oid(company, theirs.blob_id(company))  # taken whole: same blob id
    else:
        builder.put_blob(company, encode_sorted(company, merged)[0])


def _change(company, ours_records, merged, merge_result, create, drop):
    from .diff import diff_company

    if merge_result is not None and not create and not drop:
        return merge_result.change
    return diff_company(company, ours_records, merged).to_change(create=create, drop=drop)


# --- apply -------------------------------------------------------------------

def apply_and_move(repo: Repository, db: WorkingCopy, head, commit: pygit2.Oid, plan: Plan,
                   reason: str, progress: Progress = None, expect: Optional[dict] = None) -> None:
    """Steps 2 and 3 of the write order: the database, then the branch.

    ``expect`` defaults to the fingerprints the database recorded (at the
    commit the plan starts from)."""
    expect = db.state().fingerprints if expect is None else expect
    db.apply(plan.changes(), str(commit), progress, plan.counts.total, expect=expect)
    repo.move_head(head, commit, reason)


# --- pull ------------------------------------------------------------------------

@dataclass
class PullResult:
    """What a pull did or (preview) would do."""

    status: str  # up-to-date | fast-forward | merged | conflicts | preview
    head: Optional[str]
    theirs: str
    base: Optional[str] = None
    commit: Optional[str] = None
    pre_commit: Optional[str] = None
    counts: dict = field(default_factory=dict)
    conflicts: list = field(default_factory=list)
    fast_forward: bool = False

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["conflicts"] = [c.to_dict() for c in self.conflicts]
        return data


def pull_commit(repo: Repository, db: WorkingCopy, author: Author, theirs: pygit2.Oid, name: str,
                strategy: str = "theirs", preview: bool = False, progress: Progress = None) -> PullResult:
    """Merge commit ``theirs`` (already fetched) into the database and main.

    The caller holds both locks and has reconciled.
    """
    strategy = parse_strategy(strategy)
    if MergeState.load(repo) is not None:
        raise ConflictsPending("a merge is in progress: resolve its conflicts (attgit conflicts) "
                               "or abort it (attgit merge --abort) first")
    pre = snapshot_database(repo, db, author, message=f"Snapshot before pull of {name}")
    head = repo.head()
    result = PullResult("up-to-date", str(head) if head else None, str(theirs), pre_commit=pre.commit)
    if head is not None and repo.is_ancestor(theirs, head):
        return result
    if head is None or repo.is_ancestor(head, theirs):
        return _fast_forward(repo, db, head, theirs, name, preview, progress, result)
    base = repo.merge_base(head, theirs)
    outcome = merge_snapshots(repo, repo.snapshot(base), repo.snapshot(head), repo.snapshot(theirs), strategy)
    result.base = str(base) if base else None
    result.counts = {**outcome.counts.to_dict(), **outcome.plan.counts.to_dict()}
    result.conflicts = outcome.conflicts
    if preview:
        result.status = "preview"
        return result
    if outcome.pending:
        return _start_manual(repo, db, author, head, theirs, base, name, outcome, result)
    summary = f"Merge {name} into main: +{outcome.plan.counts.inserts} ~{outcome.plan.counts.updates} " \
              f"-{outcome.plan.counts.deletes}, {len(outcome.conflicts)} conflict(s) resolved by {strategy}"
    trailers = snapshot_trailers("merge", author, outcome.companies, outcome.records)
    trailers["Strategy"] = strategy
    trailers["Conflicts"] = str(len(outcome.conflicts))
    commit = repo.write_commit(outcome.tree, [head, theirs], summary, trailers, author)
    apply_and_move(repo, db, head, commit, outcome.plan, f"attgit pull {name}: merge", progress)
    result.status, result.commit = "merged", str(commit)
    return result


def _fast_forward(repo, db, head, theirs, name, preview, progress, result: PullResult) -> PullResult:
    plan = plan_between(repo.snapshot(head), repo.snapshot(theirs))
    result.counts = plan.counts.to_dict()
    result.fast_forward = True
    if preview:
        result.status = "preview"
        return result
    apply_and_move(repo, db, head, theirs, plan, f"attgit pull {name}: fast-forward", progress)
    result.status, result.commit = "fast-forward", str(theirs)
    return result


def _start_manual(repo, db, author, head, theirs, base, name, outcome: MergeOutcome, result: PullResult,
                  kind: str = "pull") -> PullResult:
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


# --- conclude / abort a manual merge --------------------------------------------

def conclude(repo: Repository, db: WorkingCopy, author: Author, progress: Progress = None) -> str:
    """Finish a manual merge whose conflicts are all resolved: one commit."""
    state = _require_merge(repo)
    if state.pending():
        raise ConflictsPending(f"{len(state.pending())} conflict(s) still to resolve; see `attgit conflicts`")
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
    summary = f"Merge {state.theirs_name} into main: {len(state.conflicts)} conflict(s) resolved by hand" \
        if state.kind == "pull" else f"Import {state.theirs_name}: {len(state.conflicts)} conflict(s) resolved by hand"
    commit = _land(repo, db, author, work, target, parents, summary, trailers, progress)
    _clear_merge(repo)
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
    _clear_merge(repo)
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
    from .commit import _as_tuples

    recorded = _as_tuples(db.state().fingerprints)
    now = _as_tuples(db.fingerprints())
    if recorded == now:
        plan = plan_between(work, target)
        plan.expect = now
        return plan
    current = _database_tree(repo, db, work, {c for c in set(now) | set(recorded) if now.get(c) != recorded.get(c)})
    outcome = merge_snapshots(repo, work, current, target, "ours")
    outcome.plan.tree = outcome.tree
    outcome.plan.expect = now
    return outcome.plan


def _database_tree(repo, db, base: Snapshot, companies: set) -> Snapshot:
    builder = SnapshotBuilder(repo.git, base)
    names = set(db.companies())
    for company in companies:
        if company in names:
            builder.put_records(company, db.records(company))
        else:
            builder.remove(company)
    return Snapshot(repo.git, repo.git[builder.write()])


def _resolutions_by_company(state: MergeState) -> dict:
    out: dict = {}
    for conflict in state.conflicts:
        out.setdefault(conflict.key[1], {})[tuple(conflict.key)] = state.resolutions[conflict.id]
    return out


def _require_merge(repo: Repository) -> MergeState:
    from .errors import NotFound

    state = MergeState.load(repo)
    if state is None:
        raise NotFound("no merge in progress")
    return state
