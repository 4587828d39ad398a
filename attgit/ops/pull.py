"""Pull: fetch a remote and merge its main into the database and main.

The database is committed first (so the state before the pull is in
history), then the pull is a fast-forward, a three-way merge against the
merge base, or, when conflicts wait for a person, a manual merge.  The
defaults are git's: conflicts stop the pull (strategy manual), unrelated
histories are refused, and a preview writes nothing.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pygit2

from attgit.errors import Rejected
from attgit.merge.plan import PlanCounts, plan_between
from attgit.merge.strategy import Strategy, parse_strategy
from attgit.merge.trees import merge_snapshots
from attgit.ops.apply import apply_and_move
from attgit.ops.commit import database_snapshot, snapshot_database, snapshot_trailers
from attgit.ops.manual import start_manual
from attgit.ops.mergestate import refuse_while_merging
from attgit.repo.repository import Author, Repository
from attgit.repo.transport import TransferProgress, fetch, remote_tip
from attgit.words import plural
from attgit.workingcopy import WorkingCopy
from attgit.workingcopy.protocol import Progress


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


class UnrelatedHistories(Rejected):
    """main and the commit to pull share no commit (git's "refusing to merge
    unrelated histories")."""


def pull_remote(repo: Repository, db: WorkingCopy, author: Author, name: str, *,
                strategy: str = Strategy.MANUAL, preview: bool = False, allow_unrelated: bool = False,
                progress: Optional[Progress] = None, transfer: Optional[TransferProgress] = None) -> PullResult:
    """Fetch remote ``name`` and pull its main: what `attgit pull NAME` and
    the admin's "Sync from remote" do.  The caller holds both locks and has
    reconciled (:func:`attgit.ops.reconcile.exclusive`).

    A preview fetches (objects and ``refs/remotes/NAME/main``, as `attgit
    fetch` does) and writes nothing else: see :func:`pull_commit`.
    """
    fetch(repo, name, transfer)
    return pull_commit(repo, db, author, remote_tip(repo, name), name, strategy=strategy, preview=preview,
                       allow_unrelated=allow_unrelated, progress=progress)


def pull_commit(repo: Repository, db: WorkingCopy, author: Author, theirs: pygit2.Oid, name: str,
                strategy: str = Strategy.MANUAL, preview: bool = False, allow_unrelated: bool = False,
                progress: Optional[Progress] = None) -> PullResult:
    """Merge commit ``theirs`` (already fetched) into the database and main.

    The default strategy is manual (git's habit): conflicts wait for a
    person and the database keeps its own values meanwhile.  A pull from a
    history that shares no commit with main is refused unless
    ``allow_unrelated``.  A preview writes nothing at all: no commit of the
    database, no objects (the database's content and the merge are built in
    a throwaway object store).  The caller holds both locks and has
    reconciled.
    """
    strategy = parse_strategy(strategy)
    refuse_while_merging(repo, f"pull {name}")
    head = repo.head()
    _check_related(repo, db, head, theirs, name, allow_unrelated)
    if preview:
        return _preview(repo, db, head, theirs, strategy)
    pre = snapshot_database(repo, db, author, message=f"Snapshot before pull of {name}")
    head = repo.head()
    result = PullResult("up-to-date", str(head) if head else None, str(theirs), pre_commit=pre.commit,
                        counts=PlanCounts().to_dict())
    if head is not None and repo.is_ancestor(theirs, head):
        return result
    if head is None or repo.is_ancestor(head, theirs):
        return _fast_forward(repo, db, head, theirs, name, progress, result)
    base = repo.merge_base(head, theirs)
    outcome = merge_snapshots(repo, repo.snapshot(base), repo.snapshot(head), repo.snapshot(theirs), strategy)
    _describe(result, base, outcome)
    if outcome.pending:
        return start_manual(repo, db, author, head, theirs, base, name, outcome, result)
    summary = f"Merge {name} into main: +{outcome.plan.counts.inserts} ~{outcome.plan.counts.updates} " \
              f"-{outcome.plan.counts.deletes}, {plural(len(outcome.conflicts), 'conflict')} resolved by {strategy}"
    trailers = snapshot_trailers("merge", author, outcome.companies, outcome.records)
    trailers["Strategy"] = strategy
    trailers["Conflicts"] = str(len(outcome.conflicts))
    commit = repo.write_commit(outcome.tree, [head, theirs], summary, trailers, author)
    apply_and_move(repo, db, head, commit, outcome.plan, f"attgit pull {name}: merge", progress)
    result.status, result.commit = "merged", str(commit)
    return result


def _check_related(repo: Repository, db: WorkingCopy, head, theirs, name: str, allow: bool) -> None:
    """Refuse to merge a history that shares no commit with ours (the
    database's content counts as ours even before its first commit)."""
    if allow or (head is None and not db.companies()):
        return
    if head is not None and repo.merge_base(head, theirs) is not None:
        return
    ours = f"main ({str(head)[:10]})" if head is not None else "the database (not committed yet)"
    raise UnrelatedHistories(
        f"refusing to pull {name} ({str(theirs)[:10]}): it shares no commit with {ours}.  With "
        "--allow-unrelated-histories the pull merges the two record by record with no common base: records "
        "on one side only are kept or added, and every record both sides hold with different values is a "
        "conflict (decided by --strategy; with manual they wait for you).  Nothing was changed.")


def _describe(result: PullResult, base, outcome) -> None:
    result.base = str(base) if base else None
    result.counts = {**outcome.plan.counts.to_dict(), "conflicts": outcome.counts.conflicts,
                     "pending": outcome.counts.pending}
    result.conflicts = outcome.conflicts


def _preview(repo: Repository, db: WorkingCopy, head, theirs, strategy: str) -> PullResult:
    """What the pull would do, computed in a throwaway object store: the
    database's content as it is now (no pre-pull commit) merged with theirs."""
    result = PullResult("preview", str(head) if head else None, str(theirs), counts=PlanCounts().to_dict())
    if head is not None and repo.is_ancestor(theirs, head):
        result.status = "up-to-date"
        return result
    with repo.scratch() as scratch:
        current = repo.snapshot(head)
        ours = database_snapshot(repo, db, store=scratch) if head is not None or db.companies() else current
        clean = ours.tree_id == current.tree_id
        if clean and (head is None or repo.is_ancestor(head, theirs)):
            plan = plan_between(ours, repo.snapshot(theirs))
            result.counts, result.fast_forward = plan.counts.to_dict(), True
            plan.close()
            return result
        base = repo.merge_base(head, theirs)
        outcome = merge_snapshots(scratch, repo.snapshot(base), ours, repo.snapshot(theirs), strategy)
        _describe(result, base, outcome)
        outcome.plan.close()
    return result


def _fast_forward(repo, db, head, theirs, name, progress, result: PullResult) -> PullResult:
    plan = plan_between(repo.snapshot(head), repo.snapshot(theirs))
    result.counts = plan.counts.to_dict()
    result.fast_forward = True
    apply_and_move(repo, db, head, theirs, plan, f"attgit pull {name}: fast-forward", progress)
    result.status, result.commit = "fast-forward", str(theirs)
    return result
