"""The protocol a database implements to take part in attgit.

The library reads a database company by company (never the whole table at
once) and changes it only through :meth:`WorkingCopy.apply`, which must be
one transaction: all of a change or none of it.  In that same transaction
the database records which commit it now matches, so a crash can never
leave a database that claims the wrong snapshot.

What changed since then is not guessed: the database keeps an exact change
log (triggers, whatever wrote the rows) and :meth:`WorkingCopy.changes`
reads it.  A commit consumes exactly the entries it read, in the
transaction that records the commit (:meth:`WorkingCopy.set_state`), so an
edit made while it ran is left for the next one.

:class:`MemoryWorkingCopy` implements the protocol in memory; it serves the
library's tests and shows an adapter author what each method must do.
"""


from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ContextManager, Iterable, Iterator, Optional, Protocol

from attgit.workingcopy.changes import ApplyResult, ChangeSet, CompanyChange


@dataclass
class DatabaseState:
    """The commit a database matches, and the change log's position then:
    every log entry up to ``watermark`` is already part of ``commit``."""

    commit: Optional[str] = None
    watermark: int = 0


#: progress(done, total): called at least every 1,000 records.
Progress = Callable[[int, int], None]


class WorkingCopy(Protocol):
    """What attgit needs from a database."""

    def companies(self) -> list[str]:
        """Names of every company, sorted."""

    def records(self, company: str) -> Iterator[dict]:
        """The company's canonical records, sorted by (date, ep_no)."""

    def rows(self, company: str) -> Iterator[tuple]:
        """The company's stored rows as they are (FIELDS order), sorted by
        (date, ep_no): what :func:`attgit.format.records.encode_rows` turns
        into a blob without building a record per row."""

    def records_at(self, company: str, keys: Iterable[tuple]) -> Iterator[dict]:
        """The canonical records of ``company`` stored under ``keys``
        ((ep_no, company, date) as logged), in any order; keys with no
        row are simply absent.  Reads only those rows (batched)."""

    def record_count(self) -> int:
        """How many records the database holds (one cheap query)."""

    def capture_installed(self) -> bool:
        """Whether the database keeps its change log (one cheap check)."""

    def changes(self, detail: bool = True) -> Optional[ChangeSet]:
        """Every change-log entry not yet consumed, with the log's
        watermark; None when the database keeps no change log (triggers
        missing or dropped): the caller must then compare everything.
        Without ``detail`` only the watermark is read (``everything`` set):
        for a caller that reads everything anyway."""

    def state(self) -> DatabaseState:
        """The commit this database last matched, as recorded by it."""

    def set_state(self, state: DatabaseState, consume: Optional[int] = None) -> None:
        """Record that the database matches ``state.commit`` and, in the
        same transaction, delete the log entries up to ``consume`` (the
        watermark of the ChangeSet the commit was built from)."""

    def apply(
        self,
        changes: Iterable[CompanyChange],
        commit: Optional[str],
        progress: Optional[Progress] = None,
        total: int = 0,
        expect: Optional[int] = None,
        dirty: Iterable[str] = (),
    ) -> ApplyResult:
        """Apply every change and record ``commit`` in ONE transaction.

        On any exception nothing is changed and the exception propagates.
        With ``expect`` (the log watermark the changes were computed
        against) other writers are kept out and the apply raises Rejected
        if the log holds an entry beyond it: an edit made while attgit
        worked is never overwritten unseen nor recorded as committed.  The
        entries the apply itself causes, and (with ``expect``) those up to
        ``expect``, are consumed in the same transaction.  ``dirty`` names
        companies whose rows will still differ from ``commit`` (edits kept
        by a merge): they are logged as changed, so the next commit reads
        them.
        """

    def lock(self, wait: float = 0.0) -> ContextManager[None]:
        """Hold the database's single-writer lock; raise Locked if another
        writer still holds it after ``wait`` seconds (0: do not wait)."""
