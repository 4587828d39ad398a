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

from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterable, Iterator, Optional, Protocol

from attgit.workingcopy.changes import ApplyResult, CompanyChange

#: A cheap per-company summary that changes whenever the company's rows do
#: (for a database: row count and latest ``updated_at``).  Compared, never
#: interpreted.
Fingerprint = tuple


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
