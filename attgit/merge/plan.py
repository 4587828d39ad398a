"""A plan: the changes that take a database from one snapshot to another.

Plans are computed company by company and spooled to a temporary file, so a
million inserts never sit in memory at once, the exact totals are known
before the first row is written (for the preview and the progress bar), and
the same plan that was previewed is the one applied.
"""

from __future__ import annotations

import pickle
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator, Optional

from attgit.format.snapshot import Snapshot, split_snapshots
from attgit.workingcopy import CompanyChange


@dataclass
class PlanCounts:
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    companies_created: int = 0
    companies_dropped: int = 0

    @property
    def total(self) -> int:
        return self.inserts + self.updates + self.deletes

    def to_dict(self) -> dict:
        return {**self.__dict__, "total": self.total}


@dataclass
class Plan:
    """Spooled CompanyChanges plus their counts and a per-company summary."""

    counts: PlanCounts = field(default_factory=PlanCounts)
    companies: dict = field(default_factory=dict)  # company -> (inserts, updates, deletes)
    created: list = field(default_factory=list)  # names of the companies the plan creates
    #: the change log's watermark when the plan was computed
    expect: Optional[int] = None
    #: when the plan folds in edits made meanwhile: the tree it leads to
    tree: Optional[object] = None
    _spool: Optional[BinaryIO] = None

    def add(self, change: CompanyChange) -> None:
        if not len(change) and not change.create and not change.drop:
            return
        if self._spool is None:
            self._spool = tempfile.TemporaryFile(prefix="attgit-plan-")
        pickle.dump(change, self._spool, protocol=pickle.HIGHEST_PROTOCOL)
        c = self.counts
        c.inserts += len(change.inserts)
        c.updates += len(change.updates)
        c.deletes += len(change.deletes)
        c.companies_created += int(change.create)
        c.companies_dropped += int(change.drop)
        if change.create:
            self.created.append(change.company)
        self.companies[change.company] = (len(change.inserts), len(change.updates), len(change.deletes))

    def __bool__(self) -> bool:
        return self._spool is not None

    def changes(self) -> Iterator[CompanyChange]:
        """The spooled changes, one company at a time, in the order added."""
        if self._spool is None:
            return
        self._spool.seek(0)
        while True:
            try:
                yield pickle.load(self._spool)
            except EOFError:
                return

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


def plan_between(old: Snapshot, new: Snapshot, companies: Optional[set] = None,
                 keep: Optional[Callable[[dict], bool]] = None, builder=None,
                 samples: Optional[list] = None, sample_size: int = 200) -> Plan:
    """The plan that turns a database matching ``old`` into ``new``.

    Only companies whose blobs differ are looked at, and in those only the
    lines not in both blobs are parsed; ``old`` is the snapshot the database
    matches, trusted, and ``new`` is checked against it line by line
    (:mod:`attgit.format.lines`).  ``companies`` limits the plan to those
    names and ``keep(record)`` to matching records (selective restore: other
    records keep their ``old`` version, and companies are never dropped).
    With a ``builder`` (a SnapshotBuilder based on ``old``) the resulting
    records are written into it as well.  ``samples``
    receives the first ``sample_size`` changes, for a preview: ("add",
    record), ("delete", record) or ("update", RecordChange).
    """
    from attgit.merge.diff import diff_company

    plan = Plan()
    old_names, new_names = set(old.companies()), set(new.companies())
    for company in sorted(old_names | new_names):
        if companies is not None and company not in companies:
            continue
        if company in old_names and company in new_names and old.blob_id(company) == new.blob_id(company):
            continue
        split = split_snapshots(company, [old, new], old, ["the database's snapshot", "the target"])
        before, after = split.sides
        if keep is not None:
            after = _select(before, after, keep)
        drop = company not in new_names and keep is None
        diff = diff_company(company, before, after)
        if samples is not None:
            _sample_diff(samples, diff, sample_size)
        plan.add(diff.to_change(create=company not in old_names, drop=drop))
        if builder is not None:
            _record_result(builder, company, split, after, drop, new, whole=keep is None)
    return plan


def load_changes(new: Snapshot) -> Iterator[CompanyChange]:
    """The changes that load ``new`` into an EMPTY database (a clone, a
    first load), company by company, each parsed and checked as it is
    written: the plan of an empty database is "insert everything", so
    nothing is diffed or spooled (pickling a million records and reading
    them back cost more than writing them).  Records come in file order,
    (date, ep_no): the order of the table's key within a company."""
    for company in new.companies():
        yield CompanyChange(company, inserts=list(new.records(company).values()), create=True)


def _sample_diff(samples: list, diff, size: int) -> None:
    for kind, items in (("add", diff.added), ("delete", diff.removed), ("update", diff.changed)):
        for item in items[: max(size - len(samples), 0)]:
            samples.append((kind, item))


def _select(before: dict, after: dict, keep) -> dict:
    """The target's version of selected records, the old one of the rest."""
    target = {k: r for k, r in before.items() if not keep(r)}
    target.update({k: r for k, r in after.items() if keep(r)})
    return target


def _record_result(builder, company: str, split, records: dict, drop: bool, new: Snapshot, whole: bool) -> None:
    """Put the company's resulting blob into ``builder``: the target's blob
    itself when the whole company is taken."""
    if drop:
        builder.remove(company)
    elif whole and company in new.companies():
        builder.put_oid(company, new.blob_id(company))
    elif not split.shared_count and not records and company not in new.companies():
        builder.put_blob(company, b"")
    else:
        builder.put_blob(company, split.weave(records), split.count(records))
