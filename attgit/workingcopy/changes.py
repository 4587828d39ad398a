"""What attgit asks of a database (per-company inserts, updates, deletes)
and what the database reports back.
"""


from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CompanyChange:
    """What must happen to one company's rows to reach a target snapshot.

    ``inserts`` and ``updates`` hold canonical records, ``deletes`` keys.
    ``create`` means the company row must exist first (Property 11);
    ``drop`` means the company itself goes (only a checkout does that).
    ``created_at`` (a datetime, for a created company) keeps the creation
    time a backup file recorded; None means now.
    """

    company: str
    inserts: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    deletes: list = field(default_factory=list)
    create: bool = False
    drop: bool = False
    created_at: object = None

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
