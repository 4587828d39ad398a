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


@dataclass
class ChangeSet:
    """What the change log says changed since the recorded state.

    ``keys``: company -> keys (ep_no, company, date) of rows inserted,
    updated or deleted there (a row moved to another key or company is
    logged under both).  ``companies``: companies created, renamed (old
    and new name) or deleted: read as a whole.  ``everything``: the log
    cannot be trusted in detail (a TRUNCATE, more entries than a full
    read costs): compare every company.  ``watermark``: the highest entry
    read; consuming up to it removes exactly these entries.  ``doubt``:
    why the log may lack entries (triggers created again, entries deleted
    by hand), "" when nothing says so; a doubt makes ``everything``.
    """

    watermark: int = 0
    keys: dict = field(default_factory=dict)
    companies: set = field(default_factory=set)
    everything: bool = False
    doubt: str = ""

    def touched(self) -> set:
        """Every company the log names."""
        return set(self.keys) | self.companies

    def __bool__(self) -> bool:
        return bool(self.keys or self.companies or self.everything)

    def add_key(self, company: str, ep_no: str, date: str) -> None:
        self.keys.setdefault(company, set()).add((ep_no, company, date))
