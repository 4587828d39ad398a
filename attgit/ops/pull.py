"""Pull: merge a fetched commit into the database and main.

The database is committed first (so the state before the pull is in
history), then the pull is a fast-forward, a three-way merge against the
merge base, or, when conflicts wait for a person, a manual merge.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pygit2

from attgit.merge.plan import PlanCounts, plan_between
from attgit.merge.strategy import parse_strategy
from attgit.merge.trees import merge_snapshots
from attgit.ops.apply import apply_and_move
from attgit.ops.commit import snapshot_database, snapshot_trailers
from attgit.ops.manual import start_manual
from attgit.ops.mergestate import refuse_while_merging
from attgit.repo.repository import Author, Repository
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
    #: what the database gets: inserts, updates, deletes, companies_created,
    #: companies_dropped, total (all 0 when up to date); a merge adds
    #: conflicts (detected) and pending (left for a person)
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
    refuse_while_merging(repo, f"pull {name}")
    pre = snapshot_database(repo, db, author, message=f"Snapshot before pull of {name}")
    head = repo.head()
    result = PullResult("up-to-date", str(head) if head else None, str(theirs), pre_commit=pre.commit,
                        counts=PlanCounts().to_dict())
    if head is not None and repo.is_ancestor(theirs, head):
        return result
    if head is None or repo.is_ancestor(head, theirs):
        return _fast_forward(repo, db, head, theirs, name, preview, progress, result)
    base = repo.merge_base(head, theirs)
    outcome = merge_snapshots(repo, repo.snapshot(base), repo.snapshot(head), repo.snapshot(theirs), strategy)
    result.base = str(base) if base else None
    result.counts = {**outcome.plan.counts.to_dict(), "conflicts": outcome.counts.conflicts,
                     "pending": outcome.counts.pending}
    result.conflicts = outcome.conflicts
    if preview:
        result.status = "preview"
        return result
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
