"""Attendance records and companies as values: canonical form, key, checksum.

A record is a plain ``dict`` holding exactly :data:`FIELDS`, every value a
``str`` (or ``None`` for an absent time).  :func:`normalise` is the single
door from the outside world (a backup file, a database row, a snapshot
line) to that form; everything after it may assume a valid record.

Timestamps are not content: they are not fields here, so they never reach a
checksum, and a change to a timestamp alone is not a change.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import re
from typing import Any, Callable, Iterable, Mapping

import orjson

from attgit.errors import ChecksumMismatch, ValidationError

#: Content fields, in the order database rows carry them.
FIELDS = (
    "ep_no",
    "ep_name",
    "company",
    "date",
    "shift",
    "status",
    "in_time",
    "out_time",
    "overstay",
)
#: The unique key of a record across environments.
KEY_FIELDS = ("ep_no", "company", "date")
#: Fields a merge may change cell by cell (everything but the key).
VALUE_FIELDS = tuple(f for f in FIELDS if f not in KEY_FIELDS)

#: Attendance status codes and what they mean.
STATUSES = {
    "P": "Present",
    "A": "Absent",
    "HD": "Half day",
    "L": "Leave",
    "WO": "Week off",
    "H": "Holiday",
    "OD": "On duty",
}

#: Longest value each text field may hold (characters).
MAX_LENGTHS = {
    "ep_no": 32,
    "ep_name": 128,
    "company": 255,
    "shift": 32,
    "status": 4,
    "overstay": 16,
}

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\Z")
_MIN_YEAR, _MAX_YEAR = 1900, 2199

Key = tuple  # (ep_no, company, date)


def normalise(raw: Mapping[str, Any], where: str | None = None) -> dict:
    """Return the canonical record for ``raw``, or raise ValidationError.

    ``raw`` may carry ``company_name`` instead of ``company`` (the backup
    file's spelling), ``date``/``time`` objects, and extra keys such as a
    checksum or timestamps, which are ignored.
    """
    if not isinstance(raw, Mapping):
        raise ValidationError("a record must be a JSON object", where)
    if "company" not in raw and "company_name" in raw:
        raw = {**raw, "company": raw["company_name"]}
    return {
        "ep_no": _text(raw, "ep_no", where, required=True),
        "ep_name": _text(raw, "ep_name", where),
        "company": _text(raw, "company", where, required=True),
        "date": _date(raw, where),
        "shift": _text(raw, "shift", where),
        "status": _status(raw, where),
        "in_time": _time(raw, "in_time", where),
        "out_time": _time(raw, "out_time", where),
        "overstay": _text(raw, "overstay", where),
    }


def from_row(row: Iterable[Any]) -> dict:
    """A record from a database row in :data:`FIELDS` order (validated)."""
    return normalise(dict(zip(FIELDS, row)))


def key(record: Mapping[str, Any]) -> Key:
    """The unique key (ep_no, company, date) of a canonical record."""
    return (record["ep_no"], record["company"], record["date"])


def sort_key(record: Mapping[str, Any]) -> tuple:
    """Order of lines in a company's file: by day, then employee."""
    return (record["date"], record["ep_no"])


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    """The exact bytes a checksum is the hash of: sorted-key compact JSON."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def checksum(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical bytes."""
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


_LINE_HEAD = b'{"checksum":"'


def to_line(record: Mapping[str, Any]) -> bytes:
    """One snapshot line: the canonical JSON with its checksum, sorted keys.

    "checksum" sorts before every field name, so the line is the canonical
    bytes with the checksum spliced in first; no second serialisation.
    """
    body = canonical_bytes(record)
    digest = hashlib.sha256(body).hexdigest().encode()
    return _LINE_HEAD + digest + b'",' + body[1:] + b"\n"


def split_line(line: bytes) -> tuple[str, bytes]:
    """(checksum, canonical bytes) of a line attgit wrote, without parsing.

    Used where only identity matters (diffing unchanged lines); content
    that is used is always parsed with :func:`from_line`.
    """
    return line[13:77].decode(), b"{" + line[79:].rstrip(b"\n")


def from_line(line: bytes, where: str | None = None) -> dict:
    """Parse and verify one snapshot line; raise ValidationError if bad.

    Lines attgit wrote take a fast path: the checksum is verified on the
    raw bytes, and the parsed values are accepted when they are already
    canonical (the same test :func:`from_db_row` uses).  Anything else —
    a line from a hostile remote, say — goes through :func:`normalise`,
    which accepts exactly the same records or says precisely what is wrong.
    """
    fast = _fast_line(line)
    if fast is not None:
        return fast
    return careful_line(line, where)


def careful_line(line: bytes, where: str | None = None) -> dict:
    """The careful parse of a snapshot line (what :func:`from_line` does
    when its fast path declines): JSON, known fields, :func:`normalise`,
    checksum."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON: {exc}", where) from None
    if not isinstance(data, dict):
        raise ValidationError("a record must be a JSON object", where)
    stored = data.pop("checksum", None)
    extra = set(data) - set(FIELDS)
    if extra:
        raise ValidationError(f"unknown field(s) {sorted(extra)}", where)
    record = normalise(data, where)
    verify_checksum(record, stored, where)
    return record


def from_canonical_line(line: bytes, where: str | None = None) -> dict:
    """Like :func:`from_line`, and the line must be exactly :func:`to_line`
    of its record (sorted keys, compact, normalised values).

    Snapshot lines are canonical, so equal records are equal lines: that is
    what lets a merge or a diff compare lines as bytes and parse only the
    lines that differ.  A valid record written any other way is refused.
    """
    fast = _fast_line(line)
    if fast is not None:
        return fast
    record = from_line(line, where)  # raises the precise error when invalid
    if to_line(record) != line + b"\n":
        raise ValidationError("line is not in canonical form (sorted keys, compact JSON, normalised values, "
                              "as attgit writes it)", where)
    return record


_FIELD_SET = frozenset(FIELDS)
#: The fields in the order a canonical line holds them (sorted).
_SORTED_FIELDS = tuple(sorted(FIELDS))
_TEXT_FIELDS = ("ep_no", "ep_name", "company", "shift", "status", "overstay")
#: field -> text values already accepted there (str only, so 1 never passes for "1"):
#: names, shifts and companies repeat on every line, and a set lookup is
#: several times cheaper than the checks it stands for
_SEEN_TEXT: dict[str, set] = {name: set() for name in _TEXT_FIELDS}


def _fast_line(line: bytes):
    """The record of a canonical line whose checksum is right, else None.

    Run once per line of every blob a clone or a merge parses, so it is
    written for speed: orjson keeps the line's key order, so one tuple
    comparison checks the field set and its sorted order, and re-encoding
    without sorting must then give the body back byte for byte."""
    if not line.startswith(_LINE_HEAD) or line[77:79] != b'",':
        return None
    body = b"{" + line[79:].rstrip(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != line[13:77]:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or tuple(data) != _SORTED_FIELDS:
        return None
    for name in _TEXT_FIELDS:
        value = data[name]
        if value not in _SEEN_TEXT[name] and not _text_ok(name, value):
            return None
    in_time, out_time = data["in_time"], data["out_time"]
    if not (data["date"] in _SEEN_DATES or _known_str(data["date"], _SEEN_DATES, _valid_date)) \
            or not (in_time is None or in_time in _SEEN_TIMES or _known_str(in_time, _SEEN_TIMES, _valid_time)) \
            or not (out_time is None or out_time in _SEEN_TIMES or _known_str(out_time, _SEEN_TIMES, _valid_time)) \
            or orjson.dumps(data) != body:
        return None
    return data


def _known_str(value, seen: set, check) -> bool:
    return type(value) is str and _known(value, seen, check)


def _text_ok(name: str, value) -> bool:
    """A text field's value as normalise leaves it (a str, trimmed, no NUL,
    not too long, a known status, a non-empty key part); remembered once
    accepted."""
    if type(value) is not str or value != value.strip() or "\x00" in value or len(value) > MAX_LENGTHS[name]:
        return False
    if (name == "status" and value not in _STATUS_SET) or (name in ("ep_no", "company") and not value):
        return False
    seen = _SEEN_TEXT[name]
    if len(seen) > _SEEN_LIMIT:
        seen.clear()
    seen.add(value)
    return True


def verify_checksum(record: Mapping[str, Any], stored: Any, where: str | None) -> None:
    """Raise ChecksumMismatch unless ``stored`` is the record's checksum."""
    got = checksum(record)
    if stored != got:
        raise ChecksumMismatch(str(stored), got, where)


def describe_key(k: Key) -> str:
    """A key as a person reads it: ``EMP001 @ ABC Corp on 2025-11-20``."""
    return f"{k[0]} @ {k[1]} on {k[2]}"


# --- companies -----------------------------------------------------------

def company_checksum(name: str) -> str:
    """A company's checksum: the SHA-256 of ``{"name": name}`` (the same in
    companies.jsonl and in the backup file)."""
    return hashlib.sha256(orjson.dumps({"name": name})).hexdigest()


def company_line(name: str) -> bytes:
    """A line of companies.jsonl: the name and its checksum."""
    body = orjson.dumps({"name": name}, option=orjson.OPT_SORT_KEYS)
    return _LINE_HEAD + company_checksum(name).encode() + b'",' + body[1:] + b"\n"


def company_from_line(line: bytes, where: str | None = None) -> str:
    """The company name of a companies.jsonl line, verified."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"not valid JSON: {exc}", where) from None
    if not isinstance(data, dict) or set(data) - {"name", "checksum", "file"}:
        raise ValidationError("a company line holds name and checksum", where)
    name = company_name(data.get("name"), where)
    stored = data.get("checksum")
    got = company_checksum(name)
    if stored != got:
        raise ChecksumMismatch(str(stored), got, where)
    return name


def company_name(value: Any, where: str | None = None) -> str:
    """A valid company name (stripped, 1 to 255 characters), or raise."""
    return _text({"company": value}, "company", where, required=True)


# --- what makes a stored row committable ----------------------------------

#: Every character ``str.strip()`` removes (``str.isspace``): the database
#: constraints refuse text that starts or ends with one of them, so a stored
#: value is always its own canonical form.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Stored values whose surrounding whitespace would change the key or the
#: order of lines (the rest are trimmed on the way in, harmlessly).
KEY_TEXT_FIELDS = ("ep_no", "company")


def row_problems(row) -> list[str]:
    """Everything wrong with one stored row (FIELDS order), field by field;
    empty when the row reads as exactly one record.

    :func:`from_db_row` stops at the first problem; this names them all, so
    a person fixing the row fixes it once.  The company is not checked here:
    :func:`company_problems` names a bad company name once, not per row.
    """
    raw = dict(zip(FIELDS, row))
    checks: list[tuple[str, Callable[[], object]]] = [
        (f, functools.partial(_text, raw, f, None, required=f in KEY_TEXT_FIELDS)) for f in _TEXT_FIELDS
        if f not in ("status", "company")]
    checks += [("date", functools.partial(_date, raw, None)), ("status", functools.partial(_status, raw, None)),
               ("in_time", functools.partial(_time, raw, "in_time", None)),
               ("out_time", functools.partial(_time, raw, "out_time", None))]
    problems = []
    for name, check in checks:
        try:
            check()
        except ValidationError as exc:
            problems.append(exc.message)
            continue
        value = raw[name]
        if name in KEY_TEXT_FIELDS and isinstance(value, str) and value != value.strip():
            problems.append(f"field {name!r} has surrounding spaces: {value!r}")
    return problems


def company_problems(name: Any) -> list[str]:
    """What is wrong with a stored company name (empty when it is valid and
    already its own canonical form)."""
    try:
        canonical = company_name(name)
    except ValidationError as exc:
        return [exc.message]
    return [] if canonical == name else [f"the company name has surrounding spaces: {name!r}"]


# --- field validators ----------------------------------------------------

def _text(raw: Mapping, field: str, where, required: bool = False) -> str:
    value = raw.get(field)
    if value is None:
        value = ""
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    elif not isinstance(value, str):
        raise ValidationError(f"field {field!r} must be text, not {type(value).__name__}", where)
    value = value.strip()
    if required and not value:
        raise ValidationError(f"field {field!r} is missing or empty", where)
    if len(value) > MAX_LENGTHS[field]:
        raise ValidationError(
            f"field {field!r} is {len(value):,} characters, longer than {MAX_LENGTHS[field]:,}", where
        )
    if "\x00" in value:
        raise ValidationError(f"field {field!r} contains a NUL character", where)
    return value


def _date(raw: Mapping, where) -> str:
    value = raw.get("date")
    if isinstance(value, _dt.datetime):
        raise ValidationError("field 'date' must be a date, not a date-time", where)
    if isinstance(value, _dt.date):
        value = value.isoformat()
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise ValidationError(f"field 'date' must be YYYY-MM-DD, got {value!r}", where)
    try:
        parsed = _dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"field 'date' is not a real date: {value!r}", where) from None
    if not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        raise ValidationError(f"field 'date' is out of range: {value!r}", where)
    return value


def _time(raw: Mapping, field: str, where) -> str | None:
    value = raw.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, _dt.time):
        if value.microsecond:
            raise ValidationError(f"field {field!r} has fractional seconds: {value.isoformat()!r}", where)
        return _format_time(value.hour, value.minute, value.second)
    match = _TIME_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise ValidationError(f"field {field!r} must be HH:MM, got {value!r}", where)
    hour, minute, second = (int(g or 0) for g in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise ValidationError(f"field {field!r} is not a real time: {value!r}", where)
    return _format_time(hour, minute, second)


def _format_time(hour: int, minute: int, second: int) -> str:
    if second:
        return f"{hour:02d}:{minute:02d}:{second:02d}"
    return f"{hour:02d}:{minute:02d}"


def _status(raw: Mapping, where) -> str:
    value = raw.get("status")
    if not isinstance(value, str) or value.strip() not in STATUSES:
        raise ValidationError(
            f"field 'status' must be one of {', '.join(STATUSES)}, got {value!r}", where
        )
    return value.strip()


# --- the fast door for database rows --------------------------------------

_STATUS_SET = frozenset(STATUSES)


def from_db_row(row, where: str | None = None) -> dict:
    """A record from a database row in :data:`FIELDS` order, fast.

    Databases hand back well-typed values (dates as ``date`` or
    ``YYYY-MM-DD`` text, times as ``time`` or ``HH:MM[:SS]`` text), so the
    common case is a few conversions and cheap checks.  Anything unusual
    falls back to :func:`normalise`, which gives the same result or a
    precise error: the two agree on every input, invalid ones included
    (a Hypothesis test holds them to it), so what the fast path accepts
    can always be written to a blob and read back.
    """
    ep_no, ep_name, company, date, shift, status, in_time, out_time, overstay = row
    try:
        record = {
            "ep_no": ep_no.strip(),
            "ep_name": "" if ep_name is None else ep_name.strip(),
            "company": company.strip(),
            "date": date if type(date) is str else date.isoformat(),
            "shift": "" if shift is None else shift.strip(),
            "status": status.strip(),
            "in_time": _db_time(in_time),
            "out_time": _db_time(out_time),
            "overstay": "" if overstay is None else overstay.strip(),
        }
    except (AttributeError, TypeError, ValueError):
        return normalise(dict(zip(FIELDS, row)), where)
    if _has_nul(record) or not _plausible(record):
        return normalise(dict(zip(FIELDS, row)), where)
    return record


def _has_nul(r: dict) -> bool:
    """Whether a text field holds a NUL, or is not ``str`` at all (bytes
    have ``strip`` too, yet are no text: :func:`normalise` refuses them)."""
    return any(type(r[name]) is not str or "\x00" in r[name] for name in _TEXT_FIELDS)


def _db_time(value) -> str | None:
    """A database time as canonical text, or raise ValueError for anything
    unusual (the caller then asks :func:`normalise`).  Only exactly
    ``HH:MM`` or ``HH:MM:SS`` text is taken here: ``09:00:00xyz`` or
    ``09:00:00.5`` must not lose their tail on the fast path."""
    if value is None or value == "":
        return None
    if type(value) is str:
        if len(value) == 5 and value[2] == ":":
            return value
        if len(value) == 8 and value[2] == ":" and value[5] == ":":
            return value[:5] if value[6:8] == "00" else value
        raise ValueError(value)
    if type(value) is not _dt.time or value.microsecond:  # a datetime is no time to normalise either
        raise ValueError(value)
    return _format_time(value.hour, value.minute, value.second)


_SEEN_DATES: set = set()
_SEEN_TIMES: set = set()
_SEEN_LIMIT = 200_000  # distinct values remembered (days of ~500 years; every minute)


def _plausible(r: dict) -> bool:
    """Cheap checks that make the fast path agree with :func:`normalise`.

    Dates and times repeat endlessly in attendance data, so each distinct
    value is validated once and remembered.
    """
    if not (
        r["status"] in _STATUS_SET
        and r["ep_no"] != ""
        and r["company"] != ""
        and len(r["ep_no"]) <= 32
        and len(r["ep_name"]) <= 128
        and len(r["company"]) <= 255
        and len(r["shift"]) <= 32
        and len(r["overstay"]) <= 16
    ):
        return False
    return (
        _known(r["date"], _SEEN_DATES, _valid_date)
        and (r["in_time"] is None or _known(r["in_time"], _SEEN_TIMES, _valid_time))
        and (r["out_time"] is None or _known(r["out_time"], _SEEN_TIMES, _valid_time))
    )


def _known(value, seen: set, check) -> bool:
    if value in seen:
        return True
    if not check(value):
        return False
    if len(seen) > _SEEN_LIMIT:
        seen.clear()
    seen.add(value)
    return True


def _valid_date(value) -> bool:
    try:
        return _date({"date": value}, None) == value
    except ValidationError:
        return False


def _valid_time(value) -> bool:
    try:
        return _time({"t": value}, "t", None) == value
    except ValidationError:
        return False


# --- database rows straight to snapshot lines ------------------------------

#: The canonical body (what :func:`canonical_bytes` gives) with its keys in
#: sorted order, each value a JSON fragment; a row's FIELDS order differs.
_BODY = (b'{"company":%b,"date":%b,"ep_name":%b,"ep_no":%b,"in_time":%b,"out_time":%b,'
         b'"overstay":%b,"shift":%b,"status":%b}')
#: Fields whose cached raw value must BE its canonical value: they are the
#: key and the order of lines, compared raw on the fast path.
_RAW_IS_CANONICAL = frozenset(("company", "date", "ep_no"))
#: raw value -> JSON fragment of its canonical value, per field; only str
#: (and None) raw values are remembered, so the cache never confuses 1 and "1".
_FRAGMENTS: dict[str, dict] = {name: {} for name in FIELDS}
_FRAGMENTS_LIMIT = 200_000


def encode_rows(company: str, rows: Iterable) -> tuple[bytes, int]:
    """The blob of one company from its database rows (FIELDS order, sorted
    by (date, ep_no)) and its count: exactly
    ``snapshot.encode_company(company, map(from_db_row, rows))``, errors
    included, at a fraction of its cost.

    Attendance values repeat endlessly (a few statuses and shifts, an
    employee's name on every day), so each distinct raw value of a field is
    turned into its canonical JSON once, through :func:`from_db_row`, and
    remembered; a row whose values are all known is one string format and
    one SHA-256.  Any unknown value sends its row through
    :func:`from_db_row` whole, which validates it (or raises) and teaches
    the cache its values.  Validity is field by field, so a value known
    good in one row is good in every row.
    """
    f = _FRAGMENTS
    ep_nos, names, companies, dates = f["ep_no"], f["ep_name"], f["company"], f["date"]
    shifts, statuses, ins, outs, overstays = f["shift"], f["status"], f["in_time"], f["out_time"], f["overstay"]
    sha256, head, previous = hashlib.sha256, _LINE_HEAD, None
    parts: list = []
    for row in rows:
        try:
            ep_no, ep_name, name, date, shift, status, in_time, out_time, overstay = row
            if name != company:
                raise KeyError(name)
            body = _BODY % (companies[name], dates[date], names[ep_name], ep_nos[ep_no], ins[in_time],
                            outs[out_time], overstays[overstay], shifts[shift], statuses[status])
            order = (date, ep_no)
        except (KeyError, TypeError, ValueError):
            body, order = _encode_slowly(company, row)
        if previous is not None and order <= previous:
            raise ValidationError("records out of order or repeated", describe_key((order[1], company, order[0])))
        previous = order
        parts += (head, sha256(body).hexdigest().encode(), b'",', body[1:], b"\n")
    return b"".join(parts), len(parts) // 5


def _encode_slowly(company: str, row) -> tuple[bytes, tuple]:
    """The canonical body and order of one row through :func:`from_db_row`
    (raising as it does), remembering its values for the fast path."""
    record = from_db_row(row)
    if record["company"] != company:
        raise ValidationError(f"record of company {record['company']!r} in the file of {company!r}",
                              describe_key(key(record)))
    _remember(row, record)
    return canonical_bytes(record), sort_key(record)


def _remember(row, record: dict) -> None:
    for name, raw in zip(FIELDS, row):
        if not (raw is None or type(raw) is str):
            continue
        value = record[name]
        if name in _RAW_IS_CANONICAL and value != raw:
            continue
        cache = _FRAGMENTS[name]
        if len(cache) >= _FRAGMENTS_LIMIT:
            cache.clear()
        cache[raw] = orjson.dumps(value)
