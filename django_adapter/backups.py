"""Backup files of the database, in the design document's JSON format.

The file format is :mod:`attgit.format.backup`'s and the one writer
:func:`attgit.ops.export.export_backup`; this module gives it the Django
database, the site's time zone for ``--since`` and the GnuPG home, and
keeps the audit log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
import re
import secrets
import socket
from pathlib import Path
from typing import Optional

from django.conf import settings
from django.utils import timezone

from attgit.errors import AttgitError, NotFound, UsageError
from attgit.fsutil import process_alive
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
    its web root.  Made if missing (the one folder attgit makes itself: an
    explicit ``--output`` into a missing folder is refused)."""
    folder = _configured_folder()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _configured_folder() -> Path:
    folder = getattr(settings, "ATTGIT_BACKUP_DIR", None)
    if folder:
        return Path(folder)
    repo = getattr(settings, "ATTGIT_REPO", None)
    return (Path(repo).parent if repo else Path.cwd()) / "attgit-files" / "backups"


def default_name(backup_type: str, now: Optional[dt.datetime] = None, suffix: str = "") -> str:
    """``backup_<type>_<UTC time to the microsecond>Z_<6 random hex>.json``
    (then ``suffix``: ``.gz``, ``.gpg``): two backups in the same second (or
    microsecond) get different names."""
    now = (now or timezone.now()).astimezone(dt.timezone.utc)
    return f"backup_{backup_type}_{now:%Y%m%dT%H%M%S.%fZ}_{_random_part()}.json{suffix}"


def _random_part() -> str:
    return secrets.token_hex(3)


def default_path(backup_type: str, now: Optional[dt.datetime] = None) -> Path:
    """A new default name in ATTGIT_BACKUP_DIR (not yet claimed: see :func:`claim_new`)."""
    return _configured_folder() / default_name(backup_type, now)


#: Tries at a new default name before giving up (each collision is a one in 16 million draw).
CLAIM_TRIES = 50


def claim_new(backup_type: str, folder: Optional[Path] = None, suffix: str = "") -> Path:
    """A new backup file's path in ``folder`` (ATTGIT_BACKUP_DIR), claimed:
    created empty with O_EXCL, so no other backup -- in this process or
    another -- can be given the same name, and none is ever overwritten."""
    folder = folder if folder is not None else backup_folder()
    sweep(folder)
    for _ in range(CLAIM_TRIES):
        path = folder / default_name(backup_type, suffix=suffix)
        try:
            _create_excl(path)
        except FileExistsError:
            continue
        return path
    raise UsageError(f"could not find a free backup file name in {folder} after {CLAIM_TRIES} tries")


def claim(path: Path, force: bool = False) -> bool:
    """Claim an explicit output path: create it empty with O_EXCL.  An
    existing file is refused unless ``force`` (then it is replaced only when
    the new file is complete); a missing folder is NotFound, never made.
    Returns True when this call created the file (so a failure removes it)."""
    if not path.parent.is_dir():
        raise NotFound(f"cannot write the backup file {os.fspath(path)}: its folder {os.fspath(path.parent)} "
                       "was not found; create it first or choose another")
    try:
        _create_excl(path)
    except FileExistsError:
        if not force:
            raise UsageError(f"{os.fspath(path)} already exists: choose another name, or pass --force "
                             "to replace it") from None
        return False
    return True


#: What a claimed, not yet written backup file holds: who claimed it (so a
#: claim whose process was killed can be told from one being written).
CLAIM = b"attgit backup being written by "


def _create_excl(path: Path) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, CLAIM + f"{socket.gethostname()} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


def _claimant(path: Path) -> Optional[tuple[str, int]]:
    """(host, pid) of a claim file, or None when ``path`` is not one."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(CLAIM) + 300)
    except OSError:
        return None
    if not head.startswith(CLAIM):
        return None
    host, _, pid = head[len(CLAIM):].decode(errors="replace").strip().rpartition(" ")
    return (host, int(pid)) if pid.isdigit() else None


def is_claim(path: Path) -> bool:
    """``path`` is still a claim (its backup not yet complete)."""
    return _claimant(path) is not None


def unclaim(path: Path) -> None:
    """Remove a claimed name whose backup failed (only while it is still a claim)."""
    with contextlib.suppress(OSError):
        if is_claim(path):
            path.unlink()


_PARTIAL = re.compile(r"\A\..+\.(\d+)\.[0-9a-f]{8}\.partial\Z")


def sweep(folder: Path) -> list:
    """Remove what a killed backup left in ``folder``: claims and hidden
    partial files of a process that is gone (on this machine).  Returns
    the names removed."""
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            partial = _PARTIAL.match(entry.name)
            if partial:
                dead = not process_alive(int(partial.group(1)))
            else:
                claimant = _claimant(Path(entry.path)) if entry.name.startswith("backup_") else None
                dead = claimant is not None and claimant[0] == socket.gethostname() and not process_alive(claimant[1])
            if dead:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return removed


def make_backup(output: os.PathLike | str | None, backup_type: str = "full",
                since: Optional[dt.datetime] = None, user=None, using: str = "default",
                encrypt_to: Optional[str] = None, progress=None, *, force: bool = False,
                passphrase: Optional[str] = None, suffix: str = ""):
    """A backup into a new file of its own: ``output``, claimed (refused if
    it exists, unless ``force``; its folder must exist), or else a new
    default name (ending in ``suffix``: ``.gz`` gzips it) in the backup
    folder.  Logged either way, a refusal too.  Returns (path, BackupSummary)."""
    if backup_type not in BACKUP_TYPES:
        raise UsageError(f"backup type must be full or incremental, got {backup_type!r}")
    try:
        refuse_while_merging()
        if output is None:
            path, claimed = claim_new(backup_type, suffix=suffix), True
        else:
            path = Path(output)
            claimed = claim(path, force)
    except AttgitError as exc:
        log_operation(f"backup_{backup_type}", user, success=False, error=str(exc),
                      filename=str(output or ""), using=using)
        raise
    return path, create_backup(path, backup_type, since, user, using, encrypt_to, progress, passphrase,
                               claimed=claimed)


def refuse_while_merging(repo=None) -> None:
    """No backup file while a manual merge waits (the database is
    half-merged): the one refusal every export path gives (exit 7)."""
    from attgit.ops.mergestate import refuse_export_while_merging

    from .repository import open_repository, repo_path

    if repo is None:
        if not getattr(settings, "ATTGIT_REPO", None) or not repo_path().is_dir():
            return  # no repository: no merge can be waiting
        repo = open_repository(create=False)
    refuse_export_while_merging(repo)


def create_backup(path: os.PathLike | str, backup_type: str = "full",
                  since: Optional[dt.datetime] = None, user=None, using: str = "default",
                  encrypt_to: Optional[str] = None, progress=None, passphrase: Optional[str] = None, *,
                  claimed: bool = False):
    """Write a full or incremental backup file to ``path``; log it either way.

    An incremental backup holds every company and the records with
    ``updated_at >= since`` (Property 12).  The file is written by
    :func:`attgit.ops.export.export_backup` (free space checked, mode 0600,
    appears only when complete), encrypted for ``encrypt_to`` or with
    ``passphrase`` when given (the log says "passphrase", never the
    passphrase); gzipped when ``path`` ends in ``.gz``.
    ``claimed``: ``path`` was claimed by this backup (:func:`claim_new`,
    :func:`claim`), so a failure removes the empty claim.
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
        if claimed:
            unclaim(path)
        log_operation(operation, user, success=False, error=str(exc), **logged)
        raise
    log_operation(operation, user, companies=summary.companies, records=summary.records, **logged)
    return summary


def write_file(path: Path, backup_type: str, since, created_by: str, using: str = "default",
               encrypt_to: Optional[str] = None, progress=None, expected: Optional[int] = None,
               passphrase: Optional[str] = None):
    """The database ``using`` as a backup file at ``path``, without an
    audit row: the caller logs.  The folder must exist (NotFound otherwise:
    a typo in a path makes no folders)."""
    if backup_type not in BACKUP_TYPES:
        raise UsageError(f"backup type must be full or incremental, got {backup_type!r}")
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
