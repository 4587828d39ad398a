"""A complete working copy in memory: the library's tests use it, and an
adapter author reads it as the reference implementation.
"""


from __future__ import annotations

import contextlib
import copy
import hashlib
import threading
from typing import Iterable, Iterator, Mapping, Optional

from attgit.errors import Locked, Rejected
from attgit.format import records as rec
from attgit.workingcopy.changes import ApplyResult, CompanyChange
from attgit.workingcopy.protocol import DatabaseState, Fingerprint


class MemoryWorkingCopy:
    """An in-memory database: {company: {key: record}}.  Thread-safe enough
    for tests; ``fail_after`` makes :meth:`apply` raise midway, to prove
    atomicity."""

    def __init__(self, data: Mapping[str, Iterable[dict]] | None = None):
        self.data: dict[str, dict] = {}
        for company, items in (data or {}).items():
            self.data[company] = {rec.key(r): dict(r) for r in items}
        self._state = DatabaseState()
        self._lock = threading.Lock()
        self.fail_after: Optional[int] = None

    @classmethod
    def from_records(cls, items: Iterable[dict], companies: Iterable[str] = ()) -> "MemoryWorkingCopy":
        wc = cls({c: [] for c in companies})
        for r in items:
            wc.data.setdefault(r["company"], {})[rec.key(r)] = dict(r)
        return wc

    def companies(self) -> list[str]:
        return sorted(self.data)

    def records(self, company: str) -> Iterator[dict]:
        """Read through the same door as a database's rows, so a value a
        test stores around validation fails here as it would there."""
        return map(rec.from_db_row, self.rows(company))

    def rows(self, company: str) -> Iterator[tuple]:
        """The company's stored rows in FIELDS order, sorted (date, ep_no)."""
        stored = sorted(self.data.get(company, {}).values(), key=lambda r: (str(r["date"]), str(r["ep_no"])))
        return (tuple(r[f] for f in rec.FIELDS) for r in stored)

    def all_records(self) -> list[dict]:
        return [r for c in self.companies() for r in self.records(c)]

    def fingerprints(self) -> dict:
        return {c: _content_fingerprint(rows) for c, rows in self.data.items()}

    def state(self) -> DatabaseState:
        return copy.deepcopy(self._state)

    def set_state(self, state: DatabaseState) -> None:
        self._state = copy.deepcopy(state)

    def apply(self, changes, commit, progress=None, total=0, expect=None) -> ApplyResult:
        if expect is not None and self.fingerprints() != {c: tuple(f) for c, f in expect.items()}:
            raise Rejected("the database changed while attgit was working; nothing was applied")
        work = copy.deepcopy(self.data)
        result, done = ApplyResult(), 0
        for change in changes:
            self._apply_one(work, change)
            result.add(change)
            done += len(change)
            if self.fail_after is not None and done >= self.fail_after:
                raise RuntimeError("simulated failure during apply")
            if progress:
                progress(done, total)
        self.data = work
        self._state = DatabaseState(commit, self.fingerprints())
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
    def lock(self):
        if not self._lock.acquire(blocking=False):
            raise Locked("the in-memory database is locked by another writer")
        try:
            yield
        finally:
            self._lock.release()


def _content_fingerprint(rows: Mapping) -> Fingerprint:
    digest = hashlib.sha256()
    for k in sorted(rows):
        digest.update(rec.canonical_bytes(rows[k]))
    return (len(rows), digest.hexdigest())
