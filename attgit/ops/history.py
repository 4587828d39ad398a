"""The history of one company or one record, for the people who audit
attendance: which commits changed it, when, who, and from what to what.

The cost follows that history, not the database: only commits whose file
for the company differs from their first parent's are opened (tree entries
compared by id, :mod:`attgit.repo.pathlog`), and in each of those only the
record's line is looked for, by bisecting the sorted file's bytes
(:func:`attgit.format.lines.find_line`), never parsing the file.  A
company's counts compare each of those versions with the one before only
where the two differ (:mod:`attgit.format.filediff`).

A record changed by a merge is told apart: brought from the other side, or
a conflict (both sides changed it differently from their merge base), and
then which side's value each disputed field took and who settled it (the
strategy, or the person who concluded a manual merge).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass, field
from typing import Iterator, Optional

from attgit.errors import NotFound, UsageError
from attgit.format import layout, objects, packdelta
from attgit.format import records as rec
from attgit.format.filediff import FileChanges, file_changes
from attgit.format.lines import find_line, keys_near
from attgit.merge.conflict import conflict_id
from attgit.repo import pathlog
from attgit.repo.repository import CommitInfo, Repository

#: commit types as a person names them
KINDS = {"full": "snapshot", "incremental": "snapshot", "merge": "pull/merge", "import": "import",
         "checkout": "checkout"}
#: names offered when a company or record is not found
SUGGESTED = 3


def actor(info: CommitInfo) -> str:
    """Who made a commit: the acting user its trailers name (a web user,
    say, while the author may be the service account), else the author."""
    return info.trailers.get("Created-By") or info.author


def commit_kind(info: CommitInfo) -> str:
    """snapshot, pull/merge, import, checkout, or the commit's own type."""
    return KINDS.get(info.type, info.type or "commit")


def commit_dict(info: CommitInfo) -> dict:
    """The facts of a commit a history shows."""
    return {"id": info.id, "time": info.time.isoformat(), "actor": actor(info), "author": info.author,
            "kind": commit_kind(info), "summary": info.summary, "strategy": info.trailers.get("Strategy"),
            "parents": info.parents}


# --- a company's commits ---------------------------------------------------------------

@dataclass
class CompanyCommit:
    """A commit that changed a company's file: what happened to the file,
    its size, and the records the commit added, changed and deleted in the
    company, with the company's total after it."""

    info: CommitInfo
    change: str  # the file: added, changed, deleted
    size: int
    counts: FileChanges

    def to_dict(self) -> dict:
        counts = self.counts.to_dict()
        return {**commit_dict(self.info), "change": self.change, "size": self.size,
                "company_records": counts.pop("records"), "company_changes": counts,
                "total_records": self.info.count("Records"), "total_companies": self.info.count("Companies")}


def company_log(repo: Repository, company: str, start: Optional[str] = None, limit: Optional[int] = None) -> list:
    """The commits that changed ``company``'s file, newest first (at most
    ``limit``), each with its counts for the company; NotFound naming the
    closest companies when it has none and is not a company now."""
    path = layout.company_path(company)
    out: list = []
    reader = packdelta.Reader(str(repo.path))
    for change in _changes(repo, path, start):
        if limit is not None and len(out) >= limit:
            break
        size = _size(repo, change, path)
        out.append(CompanyCommit(change.info, change.change, size, _counts(repo, reader, change, path)))
    if not out:
        _check_company(repo, company)
    return out


def _changes(repo: Repository, path: str, start: Optional[str], merges: bool = False) -> Iterator[pathlog.PathChange]:
    return pathlog.path_changes(repo, path, repo.resolve(start) if start else None, merges)


def _size(repo: Repository, change: pathlog.PathChange, path: str) -> int:
    return objects.size(repo.git, change.blob, "blob", path, change.info.id) if change.blob is not None else 0


def _counts(repo: Repository, reader: packdelta.Reader, change: pathlog.PathChange, path: str) -> FileChanges:
    """The company's records the commit added, changed and deleted (its
    file against the first parent's), and its total: read through the
    pack's deltas, only where the two versions differ (:mod:`attgit.format.filediff`)."""
    def source(blob):
        return pathlog.blob_source(repo, reader, blob, path, change.info.id) if blob is not None else None

    return file_changes(source(change.parent_blob), source(change.blob))


def _check_company(repo: Repository, company: str) -> None:
    """Refuse a company that is not in the newest snapshot, naming the
    closest ones (a company of the past has commits, so is never here)."""
    names = repo.snapshot(repo.head()).companies() if repo.head() is not None else []
    if company in names:
        return
    close = difflib.get_close_matches(company, names, n=SUGGESTED, cutoff=0.3)
    hint = f"; did you mean {_either(close)}?" if close else (
        "; the repository has no commits yet" if not names else "; see `attgit log --company` with one of: "
        + ", ".join(repr(n) for n in names[:10]))
    raise NotFound(f"no company {company!r} in the history{hint}")


def _either(names: list) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


# --- a record's timeline -------------------------------------------------------------

@dataclass
class FieldChange:
    field: str
    old: Optional[str]
    new: Optional[str]

    def to_dict(self) -> dict:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass
class Resolution:
    """How a conflict on this record was settled in a merge: both sides'
    versions, the fields they disputed, which side each disputed field
    took (ours, theirs, or another value), and by whom."""

    conflict: str  # the conflict's id (as `attgit conflicts` and the audit log name it)
    kind: str  # modify/modify, add/add, delete/modify, modify/delete
    strategy: str  # ours, theirs, manual
    by: str
    ours: Optional[dict]
    theirs: Optional[dict]
    chosen: dict  # field -> "ours" | "theirs" | "value"; "record" -> side when a side deleted it

    def to_dict(self) -> dict:
        return {"conflict": self.conflict, "kind": self.kind, "strategy": self.strategy, "by": self.by,
                "ours": self.ours, "theirs": self.theirs, "chosen": self.chosen}


@dataclass
class RecordEvent:
    """One commit where the record was added, changed or deleted."""

    info: CommitInfo
    action: str  # added, changed, deleted
    old: Optional[dict]
    new: Optional[dict]
    changes: list = field(default_factory=list)  # FieldChange
    resolution: Optional[Resolution] = None

    @property
    def kind(self) -> str:
        return "conflict resolution" if self.resolution is not None else commit_kind(self.info)

    def to_dict(self) -> dict:
        return {"commit": commit_dict(self.info), "action": self.action, "kind": self.kind,
                "changes": [c.to_dict() for c in self.changes], "old": self.old, "new": self.new,
                "resolution": self.resolution.to_dict() if self.resolution else None}


def parse_key(record: str, company: Optional[str] = None, date: Optional[str] = None) -> tuple:
    """(ep_no, company, date) from ``EP_NO`` with a company and a date, or
    from one argument ``EP_NO@COMPANY@DATE`` (or ``EP_NO @ COMPANY on DATE``,
    as messages print a key)."""
    if company is None and date is None:
        spoken = re.fullmatch(r"(.+?) @ (.+) on (\d{4}-\d{2}-\d{2})", record)
        parts = list(spoken.groups()) if spoken else record.split("@")
        if len(parts) < 3:
            raise UsageError(f"record {record!r}: give EP_NO@COMPANY@YYYY-MM-DD, or EP_NO with --company "
                             "and --date")
        record, company, date = parts[0], "@".join(parts[1:-1]), parts[-1]
    if not company or not date:
        raise UsageError("a record is named by its employee, company and date: give --company and --date too")
    key = (record.strip(), company.strip(), date.strip())
    try:
        _dt.date.fromisoformat(key[2])
    except ValueError:
        raise UsageError(f"date {key[2]!r}: expected YYYY-MM-DD") from None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", key[2]):
        raise UsageError(f"date {key[2]!r}: expected YYYY-MM-DD")
    return key


def record_timeline(repo: Repository, key: tuple, start: Optional[str] = None) -> list:
    """Every commit where the record ``key`` (ep_no, company, date) was
    added, changed or deleted, newest first; NotFound naming the closest
    companies or records when it never existed."""
    path = layout.company_path(key[1])
    reader = _LineReader(repo, path, key)
    events, newest_blob = [], None
    for change in _changes(repo, path, start, merges=True):
        newest_blob = newest_blob or (change.blob, change.info.id)
        new, old = reader.line(change.blob, change.info.id), reader.line(change.parent_blob, change.info.id)
        event = _event(repo, reader, change.info, old, new)
        if event is not None:
            events.append(event)
    if not events:
        _check_company(repo, key[1])
        raise NotFound(_no_record(repo, reader, key, newest_blob))
    return events


class _LineReader:
    """The record's line in each blob asked for, each blob read once."""

    def __init__(self, repo: Repository, path: str, key: tuple):
        self.repo, self.path, self.key = repo, path, key
        self.order = (key[2], key[0])
        self._lines: dict = {}
        self._packs = packdelta.Reader(str(repo.path))

    def line(self, blob, commit: str) -> Optional[bytes]:
        if blob is None:
            return None
        if blob not in self._lines:
            self._lines[blob] = find_line(self.data(blob, commit), self.order)
        return self._lines[blob]

    def data(self, blob, commit: str) -> packdelta.Source:
        return pathlog.blob_source(self.repo, self._packs, blob, self.path, commit)

    def at(self, commit: Optional[str]) -> Optional[bytes]:
        """The line in a commit's snapshot (None: no commit, or absent)."""
        if commit is None:
            return None
        return self.line(pathlog.blob_at(self.repo, commit, self.path), commit)

    def record(self, line: Optional[bytes], commit: str) -> Optional[dict]:
        where = f"{self.path} in commit {commit[:10]}"
        return rec.from_canonical_line(line, where) if line is not None else None


def _event(repo: Repository, reader: _LineReader, info: CommitInfo, old_line, new_line) -> Optional[RecordEvent]:
    """The record's event in a commit: None when the commit neither
    changed it nor settled a conflict on it (a merge that kept the first
    parent's version of a disputed record is an event: "kept")."""
    if new_line == old_line and len(info.parents) < 2:
        return None
    old, new = reader.record(old_line, info.id), reader.record(new_line, info.id)
    resolution = _resolution(repo, reader, info, new) if len(info.parents) > 1 else None
    if new_line == old_line and resolution is None:
        return None
    action = "kept" if new_line == old_line else "added" if old is None else "deleted" if new is None else "changed"
    return RecordEvent(info, action, old, new, field_changes(old, new), resolution)


def field_changes(old: Optional[dict], new: Optional[dict]) -> list:
    """Field by field, old -> new (every value field when one side is absent)."""
    names = [f for f in rec.VALUE_FIELDS if (old or {}).get(f) != (new or {}).get(f)]
    return [FieldChange(f, None if old is None else old[f], None if new is None else new[f]) for f in names]


def _resolution(repo: Repository, reader: _LineReader, info: CommitInfo, merged) -> Optional[Resolution]:
    """The conflict this merge settled on the record, if its two sides
    changed it differently from their merge base (as the merge decides)."""
    ours_id, theirs_id = info.parents[0], info.parents[1]
    ours_line, theirs_line = reader.at(ours_id), reader.at(theirs_id)
    if ours_line == theirs_line:
        return None
    base_line = reader.at(pathlog.merge_base(repo, ours_id, theirs_id))
    if base_line in (ours_line, theirs_line):
        return None  # one side changed it: taken, not disputed
    ours, theirs = reader.record(ours_line, ours_id), reader.record(theirs_line, theirs_id)
    base = reader.record(base_line, info.id)
    kind, disputed = _dispute(base, ours, theirs)
    if not kind:
        return None
    chosen = {f: _side(merged, ours, theirs, f) for f in disputed}
    strategy = info.trailers.get("Strategy", "")
    by = f"{actor(info)} (by hand)" if strategy == "manual" else f"the {strategy or 'merge'} strategy, run by {actor(info)}"
    return Resolution(conflict_id(reader.key, ours, theirs), kind, strategy, by, ours, theirs, chosen)


def _dispute(base, ours, theirs) -> tuple:
    """(conflict kind, disputed fields) as the cell merge sees them; ("", [])
    when the two sides' changes merge cleanly."""
    if ours is None or theirs is None:
        return ("delete/modify" if ours is None else "modify/delete"), ["record"]
    if base is None:
        return "add/add", [f for f in rec.VALUE_FIELDS if ours[f] != theirs[f]]
    disputed = [f for f in rec.VALUE_FIELDS if ours[f] != base[f] and theirs[f] != base[f] and ours[f] != theirs[f]]
    return ("modify/modify", disputed) if disputed else ("", [])


def _side(merged, ours, theirs, name: str) -> str:
    """Which side a disputed field (or, for "record", the whole record) took."""
    if name == "record":
        return "ours" if merged == ours else "theirs" if merged == theirs else "value"
    value = None if merged is None else merged[name]
    return "ours" if value == ours[name] else "theirs" if value == theirs[name] else "value"


def _no_record(repo: Repository, reader: _LineReader, key: tuple, newest) -> str:
    """Say the record was never there, naming the closest keys of its company."""
    what = f"no record {rec.describe_key(key)} in the history"
    if newest is None or newest[0] is None:
        blob = pathlog.blob_at(repo, str(repo.head()), reader.path) if repo.head() is not None else None
        newest = (blob, str(repo.head()))
    if newest[0] is None:
        return f"{what}: company {key[1]!r} has no records"
    near = keys_near(reader.data(newest[0], newest[1]), reader.order, 50)
    names = [f"{ep}@{key[1]}@{day}" for day, ep in near]
    close = difflib.get_close_matches(f"{key[0]}@{key[1]}@{key[2]}", names, n=SUGGESTED, cutoff=0)
    return f"{what}; closest: {', '.join(close)}" if close else what
