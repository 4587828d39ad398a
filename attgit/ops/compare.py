"""Compare snapshots with each other and with the database (diff, status).

Both walk company by company and parse only companies that can differ:
between commits, those whose blob ids differ; against the database, those
whose fingerprints moved since the last commit (all of them on ``full``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

from attgit.format import records as rec
from attgit.format.snapshot import Snapshot, split_snapshots
from attgit.merge.diff import CompanyDiff, diff_company
from attgit.ops.commit import _as_tuples, dirty_companies
from attgit.repo.repository import Repository
from attgit.workingcopy import WorkingCopy


def diff_snapshots(old: Snapshot, new: Snapshot, companies: Optional[set] = None,
                   trusted: Snapshot | None = None) -> Iterator[CompanyDiff]:
    """Per-company differences between two snapshots (changed companies only).

    Only lines that are not in both blobs are parsed, provided they are also
    in ``trusted``'s (a snapshot known valid, such as main: see
    :mod:`attgit.format.lines`); without ``trusted`` every line of a changed
    company is parsed and checked.
    """
    old_names, new_names = set(old.companies()), set(new.companies())
    for company in sorted(old_names | new_names):
        if companies is not None and company not in companies:
            continue
        if old.blob_id(company) == new.blob_id(company) and (company in old_names) == (company in new_names):
            continue
        before, after = split_snapshots(company, [old, new], trusted, ["the old snapshot", "the new snapshot"]).sides
        yield diff_company(company, before, after)


def trusted_snapshot(repo: Repository) -> Snapshot:
    """The snapshot a read-only comparison may trust: main's, which only
    attgit's checked writes move (:mod:`attgit.format.lines`)."""
    return repo.snapshot(repo.head())


def database_records(db: WorkingCopy, company: str) -> dict:
    return {rec.key(r): r for r in db.records(company)}


def diff_database(repo: Repository, db: WorkingCopy, commit=None, full: bool = False,
                  companies: Optional[set] = None) -> Iterator[CompanyDiff]:
    """Per-company differences from a commit (default: main) to the database."""
    head = repo.head()
    target = repo.resolve(commit) if commit is not None else head
    snap = repo.snapshot(target)
    fingerprints = _as_tuples(db.fingerprints())
    if target != head:
        full = True
    candidates, _ = dirty_companies(repo, db, fingerprints, full)
    committed = set(snap.companies())
    for company in sorted(candidates | (committed ^ set(fingerprints))):
        if companies is not None and company not in companies:
            continue
        before = snap.records(company) if company in committed else {}
        after = database_records(db, company) if company in fingerprints else {}
        diff = diff_company(company, before, after)
        if diff.added or diff.removed or diff.changed or (company in committed) != (company in fingerprints):
            yield diff


@dataclass
class Status:
    """Where the database stands against the last commit."""

    head: Optional[str]
    database_commit: Optional[str]
    added: int = 0
    changed: int = 0
    deleted: int = 0
    companies: list = field(default_factory=list)
    merge_in_progress: bool = False
    conflicts: int = 0

    @property
    def clean(self) -> bool:
        return not (self.added or self.changed or self.deleted or self.companies)

    def to_dict(self) -> dict:
        return {**self.__dict__, "clean": self.clean}


def status(repo: Repository, db: WorkingCopy, full: bool = False) -> Status:
    head = repo.head()
    result = Status(str(head) if head else None, db.state().commit)
    for diff in diff_database(repo, db, full=full):
        result.added += len(diff.added)
        result.changed += len(diff.changed)
        result.deleted += len(diff.removed)
        result.companies.append(diff.company)
    return result
