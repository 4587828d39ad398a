"""Write a backup file, streaming: records are spooled once, then the
document is written with one record per line (the fast path's layout).
"""


from __future__ import annotations

import datetime as _dt
import hashlib
import shutil
import tempfile
from typing import BinaryIO, Iterable, Mapping, Optional, Union

import orjson

from attgit.errors import UsageError, ValidationError
from attgit.format import records as rec
from attgit.format.backup.common import BACKUP_TYPES, FORMAT_VERSION, BackupSummary, _Canon
from attgit.format.backup.validator import _optional_datetime


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

    ``companies`` are {"name", "created_at", "id"} (created_at a datetime
    or None; id the database's, informative only, else the position) or plain
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
            listed[name] = (None, None)
        meta = _metadata(backup_type, created_by, created_at, since, len(listed), count)
        written = _write_document(out, meta, listed, spool)
    return BackupSummary(len(listed), count, written, meta)


def _company_entries(companies: Iterable[Union[Mapping, str]]) -> dict:
    """name -> (created_at, id), in the given order; a name given twice is an error."""
    listed: dict = {}
    for n, item in enumerate(companies, 1):
        raw = {"name": item} if isinstance(item, str) else item
        name = rec.company_name(raw.get("name"), f"company {n}")
        if name in listed:
            raise ValidationError(f"company {name!r} is given twice", f"company {n}")
        company_id = raw.get("id")
        if company_id is not None and type(company_id) is not int:
            raise ValidationError(f"company id must be an integer, got {company_id!r}", f"company {n}")
        listed[name] = (raw.get("created_at"), company_id)
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


def file_record(raw: Mapping) -> dict:
    """One record as the file holds it (``company_name``, its checksum), from
    anything :func:`records.normalise` accepts: the same bytes the writer
    hashes, so a record serialised here and one read from a file agree."""
    record = rec.normalise(raw)
    return _file_record(record, rec.checksum(record))


def metadata(backup_type: str, created_by: str, companies: int, records: int,
             created_at: Optional[_dt.datetime] = None, since=None) -> dict:
    """The metadata section the writer puts first in a file (now, in UTC,
    unless ``created_at`` is given)."""
    if backup_type not in BACKUP_TYPES:
        raise UsageError(f"backup type must be one of {', '.join(BACKUP_TYPES)}, got {backup_type!r}")
    return _metadata(backup_type, created_by, created_at, since, companies, records)


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


def _company_line(n: int, name: str, created_at, company_id: Optional[int]) -> bytes:
    digest = rec.company_checksum(name)
    if isinstance(created_at, _dt.datetime):
        when = _iso_z(created_at)
    else:  # None, or an ISO text the reader will accept
        _optional_datetime(created_at, "created_at", f"company {n} ({name})")
        when = created_at
    return orjson.dumps({"id": n if company_id is None else company_id, "name": name, "created_at": when,
                         "checksum": digest})


def _write_document(out: BinaryIO, meta: dict, companies: dict, spool: BinaryIO) -> int:
    """Metadata line, one line per company, then the spooled record lines."""
    lines = [_company_line(n, name, when, company_id)
             for n, (name, (when, company_id)) in enumerate(companies.items(), 1)]
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
