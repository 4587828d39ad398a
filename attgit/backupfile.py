"""The design document's JSON backup file: written streaming, read and
validated whole, in bounded memory, before anything may touch a database.

The file (version 1.0)::

    {"metadata": {"version": "1.0", "created_at": "2025-11-25T10:30:00Z",
                  "backup_type": "full" | "incremental", "since": ... (incremental only),
                  "total_companies": 5, "total_attendance_records": 1500,
                  "created_by": "root"},
     "companies": [{"id": 1, "name": "ABC Corp", "created_at": "...Z", "checksum": "..."}],
     "attendance_records": [{"ep_no": ..., "ep_name": ..., "company_name": ...,
                             "date": ..., "shift": ..., "status": ..., "in_time": ...,
                             "out_time": ..., "overstay": ..., "checksum": ...}]}

- A record's ``company_name`` is the canonical record's ``company``; its
  checksum is :func:`attgit.records.checksum` of the canonical record, so a
  backup and a snapshot agree on every record's identity.  Checksums are
  required: a record or company without its checksum is rejected (a file
  that cannot prove its content is not restored).
- A company's checksum is the SHA-256 of ``{"name": name}`` (as in
  ``companies.jsonl``).  Its ``id`` is the company's position in the file:
  database ids never travel between environments.  ``created_at`` is
  informative (timestamps are not content).
- :func:`write_backup` puts one record per line, which lets
  :func:`read_backup` parse line by line with orjson (the fast path); any
  other formatting of the same JSON (indented, one single line, keys in
  another order) is read by a streaming parser (ijson) instead.
- Records may carry ``created_at``/``updated_at``/``id``, which are ignored;
  any other unknown field is an error, so a misspelt field never silently
  loses data.  Unknown metadata fields (scalars) and unknown top-level keys
  are ignored, the latter with a warning.

Reading validates everything (JSON, structure, metadata, every company and
record, checksums, duplicate keys, metadata counts) while spooling records
into one temporary file per company; :class:`BackupFile` then hands out one
company at a time.  Every rejection is a ValidationError whose message
starts with one of :data:`ERROR_MESSAGES` and names the place.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import io
import operator
import os
import shutil
import tempfile
import weakref
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping, NamedTuple, Optional, Union

import ijson
import orjson

from . import records as rec
from .errors import ChecksumMismatch, NotFound, UsageError, ValidationError

FORMAT_VERSION = "1.0"
SUPPORTED_VERSIONS = ("1.0",)
BACKUP_TYPES = ("full", "incremental")

#: User-facing messages: the design document's, then attgit's own in the same
#: voice.  Every rejection's message starts with one of them.
ERROR_MESSAGES = {
    "invalid_json": "The uploaded file is not valid JSON",
    "missing_metadata": "Backup file is missing required metadata",
    "invalid_schema": "Backup file structure does not match expected format",
    "company_mismatch": "Some records reference non-existent companies",
    "database_error": "Database error occurred during restore",
    "permission_denied": "Only root users can perform backup/restore operations",
    "unsupported_version": "Backup file version is not supported",
    "checksum_mismatch": "Backup file content does not match its checksum",
    "duplicate_record": "Backup file contains the same record twice",
    "count_mismatch": "Backup file metadata counts do not match its content",
    "too_large": "Backup file is larger than the allowed size",
    "unreadable": "Backup file cannot be read",
}

#: A record's fields in the file, in the order the design document lists them.
FILE_FIELDS = tuple("company_name" if f == "company" else f for f in rec.FIELDS)
RECORD_KEYS = frozenset((*FILE_FIELDS, "checksum"))
REQUIRED_RECORD_KEYS = ("ep_no", "company_name", "date", "status", "checksum")
IGNORED_RECORD_KEYS = frozenset(("created_at", "updated_at", "id"))
COMPANY_KEYS = frozenset(("id", "name", "created_at", "checksum"))
REQUIRED_METADATA = {
    "version": str,
    "created_at": str,
    "backup_type": str,
    "total_companies": int,
    "total_attendance_records": int,
    "created_by": str,
}

MAX_STRING = 1024  # characters: far above any field's limit, far below harm
MAX_DEPTH = 8  # a valid file nests 3 deep (document, list, record)
_MAX_LINE = 1 << 20  # a longer line is not the one-record-per-line layout
_KNOWN_CAP = 200_000  # distinct values remembered per field by the fast check
_JSON_WS = b" \t\r\n"
_dumps, _SORT_KEYS, _sha256 = orjson.dumps, orjson.OPT_SORT_KEYS, hashlib.sha256


class BackupSummary(NamedTuple):
    companies: int
    records: int
    bytes: int


# --- errors -------------------------------------------------------------------


def _fail(kind: str, detail: str, where: Optional[str] = None) -> ValidationError:
    return ValidationError(f"{ERROR_MESSAGES[kind]}: {detail}", where)


def _prefixed(exc: ValidationError, kind: str) -> ValidationError:
    """The same error (class, ``where``, ``expected``/``got``) with the
    user-facing message in front."""
    exc.message = f"{ERROR_MESSAGES[kind]}: {exc.message}"
    exc.args = (f"{exc.message} ({exc.where})" if exc.where else exc.message,)
    return exc


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- canonical records, fast ----------------------------------------------------


class _Canon:
    """Turns raw records into canonical ones, fast when they already are.

    Each field's validity does not depend on the others, so a value once
    seen to be canonical (``normalise`` returned it unchanged) is accepted
    again by a set lookup.  Anything unseen goes through
    :func:`records.normalise`, which gives the result or a precise error.
    """

    def __init__(self, company_field: str):
        self.names = tuple(company_field if f == "company" else f for f in rec.FIELDS)
        self.values = operator.itemgetter(*self.names)
        self.known = tuple(set() for _ in rec.FIELDS)

    def quick(self, raw: Mapping) -> Optional[dict]:
        """The canonical record if every value is known canonical, else None."""
        try:
            v = self.values(raw)
            k = self.known
            if (
                v[5] in k[5] and v[3] in k[3] and v[0] in k[0] and v[2] in k[2] and v[1] in k[1]
                and v[4] in k[4] and v[6] in k[6] and v[7] in k[7] and v[8] in k[8]
            ):
                return dict(zip(rec.FIELDS, v))
        except (KeyError, TypeError):
            pass
        return None

    def full(self, raw: Mapping, where: Optional[str]) -> dict:
        """Validate through :func:`records.normalise` and learn the values."""
        record = rec.normalise(_as_company(raw, self.names[2]), where)
        for i, name in enumerate(self.names):
            value = raw.get(name, self)
            known = self.known[i]
            if type(value) is type(record[rec.FIELDS[i]]) and value == record[rec.FIELDS[i]]:
                if len(known) < _KNOWN_CAP:
                    known.add(value)
        return record

    def __call__(self, raw: Mapping, where: Optional[str]) -> dict:
        return self.quick(raw) or self.full(raw, where)


def _as_company(raw: Mapping, company_field: str) -> dict:
    data = {f: raw.get(f) for f in FILE_FIELDS}
    data["company"] = raw.get(company_field)
    del data["company_name"]
    return data


# --- writing --------------------------------------------------------------------


def write_backup(
    out: BinaryIO,
    companies: Iterable[Union[Mapping, str]],
    records: Iterable[Mapping],
    *,
    backup_type: str,
    created_by: str,
    created_at: Optional[_dt.datetime] = None,
    since: Union[_dt.date, _dt.datetime, str, None] = None,
) -> BackupSummary:
    """Write a backup file to the binary stream ``out``, streaming.

    ``companies`` are {"name", "created_at"} (a datetime or None) or plain
    names; ``records`` canonical records with unique keys (anything
    :func:`records.normalise` accepts is normalised).  A company referenced
    only by records is added to the company list.  Records are spooled to a
    temporary file while counted, since the counts come first in the file.
    """
    if backup_type not in BACKUP_TYPES:
        valid = ", ".join(BACKUP_TYPES)
        raise UsageError(f"backup type must be one of {valid}, got {backup_type!r}")
    if not isinstance(created_by, str):
        raise UsageError(f"created_by must be a user name, got {created_by!r}")
    listed = _company_entries(companies)
    with tempfile.TemporaryFile(prefix="attgit-backup-") as spool:
        count, referenced = _spool_records(spool, records)
        for name in sorted(referenced - set(listed)):
            listed[name] = None
        meta = _metadata(backup_type, created_by, created_at, since, len(listed), count)
        written = _write_document(out, meta, listed, spool)
    return BackupSummary(len(listed), count, written)


def _company_entries(companies: Iterable[Union[Mapping, str]]) -> dict:
    """name -> created_at, in the given order; a name given twice is an error."""
    listed: dict = {}
    for n, item in enumerate(companies, 1):
        raw = {"name": item} if isinstance(item, str) else item
        name = rec.company_name(raw.get("name"), f"company {n}")
        if name in listed:
            raise ValidationError(f"company {name!r} is given twice", f"company {n}")
        listed[name] = raw.get("created_at")
    return listed


def _spool_records(spool: BinaryIO, records: Iterable[Mapping]) -> tuple:
    """Write each record's file line to ``spool``; (count, companies seen)."""
    canon, companies, count = _Canon("company"), set(), 0
    write, sep = spool.write, b""
    for count, raw in enumerate(records, 1):
        record = canon(raw, f"record {count}")
        body = rec.canonical_bytes(record)
        companies.add(record["company"])
        write(sep + orjson.dumps(_file_record(record, hashlib.sha256(body).hexdigest())))
        sep = b",\n"
    return count, companies


def _file_record(r: dict, digest: str) -> dict:
    return {
        "ep_no": r["ep_no"],
        "ep_name": r["ep_name"],
        "company_name": r["company"],
        "date": r["date"],
        "shift": r["shift"],
        "status": r["status"],
        "in_time": r["in_time"],
        "out_time": r["out_time"],
        "overstay": r["overstay"],
        "checksum": digest,
    }


def _metadata(backup_type, created_by, created_at, since, companies, records) -> dict:
    meta = {
        "version": FORMAT_VERSION,
        "created_at": _iso_z(created_at or _dt.datetime.now(_dt.timezone.utc)),
        "backup_type": backup_type,
    }
    if backup_type == "incremental":
        meta["since"] = _since_text(since)
    meta["total_companies"] = companies
    meta["total_attendance_records"] = records
    meta["created_by"] = created_by
    return meta


def _iso_z(moment: _dt.datetime) -> str:
    """ISO 8601 in UTC with a Z; a naive datetime is taken to be UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def _since_text(since) -> Optional[str]:
    if since is None or isinstance(since, str):
        return since
    if isinstance(since, _dt.datetime):
        return _iso_z(since)
    return since.isoformat()


def _company_line(n: int, name: str, created_at) -> bytes:
    digest = hashlib.sha256(orjson.dumps({"name": name})).hexdigest()
    if isinstance(created_at, _dt.datetime):
        when = _iso_z(created_at)
    else:  # None, or an ISO text the reader will accept
        _optional_datetime(created_at, "created_at", f"company {n} ({name})")
        when = created_at
    return orjson.dumps({"id": n, "name": name, "created_at": when, "checksum": digest})


def _write_document(out: BinaryIO, meta: dict, companies: dict, spool: BinaryIO) -> int:
    """Metadata line, one line per company, then the spooled record lines."""
    lines = [_company_line(n, name, when) for n, (name, when) in enumerate(companies.items(), 1)]
    head = b"".join([
        b'{"metadata":', orjson.dumps(meta), b",\n",
        b'"companies":[\n', b",\n".join(lines), b"\n" if lines else b"", b"],\n",
        b'"attendance_records":[\n',
    ])
    size = spool.tell()
    tail = b"\n]}\n" if size else b"]}\n"
    out.write(head)
    spool.seek(0)
    shutil.copyfileobj(spool, out, 1 << 20)
    out.write(tail)
    return len(head) + size + len(tail)


# --- the spool: validated records, one file per company ----------------------------


class _Spool:
    """Validated records as canonical JSON lines, one temporary file per
    company, written through bounded buffers."""

    FLUSH_BYTES = 8 << 20

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="attgit-backup-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.dir, True)
        self.files: dict = {}  # company -> file name
        self.counts: dict = {}  # company -> records
        self.buffers: dict = {}
        self.pending: dict = {}  # company -> lines buffered, not yet counted
        self.buffered = 0

    def add(self, company: str, line: bytes) -> None:
        """Buffer one line (without its newline); counts are exact after flush().

        Lines are copied into one bytearray per company: holding orjson's
        own result objects would keep a 4 KiB allocation per record alive.
        """
        buffer = self.buffers.get(company)
        if buffer is None:
            buffer = self._buffer(company)
        buffer += line
        buffer += b"\n"
        self.pending[company] = self.pending.get(company, 0) + 1
        self.buffered += len(line) + 1
        if self.buffered > self.FLUSH_BYTES:
            self.flush()

    def _buffer(self, company: str) -> bytearray:
        if company not in self.files:
            self.files[company] = f"{len(self.files):06d}.jsonl"
            self.counts[company] = 0
        buffer = self.buffers[company] = bytearray()
        return buffer

    def flush(self) -> None:
        for company, data in self.buffers.items():
            with open(os.path.join(self.dir, self.files[company]), "ab") as fh:
                fh.write(data)
            self.counts[company] += self.pending.get(company, 0)
        self.buffers.clear()
        self.pending.clear()
        self.buffered = 0

    def lines(self, company: str) -> Iterator[bytes]:
        name = self.files.get(company)
        if name is None:
            return
        with open(os.path.join(self.dir, name), "rb") as fh:
            yield from fh

    def close(self) -> None:
        self.buffers.clear()
        self._cleanup()


# --- reading: one validator, two parsers ---------------------------------------------


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

    # metadata ------------------------------------------------------------------
    def on_metadata(self, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise _fail("missing_metadata", f"'metadata' must be an object, not {_kind(obj)}")
        for name, kind in REQUIRED_METADATA.items():
            if name not in obj:
                raise _fail("missing_metadata", f"field {name!r} is missing", "metadata")
            if type(obj[name]) is not kind:
                raise _fail("invalid_schema", f"field {name!r} must be {_kind_name(kind)}, "
                            f"not {_kind(obj[name])}", "metadata")
        for name, value in obj.items():
            _check_scalar(value, name, "metadata")
        _check_metadata_values(obj)
        self.metadata = obj

    # companies -----------------------------------------------------------------
    def on_company(self, obj: Any) -> None:
        self.company_entries += 1
        where = f"company {self.company_entries}"
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
        if type(obj) is dict and len(obj) == 10 and "checksum" in obj:
            record = self.canon.quick(obj)
            if record is None:
                record = self._full(obj, n)
        else:
            record = self._full(obj, n)
        body = _dumps(record, option=_SORT_KEYS)  # records.canonical_bytes, inlined
        stored = obj["checksum"]
        if _sha256(body).hexdigest() != stored:
            self._checksum_error(record, stored, n)
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
        """The careful path: shape, then normalise, with precise messages."""
        where = _record_where(n, obj)
        if not isinstance(obj, dict):
            raise _fail("invalid_schema", f"a record must be an object, not {_kind(obj)}", where)
        _check_keys(obj, RECORD_KEYS | IGNORED_RECORD_KEYS, REQUIRED_RECORD_KEYS, where)
        for name in (*FILE_FIELDS, "checksum"):
            value = obj.get(name)
            if value is not None and type(value) is not str:
                raise _fail("invalid_schema", f"field {name!r} must be text, "
                            f"not {_kind(value)}", where)
            _check_scalar(value, name, where)
        for name in sorted(IGNORED_RECORD_KEYS & obj.keys()):
            _check_scalar(obj[name], name, where)
        try:
            return self.canon.full(obj, where)
        except ValidationError as exc:
            raise _prefixed(exc, "invalid_schema") from None

    def _checksum_error(self, record: dict, stored: Any, n: int) -> None:
        where = f"record {n}: {rec.describe_key(rec.key(record))}"
        shown = stored if isinstance(stored, str) and len(stored) <= 70 else _short(stored, 70)
        raise _prefixed(ChecksumMismatch(shown, rec.checksum(record), where), "checksum_mismatch")

    def _expected_total(self) -> int:
        meta = self.metadata or {}
        return meta.get("total_attendance_records", 0)

    # the end ---------------------------------------------------------------------
    def finish(self) -> None:
        """Checks that need the whole file: presence, counts, duplicates."""
        if self.metadata is None:
            raise _fail("missing_metadata", "there is no 'metadata' object")
        self.spool.flush()
        self._check_counts()
        self._check_duplicates()
        self._warn_unlisted_companies()

    def _check_counts(self) -> None:
        meta = self.metadata
        for name, found, what in (
            ("total_companies", self.company_entries, "companies"),
            ("total_attendance_records", self.record_count, "attendance records"),
        ):
            if meta[name] != found:
                raise _fail("count_mismatch", f"metadata says {meta[name]} {what}, "
                            f"the file holds {found}", f"metadata.{name}")

    def _check_duplicates(self) -> None:
        """Confirm each suspected duplicate exactly, one company at a time."""
        by_company: dict = {}
        for n, k in self.suspects:
            by_company.setdefault(k[1], []).append((n, k))
        for company, suspects in by_company.items():
            wanted = {k for _, k in suspects}
            found = {}
            for line in self.spool.lines(company):
                r = orjson.loads(line)
                k = (r["ep_no"], r["company"], r["date"])
                if k in wanted:
                    found[k] = found.get(k, 0) + 1
            for n, k in suspects:
                if found.get(k, 0) > 1:
                    raise _fail("duplicate_record", f"the key {rec.describe_key(k)} appears again",
                                f"record {n}")
        self.seen_keys = set()

    def _warn_unlisted_companies(self) -> None:
        unlisted = sorted(set(self.spool.files) - set(self.companies))
        if unlisted:
            shown = ", ".join(f"{c!r} ({self.spool.counts[c]} records)" for c in unlisted[:10])
            more = f" and {len(unlisted) - 10} more" if len(unlisted) > 10 else ""
            self.warnings.append(
                f"{ERROR_MESSAGES['company_mismatch']}: {shown}{more} "
                "are not in the file's company list and will be created"
            )


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
        raise _fail("invalid_schema", f"field {_short(name)} is {len(value)} characters long",
                    where)
    if isinstance(value, float) and not abs(value) < 1e18:
        raise _fail("invalid_schema", f"field {_short(name)} holds an absurd number", where)
    if type(value) is int and not -(2**63) < value < 2**63:  # ijson refuses -2**63 too
        raise _fail("invalid_schema", f"field {_short(name)} holds an absurd number", where)


def _check_metadata_values(meta: dict) -> None:
    if meta["version"] not in SUPPORTED_VERSIONS:
        raise _fail("unsupported_version", f"version {_short(meta['version'])}; this attgit reads "
                    f"{', '.join(SUPPORTED_VERSIONS)}", "metadata")
    if meta["backup_type"] not in BACKUP_TYPES:
        raise _fail("invalid_schema", f"backup_type must be one of {', '.join(BACKUP_TYPES)}, "
                    f"got {_short(meta['backup_type'])}", "metadata")
    for name in ("total_companies", "total_attendance_records"):
        if meta[name] < 0:
            raise _fail("invalid_schema", f"field {name!r} must not be negative", "metadata")
    _optional_datetime(meta["created_at"], "created_at", "metadata")
    since = meta.get("since")
    if since is not None:
        if type(since) is not str:
            raise _fail("invalid_schema", f"field 'since' must be text, not {_kind(since)}",
                        "metadata")
        _optional_datetime(since, "since", "metadata")


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
    got = hashlib.sha256(orjson.dumps({"name": name})).hexdigest()
    if stored != got:
        raise _prefixed(ChecksumMismatch(_short(stored, 70), got, where), "checksum_mismatch")


def _record_where(n: int, obj: Any) -> str:
    """"record N" and, when the raw key is readable, the key."""
    if isinstance(obj, dict):
        parts = [obj.get(f) for f in ("ep_no", "company_name", "date")]
        if all(type(p) is str and len(p) <= 255 for p in parts):
            return f"record {n}: {rec.describe_key(tuple(parts))}"
    return f"record {n}"


# --- the fast path: one item per line ----------------------------------------------------


class _NotFast(Exception):
    """The file is not in the one-item-per-line layout; use the streaming parser."""


def _read_fast(f: BinaryIO, v: _Validator) -> None:
    """Parse the layout :func:`write_backup` writes, line by line.

    Any deviation raises _NotFast: the streaming parser then decides,
    so this path never rejects valid JSON for its formatting.
    """
    lines = iter(functools.partial(f.readline, _MAX_LINE), b"")
    first = _line(lines)
    if not (first.startswith(b'{"metadata":') and first.endswith(b",")):
        raise _NotFast
    v.on_metadata(_loads(first[12:-1]))
    _expect(lines, b'"companies":[')
    _items(lines, v.on_company, (b"],",))
    _expect(lines, b'"attendance_records":[')
    if _items(lines, v.on_record, (b"]}", b"]")) == b"]":
        _expect(lines, b"}")
    for rest in lines:
        if rest.strip(_JSON_WS):
            raise _NotFast


def _line(lines: Iterator[bytes]) -> bytes:
    raw = next(lines, b"")
    if len(raw) >= _MAX_LINE and not raw.endswith(b"\n"):
        raise _NotFast
    return raw.strip(_JSON_WS)


def _expect(lines: Iterator[bytes], wanted: bytes) -> None:
    if _line(lines) != wanted:
        raise _NotFast


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise _NotFast from None


def _items(lines: Iterator[bytes], handle: Callable[[Any], None], closing: tuple) -> bytes:
    """Hand each item line to ``handle``; return the closing line."""
    loads, comma = orjson.loads, None
    for raw in lines:
        line = raw.strip(_JSON_WS)
        if line in closing:
            if comma:
                raise _NotFast
            return line
        if comma is False or (len(raw) >= _MAX_LINE and not raw.endswith(b"\n")):
            raise _NotFast
        comma = line.endswith(b",")
        try:
            item = loads(line[:-1] if comma else line)
        except orjson.JSONDecodeError:
            raise _NotFast from None
        handle(item)
    raise _NotFast


# --- the streaming fallback --------------------------------------------------------------

_SCALAR_EVENTS = frozenset(("null", "boolean", "integer", "double", "number", "string"))
_EVENT_KINDS = {"start_map": "an object", "string": "text", "boolean": "true/false", "null": "null",
                "integer": "a number", "double": "a number", "number": "a number"}


def _read_stream(f: BinaryIO, v: _Validator) -> None:
    """Parse any formatting with ijson's event stream, in bounded memory."""
    events = ijson.basic_parse(f, use_float=True)
    try:
        _document(events, v)
        for _ in events:  # ijson rejects anything after the document
            raise _fail("invalid_json", "content after the end of the document")
    except ValidationError:
        raise
    except ijson.JSONError as exc:
        raise _fail("invalid_json", _json_error_text(exc)) from None
    except (ValueError, UnicodeError, OverflowError) as exc:
        raise _fail("invalid_json", _short(str(exc), 120)) from None


def _json_error_text(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())[:160] or "unexpected content"


def _next(events: Iterator[tuple]) -> tuple:
    try:
        return next(events)
    except StopIteration:
        raise _fail("invalid_json", "the file ends in the middle of the document") from None


_SECTIONS = {"companies": "on_company", "attendance_records": "on_record"}


def _document(events: Iterator[tuple], v: _Validator) -> None:
    event, _ = _next(events)
    if event != "start_map":
        raise _fail("invalid_schema", "the file must hold one JSON object")
    seen = set()
    while True:
        event, name = _next(events)
        if event == "end_map":
            break
        if name in seen:
            raise _fail("invalid_schema", f"top-level key {_short(name)} appears twice")
        seen.add(name)
        event, value = _next(events)
        if name == "metadata":
            v.on_metadata(_build(event, value, events, MAX_DEPTH))
        elif name in _SECTIONS:
            _array(name, event, events, getattr(v, _SECTIONS[name]))
        else:
            _build(event, value, events, MAX_DEPTH)
            v.warnings.append(f"unknown top-level key {_short(name)} ignored")
    if "metadata" not in seen:
        raise _fail("missing_metadata", "there is no 'metadata' object")
    for name in ("companies", "attendance_records"):
        if name not in seen:
            raise _fail("invalid_schema", f"there is no {name!r} list")


def _array(name: str, event: str, events: Iterator[tuple], handle: Callable[[Any], None]) -> None:
    if event != "start_array":
        kind = _EVENT_KINDS.get(event, event)
        raise _fail("invalid_schema", f"{name!r} must be a list, not {kind}")
    while True:
        event, value = _next(events)
        if event == "end_array":
            return
        handle(_build(event, value, events, MAX_DEPTH - 2))


def _build(event: str, value: Any, events: Iterator[tuple], depth: int) -> Any:
    """The Python value starting with this event, at most ``depth`` deep."""
    if event in _SCALAR_EVENTS:
        return value
    if depth <= 0:
        raise _fail("invalid_schema", f"values nest deeper than {MAX_DEPTH} levels")
    if event == "start_map":
        obj = {}
        while True:
            event, key = _next(events)
            if event == "end_map":
                return obj
            event, value = _next(events)
            obj[key] = value if event in _SCALAR_EVENTS else _build(event, value, events, depth - 1)
    items = []
    while True:
        event, value = _next(events)
        if event == "end_array":
            return items
        items.append(value if event in _SCALAR_EVENTS else _build(event, value, events, depth - 1))


# --- the public reader ------------------------------------------------------------------


class BackupFile:
    """A validated backup file, its records spooled one file per company.

    Use as a context manager (or call :meth:`close`) to remove the
    temporary files; they are also removed when the object is collected.
    """

    def __init__(self, validator: _Validator, spool: _Spool, size: int):
        self.metadata: dict = validator.metadata
        self.warnings: list = validator.warnings
        #: companies the file lists: name -> created_at (aware datetime or None)
        self.declared_companies: dict = validator.companies
        self.total_records: int = validator.record_count
        self.size = size
        self._spool = spool

    def companies(self) -> list:
        """Every company name: listed in the file or referenced by a record."""
        return sorted(set(self.declared_companies) | set(self._spool.files))

    def record_count(self, company: str) -> int:
        return self._spool.counts.get(company, 0)

    def iter_records(self, company: str) -> Iterator[dict]:
        """The company's canonical records, in file order."""
        if company not in self.declared_companies and company not in self._spool.files:
            raise NotFound(f"company {company!r} is not in the backup file")
        return map(orjson.loads, self._spool.lines(company))

    def records(self, company: str) -> dict:
        """The company's records as key -> canonical record (one company in memory)."""
        return {(r["ep_no"], r["company"], r["date"]): r for r in self.iter_records(company)}

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> "BackupFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_backup(
    source: Union[str, os.PathLike, BinaryIO],
    *,
    max_bytes: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> BackupFile:
    """Read and validate a whole backup file; raise ValidationError if bad.

    ``source`` is a path or a binary file object (a non-seekable stream is
    copied to a temporary file first).  Nothing is returned before every
    byte has been checked.  ``progress(records, expected_total)`` is called
    every 1,000 records.
    """
    with _opened(source, max_bytes) as (f, size):
        validator = _validate(f, progress)
    return BackupFile(validator, validator.spool, size)


def _validate(f: BinaryIO, progress) -> _Validator:
    """Try the fast line reader; on any layout surprise start again streaming."""
    start = f.tell()
    if f.read(3) == b"\xef\xbb\xbf":  # tolerate a UTF-8 byte order mark
        start += 3
    f.seek(start)
    try:
        return _run(f, _read_fast, progress)
    except _NotFast:
        f.seek(start)
    return _run(f, _read_stream, progress)


def _run(f: BinaryIO, parse: Callable, progress) -> _Validator:
    validator = _Validator(_Spool(), progress)
    try:
        parse(f, validator)
        validator.finish()
    except BaseException:
        validator.spool.close()
        raise
    return validator


@contextlib.contextmanager
def _opened(source, max_bytes: Optional[int]) -> Iterator[tuple]:
    """(seekable binary file, size in bytes), the size checked first."""
    with contextlib.ExitStack() as stack:
        f = _open(source, max_bytes, stack)
        start = f.tell()
        size = f.seek(0, io.SEEK_END) - start
        f.seek(start)
        if max_bytes is not None and size > max_bytes:
            raise _fail("too_large", f"the file is {size:,} bytes, the limit is {max_bytes:,}")
        yield f, size


def _open(source, max_bytes: Optional[int], stack: contextlib.ExitStack) -> BinaryIO:
    if isinstance(source, (str, os.PathLike)):
        try:
            return stack.enter_context(open(source, "rb"))
        except FileNotFoundError:
            raise NotFound(f"backup file {os.fspath(source)!r} does not exist") from None
        except OSError as exc:
            raise _fail("unreadable", exc.strerror or str(exc), os.fspath(source)) from None
    if not isinstance(source.read(0), bytes):
        raise UsageError("open the backup file in binary mode ('rb')")
    if _seekable(source):
        return source
    copy = stack.enter_context(tempfile.TemporaryFile(prefix="attgit-upload-"))
    return _copy(source, max_bytes, copy)


def _copy(stream: BinaryIO, max_bytes: Optional[int], copy: BinaryIO) -> BinaryIO:
    total = 0
    while chunk := stream.read(1 << 20):
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise _fail("too_large", f"the file is over {max_bytes:,} bytes")
        copy.write(chunk)
    copy.seek(0)
    return copy


def _seekable(stream: Any) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False
