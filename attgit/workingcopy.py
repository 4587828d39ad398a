"""The protocol a database implements to take part in attgit.

The library reads a database company by company (never the whole table at
once) and changes it only through :meth:`WorkingCopy.apply`, which must be
one transaction: all of a change or none of it.  In that same transaction
the database records which commit it now matches, so a crash can never
leave a database that claims the wrong snapshot.

:class:`MemoryWorkingCopy` implements the protocol in memory; it serves the
library's tests and shows an adapter author what each method must do.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterable, Iterator, Mapping, Optional, Protocol

from . import records as rec
from .errors import Locked, Rejected

#: A cheap per-company summary that changes whenever the company's rows do
#: (for a database: row count and latest ``updated_at``).  Compared, never
#: interpreted.
Fingerprint = tuple


@dataclass
class CompanyChange:
    """What must happen to one company's rows to reach a target snapshot.

    ``inserts`` and ``updates`` hold canonical records, ``deletes`` keys.
    ``create`` means the company row must exist first (Property 11);
    ``drop`` means the company itself goes (only a checkout does that).
    """

    company: str
    inserts: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    deletes: list = field(default_factory=list)
    create: bool = False
    drop: bool = False

    def __len__(self) -> int:
        return len(self.inserts) + len(self.updates) + len(self.deletes)


@dataclass
class ApplyResult:
    """Counts of what an apply did."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    companies_created: int = 0
    companies_dropped: int = 0

    def add(self, change: CompanyChange) -> None:
        self.inserted += len(change.inserts)
        self.updated += len(change.updates)
        self.deleted += len(change.deletes)
        self.companies_created += int(change.create)
        self.companies_dropped += int(change.drop)


@dataclass
class DatabaseState:
    """The commit a database matches, and its fingerprints at that moment."""

    commit: Optional[str] = None
    fingerprints: dict = field(default_factory=dict)


#: progress(done, total): called at least every 1,000 records.
Progress = Callable[[int, int], None]


class WorkingCopy(Protocol):
    """What attgit needs from a database."""

    def companies(self) -> list[str]:
        """Names of every company, sorted."""

    def records(self, company: str) -> Iterator[dict]:
        """The company's canonical records, sorted by (date, ep_no)."""

    def fingerprints(self) -> dict[str, Fingerprint]:
        """One cheap query: company name -> fingerprint, for every company.

        A fingerprint is a tuple whose first item is the company's number
        of records."""

    def state(self) -> DatabaseState:
        """The commit this database last matched, as recorded by it."""

    def set_state(self, state: DatabaseState) -> None:
        """Record that the database matches ``state.commit`` (after a commit)."""

    def apply(
        self,
        changes: Iterable[CompanyChange],
        commit: Optional[str],
        progress: Optional[Progress] = None,
        total: int = 0,
        expect: Optional[dict] = None,
    ) -> ApplyResult:
        """Apply every change and record ``commit`` in ONE transaction.

        On any exception nothing is changed and the exception propagates.
        After the changes the database records ``commit`` and its new
        fingerprints as its state.  With ``expect`` (the fingerprints the
        changes were computed against), other writers are kept out and the
        apply raises Rejected if the rows moved since: an edit made while
        attgit worked is never overwritten unseen nor recorded as committed.
        """

    def lock(self) -> ContextManager[None]:
        """Hold the database's single-writer lock; raise Locked if taken."""


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
        return iter(sorted(self.data.get(company, {}).values(), key=rec.sort_key))

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
