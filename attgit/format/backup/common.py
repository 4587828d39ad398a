"""The backup file format's constants and error helpers, shared by the
writer, the validator and the parsers.  The format itself is described in
:mod:`attgit.format.backup`.
"""


from __future__ import annotations

import hashlib
import operator
from typing import Any, Mapping, NamedTuple, Optional

import orjson

from attgit.errors import ValidationError
from attgit.format import records as rec

FORMAT_VERSION = "1.0"


SUPPORTED_VERSIONS = ("1.0",)


BACKUP_TYPES = ("full", "incremental")


#: User-facing messages: the design document's, then attgit's own in the same
#: voice.  The web pages show these (a person there has uploaded the file).
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
    "cannot_decrypt": "Backup file cannot be decrypted",
}


#: The same in the library's own words, which every rejection's message
#: starts with: a file read from disk was not uploaded (the web pages say
#: "uploaded" again, see :func:`for_upload`).
MESSAGES = {**ERROR_MESSAGES, "invalid_json": "The file is not valid JSON"}


def for_upload(text: str) -> str:
    """A rejection's message in the design document's words for an upload."""
    plain = MESSAGES["invalid_json"]
    return ERROR_MESSAGES["invalid_json"] + text[len(plain):] if text.startswith(plain) else text


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
    #: the file's metadata object, as written
    metadata: Optional[dict] = None


def _fail(kind: str, detail: str, where: Optional[str] = None) -> ValidationError:
    return ValidationError(f"{MESSAGES[kind]}: {detail}", where)


def _prefixed(exc: ValidationError, kind: str) -> ValidationError:
    """The same error (class, ``where``, ``expected``/``got``) with the
    user-facing message in front."""
    exc.message = f"{MESSAGES[kind]}: {exc.message}"
    exc.args = (f"{exc.message} ({exc.where})" if exc.where else exc.message,)
    return exc


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        self.known: tuple[set, ...] = tuple(set() for _ in rec.FIELDS)

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
