"""Restore: check out an earlier snapshot, or import a backup file.

Both first commit the database's current state (so nothing is lost and
both can be undone with another checkout), build the target snapshot's
objects, then apply the plan in one transaction and move main.  Both can be
limited to some companies and a date range (selective restore).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from attgit.errors import ConflictsPending, UsageError
from attgit.format import records as rec
from attgit.format.snapshot import Snapshot, SnapshotBuilder, encode_sorted
from attgit.merge.company import MergeCounts, import_company
from attgit.merge.plan import Plan, plan_between
from attgit.merge.strategy import parse_strategy
from attgit.merge.trees import MergeOutcome, as_mapping
from attgit.ops.apply import apply_and_move
from attgit.ops.commit import database_snapshot, snapshot_database, snapshot_trailers
from attgit.ops.manual import start_manual
from attgit.ops.mergestate import MergeState
from attgit.repo.repository import Author, Repository
from attgit.workingcopy import Progress, WorkingCopy


@dataclass
class Selection:
    """Which records a restore may touch (everything by default)."""

    companies: Optional[set] = None
    date_from: Optional[str] = None
    date_to: Optional[str] = None

    def __post_init__(self):
        for value in (self.date_from, self.date_to):
            if value is not None:
                rec.normalise({"ep_no": "x", "company": "x", "status": "P", "date": value}, "date filter")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UsageError(f"--from {self.date_from} is after --to {self.date_to}")
        if self.companies is not None and not self.companies:
            self.companies = None

    @property
    def by_date(self) -> bool:
        return bool(self.date_from or self.date_to)

    def keep(self, record: dict) -> bool:
        date = record["date"]
        return (not self.date_from or date >= self.date_from) and (not self.date_to or date <= self.date_to)

    def wants(self, company: str) -> bool:
        return self.companies is None or company in self.companies


@dataclass
class RestoreResult:
    """What a checkout or an import did or (preview) would do."""

    status: str  # preview | applied | nothing | conflicts
    commit: Optional[str] = None
    pre_commit: Optional[str] = None
    counts: dict = field(default_factory=dict)
    conflicts: list = field(default_factory=list)
    companies: dict = field(default_factory=dict)
    #: the first SAMPLE_SIZE changes, for a preview: ("add", record) or
    #: ("update", RecordChange with the fields that change)
    samples: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**self.__dict__, "conflicts": [c.to_dict() for c in self.conflicts],
                "samples": [[kind, item if kind == "add" else item.to_dict()] for kind, item in self.samples]}


SAMPLE_SIZE = 200


def _sample(samples: list, mine: dict, change) -> None:
    """Keep the first SAMPLE_SIZE inserts and updates (with changed fields)."""
    from attgit.merge.diff import RecordChange, changed_fields

    for record in change.inserts:
        if len(samples) >= SAMPLE_SIZE:
            return
        samples.append(("add", record))
    for record in change.updates:
        if len(samples) >= SAMPLE_SIZE:
            return
        old = mine[rec.key(record)]
        samples.append(("update", RecordChange(rec.key(record), old, record, changed_fields(old, record))))


def _no_merge_in_progress(repo: Repository) -> None:
    if MergeState.load(repo) is not None:
        raise ConflictsPending("a merge is in progress: resolve it (attgit conflicts) or abort it "
                               "(attgit merge --abort) first")


# --- checkout -------------------------------------------------------------

def checkout(repo: Repository, db: WorkingCopy, author: Author, rev: str, *, preview: bool = False,
             selection: Selection = Selection(), progress: Progress = None) -> RestoreResult:
    """Make the database equal to the snapshot ``rev`` (or part of it).

    The result is a new commit on main whose content is the old snapshot,
    so history only grows and the checkout itself can be undone.
    """
    _no_merge_in_progress(repo)
    target_oid = repo.resolve(rev)
    target = repo.snapshot(target_oid)
    keep = selection.keep if selection.by_date else None
    if preview:  # against the database as it is; objects go to a throwaway store
        with repo.scratch() as scratch:
            plan = plan_between(database_snapshot(repo, db, store=scratch), target, selection.companies, keep)
        plan.close()
        return RestoreResult("preview", counts=plan.counts.to_dict(), companies=plan.companies)
    pre = snapshot_database(repo, db, author, message=f"Snapshot before checkout of {rev}")
    head = repo.head()
    ours = repo.snapshot(head)
    builder = SnapshotBuilder(repo.git, ours)
    plan = plan_between(ours, target, selection.companies, keep, builder)
    result = RestoreResult("preview", pre_commit=pre.commit, counts=plan.counts.to_dict(),
                           companies=plan.companies)
    tree = builder.write()
    if head is not None and tree == ours.tree.id:
        result.status = "nothing"
        return result
    new = Snapshot(repo.git, repo.git[tree])
    trailers = snapshot_trailers("checkout", author, len(new.companies()), new.count_records())
    trailers["Checkout-Of"] = str(target_oid)
    commit = repo.write_commit(tree, [head] if head else [], f"Checkout of {str(target_oid)[:10]} ({rev})",
                               trailers, author)
    apply_and_move(repo, db, head, commit, plan, f"attgit checkout {rev}", progress)
    result.status, result.commit = "applied", str(commit)
    return result


# --- import a backup file -------------------------------------------------------

def import_backup(repo: Repository, db: WorkingCopy, author: Author, backup, name: str, *,
                  strategy: str = "theirs", preview: bool = False, selection: Selection = Selection(),
                  progress: Progress = None) -> RestoreResult:
    """Two-way merge of a validated backup file into the database.

    absent -> add, identical -> skip, different -> strategy; never deletes.
    """
    strategy = parse_strategy(strategy)
    _no_merge_in_progress(repo)
    if preview:  # against the database as it is; objects go to a throwaway store
        samples: list = []
        with repo.scratch() as scratch:
            ours = database_snapshot(repo, db, store=scratch)
            outcome, in_file = _merge_backup(scratch, ours, backup, strategy, selection, samples)
        outcome.plan.close()
        return _import_result(outcome, in_file, samples, None)
    pre = snapshot_database(repo, db, author, message=f"Snapshot before import of {name}")
    head = repo.head()
    ours = repo.snapshot(head)
    samples = []
    outcome, in_file = _merge_backup(repo, ours, backup, strategy, selection, samples)
    result = _import_result(outcome, in_file, samples, pre.commit)
    if outcome.pending:
        return start_manual(repo, db, author, head, None, None, name, outcome, result, kind="import")
    if head is not None and outcome.tree == ours.tree.id:
        result.status = "nothing"
        return result
    trailers = snapshot_trailers("import", author, outcome.companies, outcome.records)
    trailers["Strategy"] = strategy
    trailers["Source"] = name.replace("\n", " ")[:200]
    summary = f"Import {name}: +{outcome.plan.counts.inserts} ~{outcome.plan.counts.updates}, " \
              f"{outcome.counts.unchanged} skipped"
    commit = repo.write_commit(outcome.tree, [head] if head else [], summary, trailers, author)
    apply_and_move(repo, db, head, commit, outcome.plan, f"attgit import {name}", progress)
    result.status, result.commit = "applied", str(commit)
    return result


def _import_result(outcome: MergeOutcome, in_file: int, samples: list, pre_commit) -> RestoreResult:
    counts = {**outcome.counts.to_dict(), **outcome.plan.counts.to_dict(), "records_in_file": in_file}
    return RestoreResult("preview", pre_commit=pre_commit, counts=counts, conflicts=outcome.conflicts,
                         companies=outcome.plan.companies, samples=samples)


def _merge_backup(repo: Repository, ours: Snapshot, backup, strategy: str, selection: Selection,
                  samples: list):
    builder = SnapshotBuilder(repo.git, ours)
    plan, conflicts, counts, in_file = Plan(), [], MergeCounts(), 0
    ours_names = set(ours.companies())
    for company in backup.companies():
        if not selection.wants(company):
            continue
        theirs = backup.records(company)
        if selection.by_date:
            theirs = {k: r for k, r in theirs.items() if selection.keep(r)}
        in_file += len(theirs)
        mine = ours.records(company) if company in ours_names else {}
        result = import_company(company, mine, theirs, strategy)
        counts.add(result.counts)
        conflicts.extend(result.conflicts)
        change = result.change
        change.create = company not in ours_names
        _sample(samples, mine, change)
        plan.add(change)
        if len(change) or change.create:
            builder.put_blob(company, encode_sorted(company, as_mapping(result.records))[0])
    tree = builder.write()
    merged = Snapshot(repo.git, repo.git[tree])
    outcome = MergeOutcome(tree, plan, conflicts, counts, merged.count_records(), len(merged.companies()))
    return outcome, in_file
