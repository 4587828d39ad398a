"""Three-way merge of whole snapshots, company by company.

Only companies whose blobs differ between the versions are looked at, and
in those only the lines not shared by every version are parsed
(:mod:`attgit.format.lines`); a company changed on one side only takes that
side's blob as it is.  The result is data: the merged tree, the plan that
takes ours to it, the conflicts and the counts.
"""


from __future__ import annotations

from dataclasses import dataclass, field

import pygit2

from attgit.format import records as rec
from attgit.format.snapshot import Snapshot, SnapshotBuilder, split_snapshots
from attgit.merge.company import MergeCounts, merge_company
from attgit.merge.diff import diff_company
from attgit.merge.plan import Plan
from attgit.repo.repository import Repository


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


def as_mapping(merged) -> dict:
    """A merge result's records keyed (they come as a mapping or a list)."""
    return merged if isinstance(merged, dict) else {rec.key(r): r for r in merged}


def merge_snapshots(repo: Repository, base: Snapshot, ours: Snapshot, theirs: Snapshot,
                    strategy: str) -> MergeOutcome:
    """Three-way merge, company by company, parsing only lines that differ.

    ``ours`` must be a snapshot known valid (the database's: see
    :mod:`attgit.format.lines`); base and theirs are checked against it.
    A company changed on one side only takes that side's blob as it is.
    """
    builder = SnapshotBuilder(repo.git, ours)
    plan, conflicts, counts = Plan(), [], MergeCounts()
    names = set(base.companies()), set(ours.companies()), set(theirs.companies())
    for company in sorted(names[0] | names[1] | names[2]):
        b, o, t = (s.blob_id(company) if company in n else None for s, n in zip((base, ours, theirs), names))
        if o == t or b == t:
            continue  # nothing for ours to take
        if b == o:
            change = _take_theirs(builder, company, ours, theirs, names)
            counts.added += len(change.inserts)
            counts.updated += len(change.updates)
            counts.deleted += len(change.deletes)
        else:
            change, result = _merge_company(builder, company, (base, ours, theirs), names, strategy)
            conflicts.extend(result.conflicts)
            counts.add(result.counts)
        plan.add(change)
    tree = builder.write()
    merged_snapshot = Snapshot(repo.git, repo.git[tree])
    return MergeOutcome(tree, plan, conflicts, counts, merged_snapshot.count_records(),
                        len(merged_snapshot.companies()))


def _take_theirs(builder: SnapshotBuilder, company: str, ours: Snapshot, theirs: Snapshot, names: tuple):
    """Only theirs changed the company: their blob as it is (checked
    against ours line by line), and the change from ours to it."""
    split = split_snapshots(company, [ours, theirs], ours, ["ours", "theirs"])
    mine, target = split.sides
    present = company in names[2] or bool(split.shared_count or target)
    if not present:
        builder.remove(company)
    elif company in names[2]:
        builder.put_oid(company, theirs.blob_id(company))
    else:
        builder.put_blob(company, split.weave(target), split.count(target))
    return diff_company(company, mine, target).to_change(create=company not in names[1], drop=not present)


def _merge_company(builder: SnapshotBuilder, company: str, versions: tuple, names: tuple, strategy: str):
    """Both sides changed the company: merge the lines not shared by all
    three, weave the result into the shared lines."""
    split = split_snapshots(company, list(versions), versions[1], ["base", "ours", "theirs"])
    # with no shared line the sides are whole and merge_company decides
    # `create` as for a full parse; with one, ours is not empty: no create
    base, ours, theirs = split.sides
    result = merge_company(company, base, ours, theirs, strategy, create=None if not split.shared_count else False)
    result.counts.unchanged += split.shared_count
    merged = as_mapping(result.records)
    present = _company_present(company, names, bool(split.shared_count or merged))
    if present:
        builder.put_blob(company, split.weave(merged), split.count(merged))
    else:
        builder.remove(company)
    if present and company in names[1]:
        return result.change, result
    change = diff_company(company, split.sides[1], merged).to_change(create=company not in names[1],
                                                                      drop=not present)
    return change, result


def _company_present(company: str, names: tuple, has_records: bool) -> bool:
    """Whether the company survives: 3-way on presence, records keep it."""
    b, o, t = (company in n for n in names)
    present = t if b == o else o
    return present or has_records
