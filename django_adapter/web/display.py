"""Records, differences and conflicts as rows a template can print.

Every table on these pages shows a record's key (company, employee,
date) and its value fields; a changed field shows the old value struck out
and the new one beside it, highlighted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Iterator, Optional

from attgit.format import records as rec
from attgit.merge.conflict import IMPORT_WORDS
from attgit.merge.diff import CompanyDiff, RecordChange

LABELS = {"ep_name": "Name", "shift": "Shift", "status": "Status", "in_time": "In",
          "out_time": "Out", "overstay": "Overstay"}
#: The value columns, in record order: (field name, heading).
COLUMNS = [(f, LABELS.get(f, f)) for f in rec.VALUE_FIELDS]

#: What each action says in a table.
ACTIONS = {
    "add": "add", "update": "update", "delete": "delete", "keep": "keep database's",
    "decide": "you decide", "added": "added", "removed": "removed", "changed": "changed",
}


@dataclass
class Cell:
    old: Optional[str]
    new: Optional[str]
    changed: bool = False

    @property
    def value(self) -> Optional[str]:
        return self.new if self.new is not None else self.old


@dataclass
class Row:
    action: str
    company: str
    ep_no: str
    date: str
    cells: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return ACTIONS.get(self.action, self.action)

    def to_dict(self) -> dict:
        """JSON-safe, with what the templates read (kept in a job's result)."""
        return {"action": self.action, "label": self.label, "company": self.company, "ep_no": self.ep_no,
                "date": self.date, "cells": [{"old": c.old, "new": c.new, "changed": c.changed, "value": c.value}
                                             for c in self.cells]}


def new_row(action: str, record: dict) -> Row:
    return Row(action, record["company"], record["ep_no"], record["date"],
               [Cell(None, record[f]) for f in rec.VALUE_FIELDS])


def old_row(action: str, record: dict) -> Row:
    return Row(action, record["company"], record["ep_no"], record["date"],
               [Cell(record[f], None) for f in rec.VALUE_FIELDS])


def change_row(action: str, old: dict, new: dict) -> Row:
    return Row(action, new["company"], new["ep_no"], new["date"],
               [Cell(old[f], new[f], old[f] != new[f]) for f in rec.VALUE_FIELDS])


def diff_rows(diff: CompanyDiff, verbs=("added", "removed", "changed")) -> Iterator[Row]:
    """A company's differences, additions first, each in file order."""
    added, removed, changed = verbs
    yield from (new_row(added, r) for r in diff.added)
    yield from (old_row(removed, r) for r in diff.removed)
    yield from (change_row(changed, c.old, c.new) for c in diff.changed)


def reversed_diff(diff: CompanyDiff) -> CompanyDiff:
    """The same difference seen from the other side (new -> old)."""
    return CompanyDiff(diff.company, added=list(diff.removed), removed=list(diff.added),
                       changed=[RecordChange(c.key, c.new, c.old, c.fields) for c in diff.changed])


#: What an import does with a record the database holds differently.
IMPORT_ACTION = {"theirs": "update", "ours": "keep", "manual": "decide"}


def import_rows(result, strategy: str, limit: int) -> list:
    """An import preview's rows: the records that differ first (each is a
    conflict: a backup file has no base), then records it adds."""
    rows = [change_row(IMPORT_ACTION[strategy], c.ours, c.theirs)
            for c in result.conflicts[: limit // 2] if c.ours is not None and c.theirs is not None]
    adds = (new_row("add", item) for kind, item in result.samples if kind == "add")
    return rows + take(adds, [limit - len(rows)])


def take(rows: Iterable[Row], budget: list) -> list:
    """At most ``budget[0]`` rows; the budget shrinks by what was taken."""
    out = []
    for row in rows:
        if budget[0] <= 0:
            break
        out.append(row)
        budget[0] -= 1
    return out


# --- conflicts ----------------------------------------------------------------------

#: A conflict's kind in words a person reads ("here" is this database, "there"
#: the incoming side: the remote, the backup file or the snapshot).
KIND_WORDS = {
    "modify/modify": "both changed",
    "add/add": "added on both sides, differently",
    "delete/modify": "deleted here, changed there",
    "modify/delete": "changed here, deleted there",
}


def kind_words(kind: str, merge_kind: str = "") -> str:
    """A conflict's kind in words, for a merge of ``merge_kind`` (pull, import, checkout)."""
    if merge_kind == "import" and kind in IMPORT_WORDS:
        return IMPORT_WORDS[kind]  # the CLI's words too (attgit.merge.conflict)
    return KIND_WORDS.get(kind, kind)

@dataclass
class FieldVersions:
    name: str
    label: str
    base: Optional[str]
    ours: Optional[str]
    theirs: Optional[str]
    disputed: bool
    resolved: Optional[str] = None


@dataclass
class ConflictView:
    id: str
    company: str
    ep_no: str
    date: str
    kind: str
    fields: list
    deleted: str  # "", "ours" or "theirs": the side that deleted the record
    has_base: bool
    resolution: Optional[dict] = None
    resolved_deleted: bool = False
    merge_kind: str = ""

    @property
    def kind_words(self) -> str:
        return kind_words(self.kind, self.merge_kind)

    def to_dict(self) -> dict:
        return {**asdict(self), "kind_words": self.kind_words}


def conflict_view(conflict, resolution=False, merge_kind: str = "") -> ConflictView:
    """base / ours / theirs side by side; ``resolution`` (a record, or None
    for "deleted") when the conflict is already resolved."""
    ep_no, company, date = conflict.key
    deleted = "ours" if conflict.ours is None else "theirs" if conflict.theirs is None else ""
    chosen = resolution if isinstance(resolution, dict) else None

    def value(version, name):
        return None if version is None else version.get(name)

    rows = [FieldVersions(f, LABELS.get(f, f), value(conflict.base, f), value(conflict.ours, f),
                          value(conflict.theirs, f), f in conflict.fields, value(chosen, f))
            for f in rec.VALUE_FIELDS]
    return ConflictView(conflict.id, company, ep_no, date, conflict.kind, rows, deleted,
                        conflict.base is not None, chosen, resolution is None, merge_kind)
