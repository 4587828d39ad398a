"""A complete working copy in memory: the library's tests use it, and an
adapter author reads it as the reference implementation.

Its change log works as a database's triggers do: ``data`` is a dict of
companies holding dicts of records whose every write (assigning, popping,
clearing, a record's field set in place) appends the key it touched, or
the company as a whole when a company appears, goes or is replaced, to the
log.  Tests edit ``data`` as freely as a person edits a table, and the log
sees it.  Only :meth:`MemoryWorkingCopy.apply` writes around the log, the
way attgit's own writes consume what they cause in their transaction.
"""


from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterable, Iterator, Mapping, Optional

from attgit.errors import Locked, Rejected
from attgit.format import records as rec
from attgit.workingcopy.changes import ApplyResult, ChangeSet, CompanyChange
from attgit.workingcopy.protocol import DatabaseState


class _Log:
    """Entries (id, company, key or None for the whole company); ids only grow."""

    def __init__(self):
        self.entries: list = []
        self.last = 0
        self.enabled = True

    def add(self, company: str, key: Optional[tuple]) -> None:
        if self.enabled:
            self.last += 1
            self.entries.append((self.last, company, key))

    def high(self) -> int:
        return self.entries[-1][0] if self.entries else 0

    def drop(self, keep) -> None:
        self.entries = [e for e in self.entries if keep(e[0])]


class _Record(dict):
    """A stored record: a field set in place logs the record's key (both
    keys if the field is part of it)."""

    def __init__(self, log: _Log, company: str, data: Mapping):
        super().__init__(data)
        self._log, self._company = log, company

    def __setitem__(self, name, value):
        old = rec.key(self)
        super().__setitem__(name, value)
        self._log.add(self._company, old)
        if rec.key(self) != old:
            self._log.add(self._company, rec.key(self))

    def __deepcopy__(self, memo):
        return dict(self)


class _Rows(dict):
    """One company's {key: record}; every write logs the key it touches."""

    def __init__(self, log: _Log, company: str, rows: Mapping | Iterable[tuple] = ()):
        super().__init__()
        self._log, self._company = log, company
        for k, r in dict(rows).items():
            super().__setitem__(tuple(k), _Record(log, company, r))

    def __setitem__(self, k, record):
        super().__setitem__(tuple(k), _Record(self._log, self._company, record))
        self._log.add(self._company, tuple(k))

    def __delitem__(self, k):
        super().__delitem__(k)
        self._log.add(self._company, tuple(k))

    def pop(self, k, *default):
        present = k in self
        value = super().pop(k, *default)
        if present:
            self._log.add(self._company, tuple(k))
        return value

    def popitem(self):
        k, value = super().popitem()
        self._log.add(self._company, tuple(k))
        return k, value

    def setdefault(self, k, default=None):
        if k not in self:
            self[k] = default
        return self[k]

    def update(self, other: Any = (), /, **kw: Any) -> None:
        for k, r in dict(other, **kw).items():
            self[k] = r

    def clear(self):
        for k in list(self):
            del self[k]

    def __deepcopy__(self, memo):
        return {k: dict(r) for k, r in self.items()}


class _Companies(dict):
    """{company: rows}; a company appearing, going or replaced whole is
    logged as a company (it is read whole), as a company row's trigger does."""

    def __init__(self, log: _Log, data: Mapping | Iterable[tuple] = ()):
        super().__init__()
        self._log = log
        for company, rows in dict(data).items():
            super().__setitem__(company, _Rows(log, company, rows))

    def __setitem__(self, company, rows):
        super().__setitem__(company, _Rows(self._log, company, rows))
        self._log.add(company, None)

    def __delitem__(self, company):
        super().__delitem__(company)
        self._log.add(company, None)

    def pop(self, company, *default):
        present = company in self
        value = super().pop(company, *default)
        if present:
            self._log.add(company, None)
        return value

    def popitem(self):
        company, value = super().popitem()
        self._log.add(company, None)
        return company, value

    def setdefault(self, company, default=None):
        if company not in self:
            self[company] = default if default is not None else {}
        return self[company]

    def update(self, other: Any = (), /, **kw: Any) -> None:
        for company, rows in dict(other, **kw).items():
            self[company] = rows

    def clear(self):
        for company in list(self):
            del self[company]

    def __deepcopy__(self, memo):
        return {c: {k: dict(r) for k, r in rows.items()} for c, rows in self.items()}


class MemoryWorkingCopy:
    """An in-memory database: {company: {key: record}}, with a change log.
    Thread-safe enough for tests; ``fail_after`` makes :meth:`apply` raise
    midway, to prove atomicity; ``capture = False`` plays a database whose
    triggers were dropped (edits go unlogged, :meth:`changes` says None)."""

    def __init__(self, data: Mapping[str, Iterable[dict]] | None = None):
        self._log = _Log()
        self._data = _Companies(self._log)
        for company, items in (data or {}).items():
            self._data[company] = {rec.key(r): dict(r) for r in items}
        self._state = DatabaseState()
        self._lock = threading.Lock()
        self.fail_after: Optional[int] = None
        self.capture = True

    @property
    def data(self) -> dict:
        return self._data

    @data.setter
    def data(self, value: Mapping) -> None:
        self._data.clear()
        self._data.update(value)

    @property
    def capture(self) -> bool:
        return self._log.enabled

    @capture.setter
    def capture(self, on: bool) -> None:
        self._log.enabled = on

    @classmethod
    def from_records(cls, items: Iterable[dict], companies: Iterable[str] = ()) -> "MemoryWorkingCopy":
        wc = cls({c: [] for c in companies})
        for r in items:
            wc.data.setdefault(r["company"], {})[rec.key(r)] = dict(r)
        return wc

    # --- reading -------------------------------------------------------------

    def companies(self) -> list[str]:
        return sorted(self._data)

    def records(self, company: str) -> Iterator[dict]:
        """Read through the same door as a database's rows, so a value a
        test stores around validation fails here as it would there."""
        return map(rec.from_db_row, self.rows(company))

    def rows(self, company: str) -> Iterator[tuple]:
        """The company's stored rows in FIELDS order, sorted (date, ep_no)."""
        stored = sorted(self._data.get(company, {}).values(), key=lambda r: (str(r["date"]), str(r["ep_no"])))
        return (tuple(r[f] for f in rec.FIELDS) for r in stored)

    def records_at(self, company: str, keys: Iterable[tuple]) -> Iterator[dict]:
        rows = self._data.get(company, {})
        return (rec.from_db_row(tuple(rows[k][f] for f in rec.FIELDS)) for k in keys if k in rows)

    def all_records(self) -> list[dict]:
        return [r for c in self.companies() for r in self.records(c)]

    def record_count(self) -> int:
        return sum(len(rows) for rows in self._data.values())

    def rename_company(self, old: str, new: str) -> None:
        """A company renamed: its rows now carry the new name (as a
        database's join on company id gives them)."""
        rows = self._data.pop(old)
        self._data[new] = {(k[0], new, k[2]): {**r, "company": new} for k, r in rows.items()}

    # --- change log ----------------------------------------------------------

    def capture_installed(self) -> bool:
        return self.capture

    def changes(self, detail: bool = True) -> Optional[ChangeSet]:
        if not self.capture:
            return None
        out = ChangeSet(self._log.high(), everything=not detail)
        if not detail:
            return out
        for _, company, k in self._log.entries:
            if k is None:
                out.companies.add(company)
            else:
                out.add_key(company, k[0], k[2])
        return out

    def log_size(self) -> int:
        return len(self._log.entries)

    # --- state ---------------------------------------------------------------

    def state(self) -> DatabaseState:
        return DatabaseState(self._state.commit, self._state.watermark)

    def set_state(self, state: DatabaseState, consume: Optional[int] = None) -> None:
        if consume is not None:
            self._log.drop(lambda i: i > consume)
        self._state = DatabaseState(state.commit, consume if consume is not None else state.watermark)

    # --- writing -------------------------------------------------------------

    def apply(self, changes, commit, progress=None, total=0, expect=None, dirty=()) -> ApplyResult:
        before = self._log.high()
        if expect is not None and before > expect:
            raise Rejected("the database changed while attgit was working; nothing was applied")
        work = {c: {k: dict(r) for k, r in rows.items()} for c, rows in self._data.items()}
        result, done = ApplyResult(), 0
        for change in changes:
            self._apply_one(work, change)
            result.add(change)
            done += len(change)
            if self.fail_after is not None and done >= self.fail_after:
                raise RuntimeError("simulated failure during apply")
            if progress:
                progress(done, total)
        self._data = _Companies(self._log, work)
        if expect is not None:
            self._log.drop(lambda i: False)
        self._state = DatabaseState(commit, before if expect is not None else self._state.watermark)
        for company in dirty:
            self._log.add(company, None)
        return result

    @staticmethod
    def _apply_one(work: dict, change: CompanyChange) -> None:
        if change.drop:
            work.pop(change.company, None)
            return
        rows = work.setdefault(change.company, {})
        for k in change.deletes:
            del rows[tuple(k)]
        for r in change.updates:
            if rec.key(r) not in rows:
                raise KeyError(f"update of a missing record {rec.key(r)}")
            rows[rec.key(r)] = dict(r)
        for r in change.inserts:
            if rec.key(r) in rows:
                raise KeyError(f"insert of an existing record {rec.key(r)}")
            rows[rec.key(r)] = dict(r)

    @contextlib.contextmanager
    def lock(self, wait: float = 0.0) -> Iterator[None]:
        """The single-writer lock; raises Locked when another writer still
        holds it after ``wait`` seconds."""
        acquired = self._lock.acquire(timeout=wait) if wait > 0 else self._lock.acquire(blocking=False)
        if not acquired:
            raise Locked("the in-memory database is locked by another writer")
        try:
            yield
        finally:
            self._lock.release()
