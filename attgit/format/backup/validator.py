"""Validation of a backup file, item by item: metadata, companies, records,
checksums, duplicate keys, and the metadata's counts at the end.

Every problem is a ValidationError that names the place (record number,
key, field).  Problems in items are collected, not raised at the first, so
one reading lists them all (the first :data:`MAX_PROBLEMS`, and how many
more); a file whose structure is broken (not JSON, no metadata object)
stops at once, since nothing after it can be placed.  A valid file pays
nothing for this: the lists stay empty.
"""


from __future__ import annotations

import datetime as _dt
from typing import Any, Callable, Optional

import orjson

from attgit.errors import ChecksumMismatch, Problems, ValidationError
from attgit.format import records as rec
from attgit.format.backup.common import (
    _SORT_KEYS,
    BACKUP_TYPES,
    COMPANY_KEYS,
    ERROR_MESSAGES,
    FILE_FIELDS,
    IGNORED_RECORD_KEYS,
    MAX_STRING,
    RECORD_KEYS,
    REQUIRED_METADATA,
    REQUIRED_RECORD_KEYS,
    SUPPORTED_VERSIONS,
    _Canon,
    _dumps,
    _fail,
    _prefixed,
    _sha256,
    _short,
)
from attgit.format.backup.spool import _Spool

#: Problems listed one by one; beyond this they are only counted.
MAX_PROBLEMS = 100


class _Validator:
    """Checks each part of a backup file as a parser hands it over, and
    spools the records.  Parser-independent: the fast line reader and the
    streaming fallback call the same methods, in document order."""

    def __init__(self, spool: _Spool, progress: Optional[Callable[[int, int], None]] = None):
        self.spool = spool
        self.progress = progress
        self.canon = _Canon("company_name")
        self.metadata: Optional[dict] = None
        self.companies: dict = {}  # name -> created_at (aware datetime or None)
        self.company_entries = 0
        self.record_count = 0
        self.seen_keys: set = set()  # hash() of each key; a hit is checked exactly later
        self.suspects: list = []  # (record number, key) whose hash was seen before
        self.warnings: list = []
        self.problems: list = []  # the first MAX_PROBLEMS ValidationErrors
        self.problem_count = 0
        self.in_section: Optional[str] = None  # the top-level key being read (for messages)
        self.broken_at: Optional[tuple] = None  # (byte offset, item) where an item line's JSON broke

    def problem(self, exc: ValidationError) -> None:
        """Note a problem and go on reading."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(exc)

    # metadata ------------------------------------------------------------------
    def on_metadata(self, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise _fail("missing_metadata", f"'metadata' must be an object, not {_kind(obj)}")
        self.metadata = obj
        for name, kind in REQUIRED_METADATA.items():
            if name not in obj:
                self.problem(_fail("missing_metadata", f"field {name!r} is missing", "metadata"))
            elif type(obj[name]) is not kind:
                self.problem(_fail("invalid_schema", f"field {name!r} must be {_kind_name(kind)}, "
                                   f"not {_kind(obj[name])}", "metadata"))
        for name, value in obj.items():
            self._try(_check_scalar, value, name, "metadata")
        for check in _METADATA_CHECKS:
            self._try(check, obj)

    def _try(self, check: Callable, *args) -> bool:
        """Run one check; a failure is noted as a problem.  True if it passed."""
        try:
            check(*args)
        except ValidationError as exc:
            self.problem(exc)
            return False
        return True

    # companies -----------------------------------------------------------------
    def on_company(self, obj: Any) -> None:
        self.company_entries += 1
        self._try(self._company, obj, f"company {self.company_entries}")

    def _company(self, obj: Any, where: str) -> None:
        if not isinstance(obj, dict):
            raise _fail("invalid_schema", f"a company must be an object, not {_kind(obj)}", where)
        _check_keys(obj, COMPANY_KEYS, ("name", "checksum"), where)
        for name, value in obj.items():
            _check_scalar(value, name, where)
        name = _company_name(obj["name"], where)
        where = f"{where} ({name})"
        _check_company_checksum(name, obj["checksum"], where)
        if obj.get("id") is not None and type(obj["id"]) is not int:
            raise _fail("invalid_schema", f"field 'id' must be an integer, "
                        f"not {_kind(obj['id'])}", where)
        if name in self.companies:
            raise _fail("invalid_schema", f"company {name!r} is listed twice", where)
        self.companies[name] = _optional_datetime(obj.get("created_at"), "created_at", where)

    # records -------------------------------------------------------------------
    def on_record(self, obj: Any) -> None:
        self.record_count = n = self.record_count + 1
        # quick() fetches the 9 fields: with "checksum" and 10 keys in all,
        # the keys are exactly RECORD_KEYS.
        record = None
        if type(obj) is dict and len(obj) == 10 and "checksum" in obj:
            record = self.canon.quick(obj)
        if record is None:
            try:
                record = self._full(obj, n)
            except ValidationError as exc:
                for one in exc.problems:
                    self.problem(one)
                return
        body = _dumps(record, option=_SORT_KEYS)  # records.canonical_bytes, inlined
        stored = obj["checksum"]
        if _sha256(body).hexdigest() != stored:
            self.problem(self._checksum_error(record, stored, n))
            return
        k = (record["ep_no"], record["company"], record["date"])
        h = hash(k)
        if h in self.seen_keys:
            self.suspects.append((n, k))
        else:
            self.seen_keys.add(h)
        self.spool.add(k[1], body)
        if self.progress is not None and n % 1000 == 0:
            self.progress(n, self._expected_total())

    def _full(self, obj: Any, n: int) -> dict:
        """The careful path: shape, then normalise, with precise messages
        (every faulty field of the record, as Problems when more than one)."""
        where = _record_where(n, obj)
        if not isinstance(obj, dict):
            raise _fail("invalid_schema", f"a record must be an object, not {_kind(obj)}", where)
        _check_keys(obj, RECORD_KEYS | IGNORED_RECORD_KEYS, REQUIRED_RECORD_KEYS, where)
        problems = []
        for name in (*FILE_FIELDS, "checksum"):
            value = obj.get(name)
            if value is not None and type(value) is not str:
                problems.append(_fail("invalid_schema", f"field {name!r} must be text, "
                                      f"not {_kind(value)}", where))
                continue
            _collect(problems, _check_scalar, value, name, where)
        for name in sorted(IGNORED_RECORD_KEYS & obj.keys()):
            _collect(problems, _check_scalar, obj[name], name, where)
        if not problems:
            try:
                return self.canon.full(obj, where)
            except ValidationError:
                problems = _field_problems(obj, where)
        raise problems[0] if len(problems) == 1 else Problems(problems)

    def _checksum_error(self, record: dict, stored: Any, n: int) -> ValidationError:
        where = f"record {n}: {rec.describe_key(rec.key(record))}"
        shown = stored if isinstance(stored, str) and len(stored) <= 70 else _short(stored, 70)
        return _prefixed(ChecksumMismatch(shown, rec.checksum(record), where), "checksum_mismatch")

    def _expected_total(self) -> int:
        total = (self.metadata or {}).get("total_attendance_records", 0)
        return total if type(total) is int else 0

    # the end ---------------------------------------------------------------------
    def finish(self) -> None:
        """Checks that need the whole file: presence, counts, duplicates."""
        if self.metadata is None:
            raise _fail("missing_metadata", "there is no 'metadata' object")
        self.spool.flush()
        self._check_counts(self.metadata)
        self._check_duplicates()
        self._warn_unlisted_companies()
        if self.problems:
            raise self.problems[0] if self.problem_count == 1 else Problems(self.problems, self.problem_count)

    def _check_counts(self, meta: dict) -> None:
        for name, found, what in (
            ("total_companies", self.company_entries, "companies"),
            ("total_attendance_records", self.record_count, "attendance records"),
        ):
            if type(meta.get(name)) is int and meta[name] != found:
                self.problem(_fail("count_mismatch", f"metadata says {meta[name]} {what}, "
                            f"the file holds {found}", f"metadata.{name}"))

    def _check_duplicates(self) -> None:
        """Confirm each suspected duplicate exactly, one company at a time."""
        by_company: dict = {}
        for n, k in self.suspects:
            by_company.setdefault(k[1], []).append((n, k))
        for company, suspects in by_company.items():
            wanted = {k for _, k in suspects}
            found: dict[tuple, int] = {}
            for line in self.spool.lines(company):
                r = orjson.loads(line)
                k = (r["ep_no"], r["company"], r["date"])
                if k in wanted:
                    found[k] = found.get(k, 0) + 1
            for n, k in suspects:
                if found.get(k, 0) > 1:
                    self.problem(_fail("duplicate_record", f"the key {rec.describe_key(k)} appears again",
                                       f"record {n}"))
        self.seen_keys = set()

    def _warn_unlisted_companies(self) -> None:
        unlisted = sorted(set(self.spool.files) - set(self.companies))
        if unlisted:
            shown = ", ".join(f"{c!r} ({self.spool.counts[c]:,} record{'' if self.spool.counts[c] == 1 else 's'})" for c in unlisted[:10])
            more = f" and {len(unlisted) - 10:,} more" if len(unlisted) > 10 else ""
            self.warnings.append(
                f"{ERROR_MESSAGES['company_mismatch']}: {shown}{more} "
                "are not in the file's company list and will be created"
            )


#: A valid value for each field: a faulty record's fields are checked one at a
#: time against it, so every faulty field is named, not only the first.
_VALID = {"ep_no": "x", "ep_name": "", "company": "x", "date": "2000-01-01", "shift": "",
          "status": "P", "in_time": None, "out_time": None, "overstay": ""}


def _field_problems(obj: dict, where: str) -> list:
    """One problem per field that :func:`records.normalise` refuses."""
    problems: list = []
    for field_name in rec.FIELDS:
        value = obj.get("company_name" if field_name == "company" else field_name)
        _collect(problems, rec.normalise, {**_VALID, field_name: value}, where)
    return [_prefixed(p, "invalid_schema") for p in problems] or [
        _fail("invalid_schema", "the record is not valid", where)]


def _collect(problems: list, check: Callable, *args) -> None:
    try:
        check(*args)
    except ValidationError as exc:
        problems.append(exc)


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


_KINDS = {dict: "an object", list: "a list", str: "text", bool: "true/false",
          int: "a number", float: "a number", type(None): "null"}


def _kind_name(kind: type) -> str:
    return {str: "text", int: "an integer"}[kind]


def _check_keys(obj: dict, allowed: frozenset, required: tuple, where: str) -> None:
    unknown = sorted(str(k) for k in obj.keys() - allowed)
    if unknown:
        raise _fail("invalid_schema", f"unknown field(s) {', '.join(map(_short, unknown))}", where)
    missing = [k for k in required if k not in obj]
    if missing:
        raise _fail("invalid_schema", f"field(s) {', '.join(missing)} missing", where)


def _check_scalar(value: Any, name: str, where: str) -> None:
    """No containers, no absurd strings or numbers, where a value belongs."""
    if isinstance(value, (dict, list)):
        raise _fail("invalid_schema", f"field {_short(name)} must not be {_kind(value)}", where)
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise _fail("invalid_schema", f"field {_short(name)} is {len(value):,} characters long",
                    where)
    if isinstance(value, float) and not abs(value) < 1e18:
        raise _fail("invalid_schema", f"field {_short(name)} holds an absurd number", where)
    if type(value) is int and not -(2**63) < value < 2**63:  # ijson refuses -2**63 too
        raise _fail("invalid_schema", f"field {_short(name)} holds an absurd number", where)


def _check_version(meta: dict) -> None:
    if "version" in meta and meta["version"] not in SUPPORTED_VERSIONS:
        raise _fail("unsupported_version", f"version {_short(meta['version'])}; this attgit reads "
                    f"{', '.join(SUPPORTED_VERSIONS)}", "metadata")


def _check_backup_type(meta: dict) -> None:
    if "backup_type" in meta and meta["backup_type"] not in BACKUP_TYPES:
        raise _fail("invalid_schema", f"backup_type must be one of {', '.join(BACKUP_TYPES)}, "
                    f"got {_short(meta['backup_type'])}", "metadata")


def _check_totals(meta: dict) -> None:
    for name in ("total_companies", "total_attendance_records"):
        if type(meta.get(name)) is int and meta[name] < 0:
            raise _fail("invalid_schema", f"field {name!r} must not be negative", "metadata")


def _check_created_at(meta: dict) -> None:
    if type(meta.get("created_at")) is str:
        _optional_datetime(meta["created_at"], "created_at", "metadata")


def _check_since(meta: dict) -> None:
    since = meta.get("since")
    if since is not None:
        if type(since) is not str:
            raise _fail("invalid_schema", f"field 'since' must be text, not {_kind(since)}",
                        "metadata")
        _optional_datetime(since, "since", "metadata")


_METADATA_CHECKS = (_check_version, _check_backup_type, _check_totals, _check_created_at, _check_since)


def _optional_datetime(value: Any, name: str, where: str) -> Optional[_dt.datetime]:
    """An ISO 8601 date or date-time (aware, UTC if no zone), or None."""
    if value is None:
        return None
    try:
        if type(value) is not str:
            raise ValueError
        moment = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise _fail("invalid_schema", f"field {name!r} must be an ISO 8601 date-time, "
                    f"got {_short(value)}", where) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def _company_name(value: Any, where: str) -> str:
    if type(value) is not str:
        raise _fail("invalid_schema", f"field 'name' must be text, not {_kind(value)}", where)
    try:
        return rec.company_name(value, where)
    except ValidationError as exc:
        raise _prefixed(exc, "invalid_schema") from None


def _check_company_checksum(name: str, stored: Any, where: str) -> None:
    got = rec.company_checksum(name)
    if stored != got:
        raise _prefixed(ChecksumMismatch(_short(stored, 70), got, where), "checksum_mismatch")


def _record_where(n: int, obj: Any) -> str:
    """"record N" and, when the raw key is readable, the key."""
    if isinstance(obj, dict):
        parts = [obj.get(f) for f in ("ep_no", "company_name", "date")]
        if all(type(p) is str and len(p) <= 255 for p in parts):
            return f"record {n}: {rec.describe_key(tuple(parts))}"
    return f"record {n}"
