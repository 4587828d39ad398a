"""What a test that builds random histories knows of every commit it made
(issue 22), kept apart from the system under test, so that a record's
timeline can be checked against it: the tracked records at each commit,
the commit's parents, who made it and its kind, and the conflicts each
merge settled (how, and which side each disputed field took).

tests/test_record_history.py builds histories between two in-memory
environments; tests/web/test_record_history_property.py through the Django
database and the web's Conflicts page.  Both check what they are shown
against :meth:`Model.expected`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Optional

from attgit.format import records as rec


class Expected(NamedTuple):
    """One event of a record's timeline, as the model says it must be."""

    action: str  # added, changed, deleted, kept
    old: Optional[dict]
    new: Optional[dict]
    chosen: Optional[dict]  # field (or "record") -> side, when the commit settled a conflict on the record


@dataclass
class Settled:
    """The conflicts one merge settled: by a strategy or by hand ("manual")."""

    strategy: str
    chosen: dict = field(default_factory=dict)  # key -> {field or "record": side}


class Model:
    """Every commit the test made or learned, newest knowledge last."""

    def __init__(self) -> None:
        self.values: dict = {}  # commit -> {key: record or None}
        self.parents: dict = {}
        self.actors: dict = {}
        self.kinds: dict = {}
        self.settled: dict = {}  # merge commit -> Settled
        self.conflict_ids: set = set()

    def learn(self, commit: Optional[str], parents: list, values: dict, actor: str, kind: str) -> None:
        """Remember a commit the first time it is met (a pull that found
        nothing new leaves the head on a commit already known)."""
        if commit is not None and commit not in self.values:
            self.values[commit], self.parents[commit] = values, list(parents)
            self.actors[commit], self.kinds[commit] = actor, kind

    def settle(self, commit: str, strategy: str, conflicts: list, sides: dict) -> None:
        """The merge ``commit`` settled ``conflicts``, each with the choice
        ``sides[id]`` ("ours", "theirs" or {field: side})."""
        self.conflict_ids |= {c.id for c in conflicts}
        if conflicts:
            self.settled[commit] = Settled(strategy, {tuple(c.key): chosen_sides(c, sides[c.id])
                                                      for c in conflicts})

    def expected(self, head: str, key: tuple) -> dict:
        """commit -> :class:`Expected` for every commit reachable from
        ``head`` that changed the record or settled a conflict on it."""
        out, todo, seen = {}, [head], set()
        while todo:
            c = todo.pop()
            if c in seen:
                continue
            seen.add(c)
            todo.extend(self.parents[c])
            new = self.values[c][key]
            old = self.values[self.parents[c][0]][key] if self.parents[c] else None
            chosen = self.settled[c].chosen.get(key) if c in self.settled else None
            if new != old or chosen is not None:
                action = "kept" if new == old else "added" if old is None else "deleted" if new is None else "changed"
                out[c] = Expected(action, old, new, chosen)
        return out

    def kind(self, commit: str, event: Expected) -> str:
        """The kind a timeline names: a settled conflict first."""
        return "conflict resolution" if event.chosen is not None else self.kinds[commit]

    def settled_by(self, commit: str) -> str:
        """Who settled the merge's conflicts, as a timeline says it."""
        strategy, actor = self.settled[commit].strategy, self.actors[commit]
        return f"{actor} (by hand)" if strategy == "manual" else f"the {strategy} strategy, run by {actor}"

    def sides(self, commit: str, key: tuple) -> tuple:
        """(ours, theirs): the record in the merge's two parents."""
        first, second = self.parents[commit][:2]
        return self.values[first][key], self.values[second][key]


def chosen_sides(conflict, choice) -> dict:
    """Which side each disputed field of ``conflict`` took under ``choice``
    (the whole record's side for a conflict where a side deleted it)."""
    if conflict.is_delete:
        return {"record": choice}
    if isinstance(choice, dict):
        return dict(choice)
    return {f: choice for f in conflict.fields}


def field_changes(old: Optional[dict], new: Optional[dict]) -> list:
    """(field, old, new) for each value field that differs, in field order."""
    return [(f, None if old is None else old[f], None if new is None else new[f])
            for f in rec.VALUE_FIELDS if (old or {}).get(f) != (new or {}).get(f)]
