"""Database CHECK constraints that keep out what attgit cannot commit exactly.

A valid record is decided once, in :mod:`attgit.format.records`; these
expressions say the same thing in each database's SQL, for the rows as
they are stored (SQLite keeps dates and times as text, so it needs format
checks PostgreSQL's types make for it).  They are plain SQL — no function
Django registers on its own connection — so a write from any program, a
DBA's shell or another language, meets them too.
"""

from __future__ import annotations

from django.db.models import BooleanField, F, Func

from attgit.format.records import WHITESPACE


class _Check(Func):
    """A boolean SQL condition on one column, written per database."""

    output_field = BooleanField()

    def __init__(self, column: str):
        super().__init__(F(column))

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        vendor = "sqlite" if connection.vendor == "sqlite" else "postgresql"
        return getattr(self, vendor)(column, list(params))


class Trimmed(_Check):
    """No surrounding whitespace (exactly what Python's ``str.strip`` removes)
    and no NUL character (PostgreSQL's text cannot hold one at all)."""

    def sqlite(self, col, p):
        return f"(instr({col}, char(0)) = 0 AND trim({col}, %s) = {col})", p + p + [WHITESPACE] + p

    def postgresql(self, col, p):
        return f"(btrim({col}, %s) = {col})", p + [WHITESPACE] + p


class TimeOfDay(_Check):
    """NULL or a whole-second time: SQLite's text ``HH:MM:SS`` (what Django
    and attgit store there), PostgreSQL's time without a fraction."""

    def sqlite(self, col, p):
        # substr: the column's NUMERIC affinity would make '24' the number 24
        return (f"({col} IS NULL OR ({col} GLOB '[0-2][0-9]:[0-5][0-9]:[0-5][0-9]' AND substr({col}, 1, 2) < '24'))",
                p + p + p)

    def postgresql(self, col, p):
        # time's range ends at 24:00:00 inclusive (23:59:60 is stored as it): no time of day
        return f"({col} IS NULL OR ({col} = CAST({col} AS time(0)) AND {col} < '24:00:00'))", p + p + p + p


class CalendarDate(_Check):
    """A real date as ``YYYY-MM-DD`` (SQLite: text it must parse back to
    itself; PostgreSQL's date type already is one)."""

    def sqlite(self, col, p):
        return (f"({col} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' AND date({col}, '+0 days') IS {col})",
                p + p + p)

    def postgresql(self, col, p):
        return "TRUE", []
