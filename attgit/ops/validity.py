"""Rows the database holds that cannot be committed, named all at once.

The database's constraints keep invalid rows out (django_adapter's models
and migration 0006), but a row written around them (constraints dropped by
hand, a database migrated before they existed) must not stop a commit with
a bare field message.  Reading stops at the first bad row, cheaply; only
then is the database scanned, every company and row, and every problem
named with its company, employee and date (:class:`InvalidRows`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

from attgit.errors import InvalidRows, ValidationError
from attgit.format import records as rec
from attgit.workingcopy import WorkingCopy


@dataclass
class InvalidRow:
    """One stored row (or company, when ``ep_no`` and ``date`` are None)
    and what is wrong with it."""

    company: str
    ep_no: Optional[object]
    date: Optional[object]
    problems: list = field(default_factory=list)

    def describe(self) -> str:
        where = f"company {self.company!r}"
        if self.ep_no is not None or self.date is not None:
            where += f", employee {self.ep_no!r}, date {_plain(self.date)}"
        return f"{where}: {'; '.join(self.problems)}"

    def to_dict(self) -> dict:
        return {"company": self.company, "ep_no": _plain(self.ep_no), "date": _plain(self.date),
                "problems": list(self.problems)}


def _plain(value) -> Optional[str]:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def invalid_rows(db: WorkingCopy, companies: Optional[Iterable[str]] = None) -> list[InvalidRow]:
    """Every invalid company name and row of ``companies`` (default: all),
    one company in memory at a time."""
    names = db.companies() if companies is None else sorted(companies)
    found: list[InvalidRow] = []
    for company in names:
        problems = rec.company_problems(company)
        if problems:
            found.append(InvalidRow(company, None, None, problems))
        found.extend(_company_rows(db, company))
    return found


def _company_rows(db: WorkingCopy, company: str) -> Iterator[InvalidRow]:
    for row in _raw_rows(db, company):
        problems = rec.row_problems(row)
        if problems:
            yield InvalidRow(company, row[0], row[3], problems)


def _raw_rows(db: WorkingCopy, company: str) -> Iterator[tuple]:
    """Stored rows in FIELDS order: the working copy's raw ``rows`` when it
    has them, else its records (which are canonical already)."""
    rows = getattr(db, "rows", None)
    if rows is not None:
        return rows(company)
    return (tuple(r[f] for f in rec.FIELDS) for r in db.records(company))


def check_database(db: WorkingCopy, companies: Optional[Iterable[str]] = None) -> None:
    """Raise InvalidRows naming every invalid row, or return."""
    found = invalid_rows(db, companies)
    if found:
        raise InvalidRows(found)


@contextlib.contextmanager
def naming_invalid_rows(db: WorkingCopy):
    """Turn a ValidationError met while reading the database into
    InvalidRows naming every invalid row (the reading itself stays fast:
    the scan runs only after something failed; company names, few, are
    checked first).  An error whose cause is
    not in the database (a corrupt snapshot, say) passes unchanged."""
    if any(rec.company_problems(name) for name in db.companies()):
        check_database(db)  # a bad name breaks the snapshot's company list, rows or not
    try:
        yield
    except InvalidRows:
        raise
    except ValidationError:
        check_database(db)
        raise
