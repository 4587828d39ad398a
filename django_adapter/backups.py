"""Backup files of the database, in the design document's JSON format.

The file format is :mod:`attgit.format.backup`'s; this module only feeds it
the database's companies and records (streamed, never listed), writes the
file atomically and keeps the audit log.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from pathlib import Path
from typing import Optional

from django.conf import settings
from django.utils import timezone

from attgit.errors import UsageError
from attgit.format.backup import write_backup

from .audit import log_operation
from .workingcopy import connect

BACKUP_TYPES = ("full", "incremental")


def parse_since(text: str) -> dt.datetime:
    """``--since``: a date (its midnight) or an ISO date-time; naive values
    are in the site's time zone."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--since must be a date (YYYY-MM-DD) or an ISO date-time, got {text!r}"
        ) from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def default_path(backup_type: str, now: Optional[dt.datetime] = None) -> Path:
    """``<ATTGIT_BACKUP_DIR>/backup_<type>_<UTC time>.json``."""
    now = now or timezone.now()
    folder = Path(getattr(settings, "ATTGIT_BACKUP_DIR", "backups"))
    return folder / f"backup_{backup_type}_{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}.json"


def create_backup(path: os.PathLike | str, backup_type: str = "full",
                  since: Optional[dt.datetime] = None, user=None, using: str = "default"):
    """Write a full or incremental backup file to ``path``; log it either way.

    An incremental backup holds every company and the records with
    ``updated_at >= since`` (Property 12).  The file appears only once it
    is complete.  Returns attgit's BackupSummary.
    """
    _check_arguments(backup_type, since)
    operation = f"backup_{backup_type}"
    path = Path(path)
    logged = {"filename": str(path), "using": using, **({"since": since} if since else {})}
    try:
        summary = _write_file(path, backup_type, since, _creator(user), using)
    except Exception as exc:
        log_operation(operation, user, success=False, error=str(exc), **logged)
        raise
    log_operation(operation, user, companies=summary.companies, records=summary.records, **logged)
    return summary


def _check_arguments(backup_type: str, since: Optional[dt.datetime]) -> None:
    if backup_type not in BACKUP_TYPES:
        raise UsageError(f"backup type must be full or incremental, got {backup_type!r}")
    if backup_type == "incremental" and since is None:
        raise UsageError("an incremental backup needs --since DATE (records changed since then)")


def _write_file(path: Path, backup_type: str, since, created_by: str, using: str):
    """Stream one consistent read of the database into ``path`` (via a
    temporary file beside it, renamed into place when complete)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    wc = connect(using)
    try:
        with wc.consistent_read(), open(partial, "wb") as out:
            records = wc.records_since(since) if backup_type == "incremental" else wc.all_records()
            summary = write_backup(out, wc.companies_with_created_at(), records,
                                   backup_type=backup_type, created_by=created_by, since=since)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return summary


def _creator(user) -> str:
    if user is not None:
        return user.get_username()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
