"""Whatever a program writes with raw SQL, the database refuses it or
attgit commits it (issue 18.2): every CHECK constraint agrees with what
attgit can commit, field by field, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import connection
from hypothesis import example, given
from hypothesis import strategies as st
from test_dj_changelog import other_connection  # noqa: E402  (tests/django is on sys.path)

from attgit.format.records import WHITESPACE, from_db_row
from attgit.ops.commit import snapshot_database
from attgit.repo.repository import Author, Repository
from django_adapter.models import AttendanceRecord, Company
from django_adapter.workingcopy import DjangoWorkingCopy

pytestmark = pytest.mark.django_db(transaction=True)
AUTHOR = Author("tester", "tester@example.com", 1_700_000_000)

edges = st.sampled_from([" ", "\x00", "\xa0", "\u3000", "\n", "\x85", "é", "😀", "/", "..", "'", "\\"])
texts = st.one_of(st.text(max_size=6), st.builds(lambda a, b, c: a + b + c, st.text(max_size=3), edges,
                                                 st.text(max_size=3)), st.integers(-10, 10_000),
                  st.floats(allow_nan=False, allow_infinity=False, width=32), st.just("x" * 33),
                  st.just("y" * 129), st.just("z" * 256))
times = st.one_of(st.none(), st.just(""), st.sampled_from(
    ["00:00", "23:59", "23:59:59", "23:59:60", "24:00", "24:00:00", "12:00:00.5", "12:00:00.000", "12:5",
     "9:00", "09:00:00+02", "allballs", "12:00 PM", "1200", "12:60:00", "-01:00:00"]),
    st.times().map(lambda t: t.isoformat()), st.integers(0, 100_000))
dates = st.one_of(st.dates().map(lambda d: d.isoformat()), st.sampled_from(
    ["1899-12-31", "1900-01-01", "2199-12-31", "2200-01-01", "2024-02-30", "2024-2-3", "infinity", "-infinity",
     "epoch", "0001-01-01 BC", "20240101", "2024-01-01 10:00", "2024-01-01T00:00", "today"]),
    st.integers(0, 30_000_000))
statuses = st.one_of(st.sampled_from(["P", "A", "HD", "L", "WO", "H", "OD", "p", " P", "P ", "X", ""]), texts)
blobs = st.binary(max_size=4)


def _maybe_blob(strategy):
    """SQLite stores what it is given: a BLOB in a text column too."""
    return st.one_of(strategy, blobs) if connection.vendor == "sqlite" else strategy


def _refusals() -> tuple:
    if connection.vendor == "sqlite":
        return (sqlite3.Error,)
    import psycopg

    return (psycopg.Error,)


def _write(values: dict) -> bool:
    """Insert one company and record through another connection; whether
    the database took them."""
    other = other_connection()
    mark = "?" if connection.vendor == "sqlite" else "%s"
    columns = ", ".join(values)
    try:
        other.execute(f"INSERT INTO attendance_company (id, name, created_at) VALUES (77, {mark}, "
                      "CURRENT_TIMESTAMP)", [values.pop("company")])
        columns = ", ".join(values)
        other.execute(f"INSERT INTO attendance_attendancerecord (company_id, {columns}, created_at, updated_at) "
                      f"VALUES (77, {', '.join([mark] * len(values))}, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                      list(values.values()))
        if connection.vendor == "sqlite":
            other.commit()
        return True
    except _refusals():  # the driver's or the server's refusal
        if connection.vendor == "sqlite":
            other.rollback()
        return False
    finally:
        other.close()


@pytest.fixture
def repo(tmp_path):
    return Repository.init(tmp_path / "r.git")


@given(data=st.data())
@example(data=None)
def test_raw_sql_values_are_refused_or_committed(repo, data):
    if data is None:  # the case issue 18.2 found: PostgreSQL keeps 23:59:60 as 24:00:00
        values = {"company": "ABC", "ep_no": "E1", "ep_name": "", "date": "2024-01-01", "shift": "",
                  "status": "P", "in_time": "23:59:60", "out_time": None, "overstay": ""}
    else:
        values = data.draw(st.fixed_dictionaries({
            "company": _maybe_blob(st.one_of(texts, st.just("ABC"))),
            "ep_no": _maybe_blob(st.one_of(texts, st.just("E1"))),
            "ep_name": _maybe_blob(texts), "date": dates, "shift": _maybe_blob(texts),
            "status": _maybe_blob(statuses), "in_time": _maybe_blob(times), "out_time": times,
            "overstay": _maybe_blob(texts)}))
    try:
        if not _write(dict(values)):
            return
        db = DjangoWorkingCopy()
        [company] = db.companies()
        rows = list(db.rows(company))
        assert len(rows) == 1
        record = from_db_row(rows[0])  # raises InvalidRecord when attgit cannot commit the row
        assert record["company"] == company and not any(record[f].strip(WHITESPACE) != record[f]
                                                           for f in ("ep_no", "ep_name", "shift", "overstay"))
    finally:
        AttendanceRecord.objects.all().delete()
        Company.objects.all().delete()


def test_a_valid_raw_row_commits(repo):
    assert _write({"company": "ABC", "ep_no": "E1", "ep_name": "", "date": "2024-01-01", "shift": "",
                   "status": "P", "in_time": "23:59:59", "out_time": "07:05:00", "overstay": ""})
    result = snapshot_database(repo, DjangoWorkingCopy(), AUTHOR)
    assert result.created and result.records == 1
