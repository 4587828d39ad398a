"""Three-way, cell-level merge of one company's records, and the two-way
import of a backup file.  Pure: no I/O, and a conflict is never an error.

Versions are always ordered (base, ours, theirs): *ours* is the local
database, *theirs* what is merged in (another environment, a backup file),
*base* their last shared snapshot.  Per key:

- ours == theirs: take it (also when both deleted it);
- base == ours: take theirs (theirs added, changed or deleted it);
- base == theirs: keep ours;
- otherwise both changed it: merge cell by cell.  A field changed on one side
  only takes that side's value; a field changed on both sides to different
  values is a conflict, and so is a delete against a modify.

The strategy decides conflicts: ``theirs`` (the design document's
``backup_wins``) takes theirs' value for each disputed field, ``ours``
(``database_wins``) keeps ours', and ``manual`` keeps ours' whole record and
leaves the conflict pending, to be resolved later with
:meth:`Conflict.resolve`.  Every conflict is reported either way.

The result is data (:class:`CompanyMerge`): the merged content, the change
that turns ours into it, the conflicts and the counts.
"""


from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Mapping, Optional

from attgit.format import records as rec
from attgit.merge.conflict import Conflict, Record, conflict_id
from attgit.merge.diff import diff_company, order
from attgit.merge.strategy import Strategy, parse_strategy
from attgit.workingcopy import CompanyChange


@dataclass
class MergeCounts:
    """What a merge does to ours, counted per key.

    ``conflicts`` counts every conflict detected, ``pending`` those left for
    a person (strategy manual); a pending key is not counted as unchanged.
    ``skipped`` is the design document's count: records left as the
    database has them, i.e. unchanged + pending (a pending conflict keeps
    the database's record until someone resolves it), so for an import under
    every strategy added + updated + skipped equals the number of records in
    the file (Property 8), with ``pending`` also reported apart.
    """

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    conflicts: int = 0
    pending: int = 0

    @property
    def skipped(self) -> int:
        return self.unchanged + self.pending

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "skipped": self.skipped}

    def add(self, other: "MergeCounts") -> None:
        """Fold another company's counts into these."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class CompanyMerge:
    """The merge of one company.

    ``records`` is the merged company's whole content as a dict key ->
    record (unordered; :meth:`sorted_records` gives the file order), and
    ``change`` the CompanyChange that turns ours into it.
    """

    company: str
    records: dict
    change: CompanyChange
    conflicts: list = field(default_factory=list)
    counts: MergeCounts = field(default_factory=MergeCounts)

    @property
    def pending(self) -> list:
        return [c for c in self.conflicts if c.pending]

    @property
    def skipped(self) -> int:
        return self.counts.skipped

    def sorted_records(self) -> list:
        return sorted(self.records.values(), key=rec.sort_key)


class _Builder:
    """Accumulates the per-key outcomes of a merge into a CompanyMerge."""

    def __init__(self, company: str, ours: Mapping, strategy: str):
        self.company = company
        self.ours_empty = not ours
        self.records = dict(ours)
        self.strategy = strategy
        self.change = CompanyChange(company)
        self.conflicts: list = []
        self.counts = MergeCounts()

    def merge(self, k: tuple, base: Record, ours: Record, theirs: Record) -> None:
        result, conflict = merge_record(k, base, ours, theirs)
        if conflict is None:
            self.settle(k, ours, result)
        elif self.strategy == Strategy.MANUAL:
            self.conflicts.append(conflict)
            self.counts.pending += 1
        else:
            self.conflicts.append(conflict.with_resolution(self.strategy))
            self.settle(k, ours, conflict.resolve(self.strategy))

    def settle(self, k: tuple, ours: Record, result: Record) -> None:
        if result is None:
            if ours is not None:
                del self.records[k]
                self.change.deletes.append(k)
                self.counts.deleted += 1
        elif ours is None:
            self.records[k] = result
            self.change.inserts.append(result)
            self.counts.added += 1
        elif result == ours:
            self.counts.unchanged += 1
        else:
            self.records[k] = result
            self.change.updates.append(result)
            self.counts.updated += 1

    def finish(self, create: Optional[bool]) -> CompanyMerge:
        self.change.inserts.sort(key=order)
        self.change.updates.sort(key=order)
        self.change.deletes.sort(key=_key_order)
        self.change.create = (self.ours_empty and bool(self.records)) if create is None else create
        self.conflicts.sort(key=lambda c: _key_order(c.key))
        self.counts.conflicts = len(self.conflicts)
        return CompanyMerge(self.company, self.records, self.change, self.conflicts, self.counts)


def _key_order(k: tuple) -> tuple:
    """Keys in file order: (date, ep_no), then company."""
    return (k[2], k[0], k[1])


_ABSENT = object()  # the base value of every field when there is no base


def merge_record(k: tuple, base: Record, ours: Record, theirs: Record) -> tuple:
    """(merged record or None, Conflict or None) for one key.

    With a conflict the first element is the conflict's ``merged``.
    """
    if ours == theirs:
        return ours, None
    if base == ours:
        return theirs, None
    if base == theirs:
        return ours, None
    if ours is None or theirs is None:
        return ours, _make_conflict(k, base, ours, theirs, rec.VALUE_FIELDS, ours)
    merged, disputed = merge_cells(base, ours, theirs)
    if not disputed:
        return merged, None
    return merged, _make_conflict(k, base, ours, theirs, disputed, merged)


def merge_cells(base: Record, ours: dict, theirs: dict) -> tuple:
    """(merged record, disputed field names) of two changed versions.

    Without a base every differing field is disputed: neither side's value
    can be called the change.
    """
    merged = dict(ours)
    disputed = []
    for f in rec.VALUE_FIELDS:
        b = _ABSENT if base is None else base[f]
        o, t = ours[f], theirs[f]
        if o == t or b == t:
            continue
        if b == o:
            merged[f] = t
        else:
            disputed.append(f)
    return merged, tuple(disputed)


def _make_conflict(k, base, ours, theirs, fields, merged) -> Conflict:
    return Conflict(
        id=conflict_id(k, ours, theirs),
        key=tuple(k),
        kind=_kind(base, ours, theirs),
        fields=tuple(fields),
        base=base,
        ours=ours,
        theirs=theirs,
        merged=merged,
    )


def _kind(base: Record, ours: Record, theirs: Record) -> str:
    if ours is None:
        return "delete/modify"
    if theirs is None:
        return "modify/delete"
    return "add/add" if base is None else "modify/modify"


def merge_company(
    company: str,
    base: Mapping,
    ours: Mapping,
    theirs: Mapping,
    strategy: str = Strategy.MANUAL,
    *,
    create: Optional[bool] = None,
) -> CompanyMerge:
    """Three-way merge of one company's records (each a mapping key -> record;
    an empty mapping for an absent side).

    ``create`` sets ``change.create``; by default it is set when ours has no
    records and the result has some (the company may not exist yet).
    """
    strategy = parse_strategy(strategy)
    if ours == theirs or base == theirs:
        return _keep_ours(company, ours, create)
    if base == ours:
        return _take_theirs(company, ours, theirs, create)
    builder = _Builder(company, ours, strategy)
    for k, o in ours.items():
        builder.merge(k, base.get(k), o, theirs.get(k))
    for k, t in theirs.items():
        if k not in ours:
            builder.merge(k, base.get(k), None, t)
    return builder.finish(create)


def _keep_ours(company: str, ours: Mapping, create: Optional[bool]) -> CompanyMerge:
    change = CompanyChange(company, create=bool(create))
    return CompanyMerge(company, dict(ours), change, [], MergeCounts(unchanged=len(ours)))


def _take_theirs(
    company: str, ours: Mapping, theirs: Mapping, create: Optional[bool]
) -> CompanyMerge:
    diff = diff_company(company, ours, theirs)
    if create is None:
        create = not ours and bool(theirs)
    counts = MergeCounts(
        added=len(diff.added),
        updated=len(diff.changed),
        deleted=len(diff.removed),
        unchanged=len(theirs) - len(diff.added) - len(diff.changed),
    )
    return CompanyMerge(company, dict(theirs), diff.to_change(create=create), [], counts)


def import_company(
    company: str,
    ours: Mapping,
    theirs: Mapping,
    strategy: str = Strategy.THEIRS,
    *,
    create: Optional[bool] = None,
) -> CompanyMerge:
    """Two-way merge of a backup file's records (theirs) into the database's.

    A key absent from ours is added, an identical record skipped, a
    different one decided by the strategy; nothing is ever deleted.  Counts
    cover theirs' keys only: added + updated + skipped == added + updated +
    unchanged + pending == len(theirs).
    """
    strategy = parse_strategy(strategy)
    builder = _Builder(company, ours, strategy)
    for k, t in theirs.items():
        builder.merge(k, None, ours.get(k), t)
    return builder.finish(create)
