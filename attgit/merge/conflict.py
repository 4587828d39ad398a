"""A conflict: one key changed differently on both sides, with its three
versions (always in the order base, ours, theirs), a stable id derived from
the key and both sides' checksums, and its resolution once one is chosen.
"""


from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, Optional, Union

import orjson

from attgit.errors import UsageError, ValidationError
from attgit.format import records as rec
from attgit.merge.strategy import Strategy, parse_strategy

Record = Optional[dict]


class Versions(NamedTuple):
    """The three versions of one thing, in the one order we ever use."""

    base: Any
    ours: Any
    theirs: Any


KINDS = ("modify/modify", "add/add", "delete/modify", "modify/delete")


_SIDES = ("ours", "theirs")

#: Who each version is, in the one order, as people read them: git's words
#: for a pull; for an import the database is ours and the backup file theirs.
SIDE_NAMES = Versions("base", "ours", "theirs")
IMPORT_SIDE_NAMES = Versions("base", "database", "file")
#: A backup file has no common base: its conflicts (add/add) are records the
#: file holds differently; the web page and the CLI both say so.
IMPORT_WORDS = {"add/add": "different in the file"}


def side_names(merge_kind: str) -> Versions:
    """The names of base, ours and theirs for a merge of ``merge_kind``
    (pull, import, checkout)."""
    return IMPORT_SIDE_NAMES if merge_kind == "import" else SIDE_NAMES


def kind_said(kind: str, merge_kind: str) -> str:
    """A conflict's kind for a merge of ``merge_kind``: git's name
    (``modify/modify``), an import's in words ("different in the file")."""
    return IMPORT_WORDS.get(kind, kind) if merge_kind == "import" else kind


def conflict_id(key: tuple, ours: Record, theirs: Record) -> str:
    """A stable id: the same disagreement gets the same id on any machine.

    Derived from the key and both sides' checksums ("-" for a deleted
    side), so it changes exactly when either side's content does.
    """
    parts = [list(key), _checksum_or_dash(ours), _checksum_or_dash(theirs)]
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:12]


def _checksum_or_dash(record: Record) -> str:
    return "-" if record is None else rec.checksum(record)


@dataclass(frozen=True)
class Conflict:
    """One key both sides changed in incompatible ways.

    ``merged`` is the record with every undisputed field merged and ours'
    value for each disputed one (None when ours deleted the record);
    ``resolution`` is None while pending, else the side a strategy chose.
    """

    id: str
    key: tuple
    kind: str
    fields: tuple
    base: Record
    ours: Record
    theirs: Record
    merged: Record
    resolution: Optional[str] = None

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def pending(self) -> bool:
        return self.resolution is None

    @property
    def versions(self) -> Versions:
        return Versions(self.base, self.ours, self.theirs)

    @property
    def is_delete(self) -> bool:
        return self.ours is None or self.theirs is None

    def describe(self) -> str:
        """One line for a person: key, kind and the disputed fields."""
        return f"{rec.describe_key(self.key)}: {self.kind} ({', '.join(self.fields)}) [{self.id}]"

    def resolve(self, choice: Union[str, Mapping[str, Any]]) -> Record:
        """The record this conflict resolves to (None means: deleted).

        ``choice`` is "ours" or "theirs" (aliases accepted) for every disputed
        field at once, or a mapping field -> "ours" | "theirs" | literal value.
        Undisputed fields keep their merged values.  A literal that is not a
        valid value raises ValidationError naming the field.
        """
        if isinstance(choice, Mapping):
            return self._by_field(choice)
        side = parse_strategy(choice)
        if side == Strategy.MANUAL:
            raise UsageError(
                "resolve a conflict with 'ours', 'theirs' or a field mapping, not 'manual'"
            )
        return self._side(side)

    def _side(self, side: str) -> Record:
        if side == Strategy.OURS:
            return None if self.merged is None else dict(self.merged)
        if self.is_delete:
            return None if self.theirs is None else dict(self.theirs)
        assert self.merged is not None and self.theirs is not None  # a modify/modify conflict has both
        return {**self.merged, **{f: self.theirs[f] for f in self.fields}}

    def _by_field(self, choice: Mapping[str, Any]) -> dict:
        start = self.merged if self.merged is not None else self.theirs
        assert start is not None  # a field choice needs a record on some side
        result = dict(start)
        for name, value in choice.items():
            if name not in rec.VALUE_FIELDS:
                raise UsageError(
                    f"cannot resolve field {name!r}: choose among {', '.join(rec.VALUE_FIELDS)}"
                )
            result[name] = self._field_value(name, value)
        return rec.normalise(result, rec.describe_key(self.key))

    def _field_value(self, name: str, value: Any) -> Any:
        if value not in _SIDES:
            return value
        side = self.ours if value == "ours" else self.theirs
        if side is None:
            raise UsageError(
                f"{value} deleted {rec.describe_key(self.key)}: resolve the whole record "
                f"with 'ours' or 'theirs' instead of field {name!r}"
            )
        return side[name]

    def with_resolution(self, resolution: Optional[str]) -> "Conflict":
        return dataclasses.replace(self, resolution=resolution)

    def to_dict(self) -> dict:
        """JSON-safe form, for persisting pending conflicts and for output."""
        return {
            "id": self.id,
            "key": list(self.key),
            "kind": self.kind,
            "fields": list(self.fields),
            "base": self.base,
            "ours": self.ours,
            "theirs": self.theirs,
            "merged": self.merged,
            "resolution": self.resolution,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Conflict":
        """Rebuild a conflict from :meth:`to_dict`; raise ValidationError if
        the data is malformed or its id does not match its content."""
        return _conflict_from_dict(data)


def _conflict_from_dict(data: Any) -> Conflict:
    if not isinstance(data, Mapping):
        raise ValidationError("a conflict must be a JSON object")
    missing = {"id", "key", "kind", "fields", "base", "ours", "theirs", "merged"} - set(data)
    if missing:
        raise ValidationError(f"conflict is missing {', '.join(sorted(missing))}")
    key = data["key"]
    if not (isinstance(key, list) and len(key) == 3 and all(isinstance(p, str) for p in key)):
        raise ValidationError("conflict key must be [ep_no, company, date]")
    where = f"conflict {data['id']!r}"
    conflict = Conflict(
        id=data["id"],
        key=tuple(key),
        kind=_one_of(data["kind"], KINDS, "kind", where),
        fields=_field_names(data["fields"], where),
        base=_optional_record(data["base"], where),
        ours=_optional_record(data["ours"], where),
        theirs=_optional_record(data["theirs"], where),
        merged=_optional_record(data["merged"], where),
        resolution=_one_of(data.get("resolution"), (None, *_SIDES), "resolution", where),
    )
    if conflict.id != conflict_id(conflict.key, conflict.ours, conflict.theirs):
        raise ValidationError("conflict id does not match its content", where)
    return conflict


def _one_of(value: Any, allowed: tuple, name: str, where: str) -> Any:
    if value not in allowed:
        raise ValidationError(f"{name} must be one of {allowed}, got {value!r}", where)
    return value


def _field_names(value: Any, where: str) -> tuple:
    if not isinstance(value, list) or not all(f in rec.VALUE_FIELDS for f in value):
        raise ValidationError("fields must be a list of value field names", where)
    return tuple(value)


def _optional_record(value: Any, where: str) -> Record:
    return None if value is None else rec.normalise(value, where)
