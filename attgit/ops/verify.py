"""Verify a repository: every commit, tree and blob readable, every record's
checksum right, every commit's counts equal to its content.

Blobs shared by many commits are verified once (by id)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from attgit.errors import AttgitError
from attgit.format import layout
from attgit.repo.repository import Repository


@dataclass
class VerifyResult:
    commits: int = 0
    blobs: int = 0
    records: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**self.__dict__, "ok": self.ok}


def verify(repo: Repository, progress: Optional[Callable[[str], None]] = None) -> VerifyResult:
    result = VerifyResult()
    seen: dict = {}  # blob id -> record count
    for info in repo.log():
        result.commits += 1
        if progress:
            progress(info.short)
        try:
            _verify_commit(repo, info, seen, result)
        except AttgitError as exc:
            result.problems.append(f"commit {info.short}: {exc}")
        except Exception as exc:  # noqa: BLE001 - an unreadable object: report, keep going
            result.problems.append(f"commit {info.short}: unreadable: {exc}")
    result.blobs = len(seen)
    result.records = sum(seen.values())
    return result


def _verify_commit(repo: Repository, info, seen: dict, result: VerifyResult) -> None:
    snap = repo.snapshot(info.id)
    companies = snap.companies()
    total = 0
    for company in companies:
        oid = snap.blob_id(company)
        if oid is None:
            raise AttgitError(f"company {company!r} has no file {layout.company_path(company)}")
        if oid not in seen:
            seen[oid] = len(snap.records(company))
        total += seen[oid]
    listed = {layout.company_path(c) for c in companies}
    strays = [p for p in snap.file_paths() if p not in listed]
    if strays:
        result.problems.append(f"commit {info.short}: files of no listed company: {strays[:3]}")
    _check_count(info, "Companies", len(companies), result)
    _check_count(info, "Records", total, result)


def _check_count(info, name: str, actual: int, result: VerifyResult) -> None:
    stated = info.count(name)
    if stated is not None and stated != actual:
        result.problems.append(f"commit {info.short}: metadata says {stated} {name.lower()}, content has {actual}")
