"""Write the database as a backup file: the one function every entry point
calls (``attgit export``, ``manage.py backup_data``, the web backup page,
``BackupService``), and the one rule for reading ``--since``.

The file is written by :func:`attgit.fsutil.private_file`'s rule (free
space checked first; a hidden temporary name in the target folder, mode
0600, fsync, rename; nothing partial left on any failure), from one
consistent read of the database, optionally encrypted for a recipient's
public key (:mod:`attgit.format.backup.crypto`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional, Union

from attgit import fsutil
from attgit.errors import UsageError
from attgit.format.compression import gzip_writer, is_gzip_name

if TYPE_CHECKING:
    from attgit.format.backup import BackupSummary

# attgit.format.backup is imported where used: the CLI imports this module
# for SINCE_RULE, and its start-up should not pay for the file format.

#: How ``--since`` is read (said in both commands' help).
SINCE_RULE = ("a date (YYYY-MM-DD) means its midnight in the site's TIME_ZONE; a date-time with an "
              "offset (2025-11-01T08:00+05:30, or Z) is taken as given; one without is in TIME_ZONE")

Progress = Optional[Callable[[int, int], None]]


def parse_since(text: Union[str, dt.date, dt.datetime], tz: Optional[dt.tzinfo] = None) -> dt.datetime:
    """``--since`` as an aware datetime, by :data:`SINCE_RULE`.

    ``tz`` is the site's time zone (UTC when there is no site).  A date or
    datetime object is read by the same rule as its ISO text.
    """
    tz = tz or dt.timezone.utc
    if isinstance(text, dt.datetime):
        value = text
    elif isinstance(text, dt.date):
        value = dt.datetime(text.year, text.month, text.day)
    else:
        try:
            value = dt.datetime.fromisoformat(str(text).strip())
        except ValueError:
            raise UsageError(f"--since must be a date (YYYY-MM-DD) or an ISO date-time, got {text!r}") from None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def export_backup(
    db,
    path: Union[str, os.PathLike],
    *,
    backup_type: str = "full",
    since: Optional[dt.datetime] = None,
    created_by: str,
    encrypt_to: Optional[str] = None,
    gnupghome: Optional[str] = None,
    progress: Progress = None,
    expected: Optional[int] = None,
    passphrase: Optional[str] = None,
) -> "BackupSummary":
    """Write a full or incremental backup of ``db`` to ``path``.

    ``db`` is a working copy that also lists companies with their ids and
    creation times and reads records by update time
    (``companies_with_created_at``, ``records_since``; ``consistent_read``
    when it has one).  An incremental backup holds every company and the
    records with ``updated_at >= since`` (Property 12).  A ``path`` ending
    in ``.gz`` (also ``.gz.gpg``) is gzip-compressed, streaming; the file is
    encrypted for ``encrypt_to``'s public key, or with ``passphrase``.
    """
    if backup_type not in ("full", "incremental"):
        raise UsageError(f"backup type must be full or incremental, got {backup_type!r}")
    if backup_type == "incremental" and since is None:
        raise UsageError("an incremental backup needs --since DATE (records changed since then)")
    if backup_type == "full" and since is not None:
        raise UsageError("--since goes with --type incremental")
    total = _record_count(db)
    shown = expected if expected is not None else total
    what = f"the backup file {os.path.basename(os.fspath(path))}"
    with _read(db), fsutil.private_file(path, fsutil.estimate(total), what) as out:
        records = db.records_since(since) if backup_type == "incremental" else _all_records(db)
        companies = db.companies_with_created_at()
        counted = _counted(records, progress, shown)
        options = {"backup_type": backup_type, "created_by": created_by, "since": since}
        gz = is_gzip_name(path)
        if encrypt_to or passphrase is not None:
            return _write_encrypted(out, companies, counted, options, gz, encrypt_to, gnupghome, passphrase)
        return _write_plain(out, companies, counted, options, gz)


def _write_plain(out, companies, records, options: dict, gz: bool) -> "BackupSummary":
    """The document into ``out``, through gzip when ``gz`` (streaming)."""
    from attgit.format.backup import write_backup

    if not gz:
        return write_backup(out, companies, records, **options)
    start = out.tell()
    with gzip_writer(out) as packed:
        summary = write_backup(packed, companies, records, **options)
    return summary._replace(bytes=out.tell() - start)


def _write_encrypted(out, companies, records, options: dict, gz: bool, recipient: Optional[str], home,
                     passphrase: Optional[str]) -> "BackupSummary":
    """The document (gzipped when ``gz``) goes to an anonymous temporary
    file (never named on disk), then GnuPG encrypts it into ``out``'s path:
    for ``recipient``'s key, or with ``passphrase``."""
    from attgit.format.backup import crypto

    with tempfile.TemporaryFile(prefix="attgit-plain-") as plain:
        summary = _write_plain(plain, companies, records, options, gz)
        plain.seek(0)
        crypto.encrypt(plain, recipient, out.name, home, passphrase=passphrase)
    return summary._replace(bytes=os.path.getsize(out.name))


def _read(db):
    return db.consistent_read() if hasattr(db, "consistent_read") else contextlib.nullcontext()


def _all_records(db) -> Iterator[dict]:
    all_records = getattr(db, "all_records", None)
    if all_records is not None:
        return all_records()
    return (r for c in db.companies() for r in db.records(c))


def _record_count(db) -> int:
    """Records in the database (one count query)."""
    try:
        return db.record_count()
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return 0


def _counted(records: Iterable[dict], progress: Progress, total: int) -> Iterator[dict]:
    if progress is None:
        yield from records
        return
    done = 0
    for done, record in enumerate(records, 1):
        if done % 1000 == 0:
            progress(done, max(total, done))
        yield record
    progress(done, done)
