"""Repair what a database stored before its validity constraints existed
(migration 0006), where the repair is unambiguous, and name the rest.

Unambiguous: surrounding whitespace on text (attgit always committed the
trimmed value, so history already holds it) and a fraction of a second on
a time (attgit committed it without).  Anything else — a NUL, an unknown
status, a bad date, text too long, or a trim that would make two companies
or two records one — is refused with every such row named, and the
migration stops with nothing changed: merging data silently is not a
repair.
"""

from __future__ import annotations

import datetime

from attgit.errors import ValidationError
from attgit.format import records as rec
from attgit.ops.validity import InvalidRow
from attgit.words import plural

_TEXT = ("ep_no", "ep_name", "shift", "status", "overstay")
_SHOWN = 50


def repair_stored_rows(apps, schema_editor) -> None:
    """RunPython entry of migration 0006."""
    connection = schema_editor.connection
    company = apps.get_model("attendance", "Company")._meta.db_table
    record = apps.get_model("attendance", "AttendanceRecord")._meta.db_table
    with connection.cursor() as cursor:
        refused = _repair_companies(cursor, connection.ops.quote_name(company))
        refused += _repair_records(cursor, connection, connection.ops.quote_name(record),
                                   connection.ops.quote_name(company))
    if refused:
        lines = "\n".join(f"  {row.describe()}" for row in refused[:_SHOWN])
        more = f"\n  ... and {len(refused) - _SHOWN:,} more" if len(refused) > _SHOWN else ""
        raise ValidationError(
            f"migration 0006 (validity): {plural(len(refused), 'stored row')} cannot be repaired automatically; "
            f"fix or delete them, then run migrate again (nothing was changed):\n{lines}{more}")


def _repair_companies(cursor, table: str) -> list:
    cursor.execute(f"SELECT id, name FROM {table}")
    rows = cursor.fetchall()
    taken = {name for _, name in rows}
    refused, renames = [], []
    for pk, name in rows:
        trimmed = name.strip() if isinstance(name, str) else name
        problems = rec.company_problems(trimmed)
        if not problems and trimmed != name and trimmed in taken:
            problems = [f"trimmed, it would be the name of another company ({trimmed!r}); merge or rename "
                        "them by hand"]
        if problems:
            refused.append(InvalidRow(name, None, None, problems))
        elif trimmed != name:
            renames.append((trimmed, pk))
            taken.add(trimmed)
    cursor.executemany(f"UPDATE {table} SET name = %s WHERE id = %s", renames)
    return refused


def _repair_records(cursor, connection, table: str, companies: str) -> list:
    sqlite = connection.vendor == "sqlite"
    date, in_time, out_time = ((f"CAST(r.{c} AS TEXT)" if sqlite else f"r.{c}") for c in ("date", "in_time",
                                                                                            "out_time"))
    cursor.execute(f"SELECT r.id, r.company_id, c.name, r.ep_no, r.ep_name, {date}, r.shift, r.status, "
                   f"{in_time}, {out_time}, r.overstay FROM {table} r JOIN {companies} c ON c.id = r.company_id")
    rows = cursor.fetchall()
    keys = {(row[1], str(row[5]), row[3]) for row in rows}
    refused, updates = [], []
    for pk, company_id, name, *values in rows:
        raw = dict(zip(rec.FIELDS[:2] + rec.FIELDS[3:], values))
        fixed = _repaired(raw)
        problems = rec.row_problems(tuple(fixed.get(f, "x") for f in rec.FIELDS))
        if not problems and fixed["ep_no"] != raw["ep_no"] and (company_id, str(raw["date"]), fixed["ep_no"]) in keys:
            problems = [f"trimmed, employee {fixed['ep_no']!r} would have two records on this date; "
                        "merge them by hand"]
        if problems:
            refused.append(InvalidRow(name, raw["ep_no"], raw["date"], problems))
        elif fixed != raw:
            updates.append([fixed[f] for f in _TEXT + ("in_time", "out_time")] + [pk])
            keys.add((company_id, str(raw["date"]), fixed["ep_no"]))
    assignments = ", ".join(f"{f} = %s" for f in _TEXT + ("in_time", "out_time"))
    cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", updates)
    return refused


def _repaired(raw: dict) -> dict:
    fixed = dict(raw)
    for field in _TEXT:
        if isinstance(fixed[field], str):
            fixed[field] = fixed[field].strip()
    for field in ("in_time", "out_time"):
        fixed[field] = _whole_seconds(fixed[field])
    return fixed


def _whole_seconds(value):
    """A stored time as the constraint wants it: whole seconds, and on
    SQLite ``HH:MM:SS`` text (``HH:MM`` and ``''`` read the same to attgit)."""
    if isinstance(value, datetime.time):
        return value.replace(microsecond=0)
    if value == "":
        return None
    if isinstance(value, str) and len(value) == 5:
        return value + ":00"
    if isinstance(value, str) and len(value) > 8 and value[8] == "." and value[9:].isdigit():
        return value[:8]
    return value
