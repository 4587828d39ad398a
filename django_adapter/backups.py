"""Backup files of the database, in the design document's JSON format.

The file format is :mod:`attgit.format.backup`'s and the one writer
:func:`attgit.ops.export.export_backup`; this module gives it the Django
database, the site's time zone for ``--since`` and the GnuPG home, and
keeps the audit log.
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
from attgit.ops.export import export_backup
from attgit.ops.export import parse_since as _parse_since

from .audit import log_operation
from .workingcopy import connect

BACKUP_TYPES = ("full", "incremental")


def parse_since(text) -> dt.datetime:
    """``--since`` by the one rule (:data:`attgit.ops.export.SINCE_RULE`),
    in the site's TIME_ZONE."""
    return _parse_since(text, timezone.get_default_timezone())


def gnupg_home() -> Optional[str]:
    """The GnuPG home with the private key for encrypted backup files."""
    return getattr(settings, "ATTGIT_GNUPGHOME", None)


def read_options(passphrase: Optional[str] = None) -> dict:
    """How the site reads a backup file (``read_backup``'s options): the
    GnuPG home, the passphrase if one was given, the limit of the decoded
    size (``ATTGIT_DECOMPRESSED_LIMIT``), and the spool folder under the
    repository's own directory (never a shared temporary folder)."""
    from attgit.format.backup.spool import spool_parent

    return {"gnupghome": gnupg_home(), "passphrase": passphrase,
            "max_plain_bytes": getattr(settings, "ATTGIT_DECOMPRESSED_LIMIT", None),
            "spool_dir": spool_parent(getattr(settings, "ATTGIT_REPO", None))}


def backup_folder() -> Path:
    """``ATTGIT_BACKUP_DIR``; unset, ``attgit-files/backups`` beside the
    repository (``ATTGIT_REPO``), so a new project works without choosing a
    folder and keeps backups, uploads and job progress together, outside
    its web root.  Not created here (the callers that write make it)."""
    folder = getattr(settings, "ATTGIT_BACKUP_DIR", None)
    if folder:
        return Path(folder)
    repo = getattr(settings, "ATTGIT_REPO", None)
    return (Path(repo).parent if repo else Path.cwd()) / "attgit-files" / "backups"


def default_path(backup_type: str, now: Optional[dt.datetime] = None) -> Path:
    """``<backup folder>/backup_<type>_<UTC time>.json``."""
    now = now or timezone.now()
    folder = backup_folder()
    return folder / f"backup_{backup_type}_{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}.json"


def create_backup(path: os.PathLike | str, backup_type: str = "full",
                  since: Optional[dt.datetime] = None, user=None, using: str = "default",
                  encrypt_to: Optional[str] = None, progress=None, passphrase: Optional[str] = None):
    """Write a full or incremental backup file to ``path``; log it either way.

    An incremental backup holds every company and the records with
    ``updated_at >= since`` (Property 12).  The file is written by
    :func:`attgit.ops.export.export_backup` (free space checked, mode 0600,
    appears only when complete), encrypted for ``encrypt_to`` or with
    ``passphrase`` when given (the log says "passphrase", never the
    passphrase); gzipped when ``path`` ends in ``.gz``.
    Returns attgit's BackupSummary.
    """
    operation = f"backup_{backup_type}"
    path = Path(path)
    logged = {"filename": str(path), "using": using, **({"since": since} if since else {}),
              **({"encrypted_for": encrypt_to} if encrypt_to else {}),
              **({"encrypted_with": "passphrase"} if passphrase is not None else {})}
    try:
        summary = write_file(path, backup_type, since, _creator(user), using, encrypt_to, progress,
                             passphrase=passphrase)
    except Exception as exc:
        log_operation(operation, user, success=False, error=str(exc), **logged)
        raise
    log_operation(operation, user, companies=summary.companies, records=summary.records, **logged)
    return summary


def write_file(path: Path, backup_type: str, since, created_by: str, using: str = "default",
               encrypt_to: Optional[str] = None, progress=None, expected: Optional[int] = None,
               passphrase: Optional[str] = None):
    """The database ``using`` as a backup file at ``path`` (its folder made
    if missing), without an audit row: the caller logs."""
    if backup_type not in BACKUP_TYPES:
        raise UsageError(f"backup type must be full or incremental, got {backup_type!r}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return export_backup(connect(using), path, backup_type=backup_type, since=since, created_by=created_by,
                         encrypt_to=encrypt_to, gnupghome=gnupg_home(), progress=progress,
                         expected=expected, passphrase=passphrase)


def _creator(user) -> str:
    if user is not None:
        return user.get_username()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
