"""What a valid record is, decided once: the fast doors (database rows,
snapshot lines) agree with the careful one on every input, invalid ones
included, and a stored row's problems are all named at once."""

from __future__ import annotations

import datetime as dt
import hashlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attgit.errors import ValidationError
from attgit.format import records as rec
from attgit.format.snapshot import encode_company

from .strategies import records

SPACES = st.sampled_from([" ", "\t", "\xa0", "\u3000", "\n"])


def _texts(max_length: int):
    valid = st.text(alphabet="abcXYZ019 -é", min_size=1, max_size=8).map(str.strip).filter(bool)
    return st.one_of(
        valid,
        st.builds(lambda s, sp, left: sp + s if left else s + sp, valid, SPACES, st.booleans()),
        valid.map(lambda s: s + "\x00"),
        valid.map(lambda s: "\x00" + s),
        st.just("x" * max_length), st.just("x" * (max_length + 1)), st.just(" " + "x" * max_length),
        st.sampled_from(["", " ", None, 7, 0, 1.5, False, b"E1"]),
    )


DATES = st.one_of(
    st.dates(dt.date(1900, 1, 1), dt.date(2199, 12, 31)).map(dt.date.isoformat),
    st.dates(dt.date(1890, 1, 1), dt.date(2210, 12, 31)),
    st.sampled_from(["2024-02-30", "2024-1-01", "2024-01-01 ", " 2024-01-01", "2024-01-01T00:00", "",
                     "2024-13-01", "1899-12-31", "2200-01-01", "２０２４-01-01", "2024-01-01\x00", None, 20240101,
                     dt.datetime(2024, 1, 1, 9, 0)]),
)
TIMES = st.one_of(
    st.none(),
    st.times().map(lambda t: t.replace(microsecond=0)),
    st.times(),
    st.times().map(lambda t: t.strftime("%H:%M")),
    st.times().map(lambda t: t.strftime("%H:%M:%S")),
    st.times().map(lambda t: t.isoformat()),
    st.sampled_from(["", "9:00", "09:00:00xyz", "09:00:00.5", "09:00xyz", "24:00", "23:60", "12:00:60",
                     "0٩:00", "09:00\x00", " 09:00", "09:00 ", "ab:cd", "09-00", "09:00:0x", 900, True]),
)
STATUS = st.one_of(st.sampled_from(sorted(rec.STATUSES)),
                   st.sampled_from([" P", "P ", "O", "p", "", None, "HD\x00", "PRESENT", 1]))


@st.composite
def db_rows(draw):
    """A database row (FIELDS order) with each value valid or invalid."""
    return (
        draw(_texts(rec.MAX_LENGTHS["ep_no"])),
        draw(_texts(rec.MAX_LENGTHS["ep_name"])),
        draw(_texts(rec.MAX_LENGTHS["company"])),
        draw(DATES),
        draw(_texts(rec.MAX_LENGTHS["shift"])),
        draw(STATUS),
        draw(TIMES),
        draw(TIMES),
        draw(_texts(rec.MAX_LENGTHS["overstay"])),
    )


def _outcome(read, *args):
    try:
        return "ok", read(*args)
    except ValidationError:
        return "invalid", None


@given(db_rows())
def test_fast_db_row_agrees_with_normalise_on_every_input(row):
    fast = _outcome(rec.from_db_row, row)
    careful = _outcome(rec.normalise, dict(zip(rec.FIELDS, row)))
    assert fast == careful, row


@given(db_rows())
def test_what_the_fast_path_accepts_round_trips_through_a_line(row):
    """A record the database door lets through can be written and read back."""
    kind, record = _outcome(rec.from_db_row, row)
    if kind == "ok":
        assert rec.from_line(rec.to_line(record)) == record


FIELD_VALUES = (_texts(rec.MAX_LENGTHS["ep_no"]), _texts(rec.MAX_LENGTHS["ep_name"]),
                st.sampled_from(["Co", "Co ", " Co", "Other", "Co\x00", "", None, 7]), DATES,
                _texts(rec.MAX_LENGTHS["shift"]), STATUS, TIMES, TIMES, _texts(rec.MAX_LENGTHS["overstay"]))


@st.composite
def company_rows(draw):
    """Rows of one company as a database hands them over: each field's
    values drawn from a small pool (so values repeat, as in attendance
    data, and the encoder's memory of known values is exercised), mostly
    valid, in snapshot order or not."""
    pools = [draw(st.lists(valid, min_size=1, max_size=3)) + draw(st.lists(values, max_size=1))
             for valid, values in zip(_VALID_FIELDS, FIELD_VALUES)]
    rows = draw(st.lists(st.tuples(*(st.sampled_from(pool) for pool in pools)), max_size=12, unique_by=_order))
    if draw(st.integers(0, 3)):
        rows.sort(key=_order)
    return rows


def _order(row) -> tuple:
    """About the snapshot order of a row (exact for valid ones)."""
    return (str(row[3]), row[0].strip() if isinstance(row[0], str) else repr(row[0]))


_VALID_FIELDS = (st.sampled_from(["E1", "E2", "E10", "é9", "E1 ", "\tE2"]), st.sampled_from(["Ann", "Bob B", "", " Cy"]), st.sampled_from(["Co", "Other"]),
                 st.sampled_from(["2024-01-01", "2024-01-02", "2023-12-31"]), st.sampled_from(["G", "N", ""]),
                 st.sampled_from(["P", "A", "WO"]), st.sampled_from([None, "09:00", "09:00:00", "18:30:15"]),
                 st.sampled_from([None, "18:00:00", "17:45"]), st.sampled_from(["", "1h"]))


def _encoded(encode, *args):
    try:
        return "ok", encode(*args)
    except ValidationError as exc:
        return "invalid", str(exc)


@given(st.sampled_from(["Co", "Other"]), company_rows())
def test_rows_encode_to_the_blob_their_records_make(company, rows):
    """encode_rows (the full commit's fast door) gives the very bytes of
    encoding the rows' records one by one, and the very error (the rows
    of one company handed over as another's too)."""
    fast = _encoded(rec.encode_rows, company, rows)
    careful = _encoded(lambda c, rs: encode_company(c, map(rec.from_db_row, rs)), company, rows)
    assert fast == careful, rows


def test_rows_of_another_company_are_refused_though_their_values_are_known():
    rows = [("E1", "Ann", "Other", "2024-01-01", "G", "P", "09:00:00", None, ""),
            ("E2", "Ann", "Other", "2024-01-01", "G", "P", "09:00:00", None, "")]
    rec.encode_rows("Other", rows)  # every value of these rows is known now
    with pytest.raises(ValidationError, match="record of company 'Other' in the file of 'Co'"):
        rec.encode_rows("Co", rows)


@pytest.mark.parametrize("row", [
    ("E1\x00", "", "Co", "2024-01-01", "", "P", None, None, ""),
    ("E1", "", "Co", "2024-01-01", "", "P", "09:00:00xyz", None, ""),
    ("E1", "", "Co", "2024-01-01", "", "P", "09:00:00.5", None, ""),
    ("E1", "", "Co", "2024-01-01", "", "P", dt.time(9, 0, 0, 5), None, ""),
])
def test_fast_db_row_refuses_what_normalise_refuses(row):
    with pytest.raises(ValidationError):
        rec.from_db_row(row)


def _line(data: dict, good_checksum: bool) -> bytes:
    body = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(body).hexdigest() if good_checksum else "0" * 64
    return b'{"checksum":"' + digest.encode() + b'",' + body[1:] + b"\n"


JSON_VALUES = st.one_of(st.sampled_from([" P", "O", "", None, 7, "x\x00", "09:00:00xyz", "9:00", "2024-02-30",
                                         "x" * 300, " padded ", "09:00:00", True]), st.text(max_size=6))


@given(records(), st.lists(st.tuples(st.sampled_from(rec.FIELDS + ("extra",)), JSON_VALUES), max_size=3),
       st.booleans())
def test_fast_line_agrees_with_the_careful_parse(r, mutations, good_checksum):
    data = dict(r)
    for name, value in mutations:
        data[name] = value
    line = _line(data, good_checksum)
    assert _outcome(rec.from_line, line) == _outcome(rec.careful_line, line)


def test_whitespace_is_what_strip_removes():
    assert rec.WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def test_row_problems_names_every_problem_of_a_row():
    row = ("E1 ", "x" * 200, "Co", "2024-02-30", "", "O", "09:00:00xyz", None, "a\x00")
    problems = rec.row_problems(row)
    assert len(problems) == 6, problems
    joined = "\n".join(problems)
    for part in ("'ep_no' has surrounding spaces", "'ep_name' is 200 characters", "not a real date",
                 "'status' must be one of", "'in_time' must be HH:MM", "'overstay' contains a NUL"):
        assert part in joined
    assert rec.row_problems(("E1", "", "Co", "2024-01-01", "", "P", "09:00", None, "")) == []


def test_company_problems():
    assert rec.company_problems("ABC Corp") == []
    assert "surrounding spaces" in rec.company_problems("ABC Corp ")[0]
    assert "NUL" in rec.company_problems("A\x00")[0]
    assert "missing or empty" in rec.company_problems("  ")[0]


# --- the library: invalid rows named all at once, nothing committed ------------

def _bad_memory_db():
    from attgit.workingcopy import MemoryWorkingCopy

    from .helpers import record

    db = MemoryWorkingCopy.from_records([record("E1"), record("E2"), record("E1", company="Zeta")])
    db.data["ABC Corp"][("E1", "ABC Corp", "2025-11-20")]["status"] = "O"
    db.data["ABC Corp"][("E2", "ABC Corp", "2025-11-20")]["in_time"] = "09:00:00xyz"
    db.data["Zeta"][("E1", "Zeta", "2025-11-20")]["ep_no"] = "E1\x00"
    db.data["Trailing "] = {("E7", "Trailing ", "2025-11-21"): record("E7", company="Trailing", date="2025-11-21")}
    return db


def test_commit_refuses_naming_every_invalid_row(tmp_path):
    from attgit.errors import ExitCode, InvalidRows
    from attgit.ops.commit import snapshot_database
    from attgit.ops.compare import status
    from attgit.repo.repository import Repository

    from .helpers import AUTHOR

    repo = Repository.init(tmp_path / "r.git")
    db = _bad_memory_db()
    with pytest.raises(InvalidRows) as err:
        snapshot_database(repo, db, AUTHOR)
    assert err.value.exit_code == ExitCode.INVALID_DATA
    found = {(r.company, r.ep_no, r.date): r.problems for r in err.value.rows}
    assert set(found) == {("ABC Corp", "E1", "2025-11-20"), ("ABC Corp", "E2", "2025-11-20"),
                          ("Zeta", "E1\x00", "2025-11-20"), ("Trailing ", None, None)}
    message = str(err.value)
    for part in ("4 rows", "company 'ABC Corp', employee 'E1', date 2025-11-20: field 'status' must be one of",
                 "'in_time' must be HH:MM, got '09:00:00xyz'", "'ep_no' contains a NUL",
                 "company 'Trailing ': the company name has surrounding spaces"):
        assert part in message
    assert repo.head() is None and db.state().commit is None
    with pytest.raises(InvalidRows) as again:
        status(repo, db)
    assert len(again.value.rows) == 4
