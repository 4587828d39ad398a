"""Three-way merge of whole snapshots, company by company.

Only companies whose blobs differ between the versions are parsed; a
company changed on one side only takes that side's blob as it is.  The
result is data: the merged tree, the plan that takes ours to it, the
conflicts and the counts.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pygit2

from attgit.format import records as rec
from attgit.format.snapshot import Snapshot, SnapshotBuilder, encode_sorted
from attgit.merge.company import MergeCounts, merge_company
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
            merged, change_source = as_mapping(result.records), result
            conflicts.extend(result.conflicts)
            counts.add(result.counts)
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
    from attgit.merge.diff import diff_company

    if merge_result is not None and not create and not drop:
        return merge_result.change
    return diff_company(company, ours_records, merged).to_change(create=create, drop=drop)
