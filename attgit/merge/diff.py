"""Keyed diff of one company's records between two snapshots.

A diff is data: what was added, removed and changed, each sorted the way a
company's file is (by date, then employee), so a person reads it in the
order the attendance happened.  :meth:`CompanyDiff.to_change` turns it into
the :class:`~attgit.workingcopy.CompanyChange` that takes a database from
the old content to the new one.

Records are compared whole first (a dict comparison runs in C); only the few
that differ are looked at field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from attgit.format import records as rec
from attgit.workingcopy import CompanyChange


@dataclass(frozen=True)
class RecordChange:
    """One record present on both sides with different content."""

    key: tuple
    old: dict
    new: dict
    fields: tuple  # names of the fields whose values differ, in FIELDS order

    def to_dict(self) -> dict:
        return {
            "key": list(self.key), "old": self.old, "new": self.new, "fields": list(self.fields),
        }


@dataclass
class CompanyDiff:
    """What differs in one company between an old and a new content."""

    company: str
    added: list = field(default_factory=list)  # records, sorted by sort_key
    removed: list = field(default_factory=list)  # records, sorted by sort_key
    changed: list = field(default_factory=list)  # RecordChange, sorted by the new record

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    @property
    def counts(self) -> dict:
        return {
            "added": len(self.added), "removed": len(self.removed), "changed": len(self.changed),
        }

    def to_change(self, create: bool = False, drop: bool = False) -> CompanyChange:
        """The change that turns the old content into the new one."""
        return CompanyChange(
            company=self.company,
            inserts=list(self.added),
            updates=[c.new for c in self.changed],
            deletes=[rec.key(r) for r in self.removed],
            create=create,
            drop=drop,
        )

    def to_dict(self) -> dict:
        """JSON-safe form (keys as lists) for ``--json`` output and web pages."""
        return {
            "company": self.company,
            "counts": self.counts,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [c.to_dict() for c in self.changed],
        }


def diff_company(company: str, old: Mapping[Any, dict], new: Mapping[Any, dict]) -> CompanyDiff:
    """Compare two contents of ``company`` given as key -> canonical record."""
    result = CompanyDiff(company)
    if old == new:
        return result
    for k, before in old.items():
        after = new.get(k)
        if after is None:
            result.removed.append(before)
        elif after != before:
            result.changed.append(RecordChange(k, before, after, changed_fields(before, after)))
    result.added = [r for k, r in new.items() if k not in old]
    result.added.sort(key=order)
    result.removed.sort(key=order)
    result.changed.sort(key=lambda c: order(c.new))
    return result


def changed_fields(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple:
    """Names of the fields whose values differ, in :data:`records.FIELDS` order."""
    return tuple(f for f in rec.FIELDS if a.get(f) != b.get(f))


def order(record: Mapping[str, Any]) -> tuple:
    """A total order: the file order (date, ep_no), then company as tie-break.

    Within one company :func:`records.sort_key` is already total; the
    company only matters for callers that mix companies in one mapping.
    """
    return (record["date"], record["ep_no"], record["company"])
