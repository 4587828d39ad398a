"""The backup page: make a full or incremental backup file, download it.

Making a backup is a job (:mod:`.jobs`): it first commits the database
(``snapshot_database``), so every backup matches a snapshot in the
history, then streams the design document's JSON file into
``ATTGIT_BACKUP_DIR`` -- outside the web root -- under a name it makes up
itself.  The download view serves only files listed as backups in the
BackupLog, found by a strictly checked name, from that directory.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Callable, Optional

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from attgit.errors import AttgitError, ValidationError
from attgit.ops.commit import snapshot_database

from .. import backups, storage
from ..audit import log_operation
from ..backups import backup_folder, parse_since
from ..models import AttendanceRecord, BackupLog, Job
from ..repository import open_as
from ..workingcopy import connect
from . import errors, jobs
from .access import root_required
from .forms import BackupForm, errors_of

BACKUP_OPERATIONS = ("backup_full", "backup_incremental")
#: The names this module makes (and ``manage.py backup_data``'s default names).
NAME_RE = re.compile(r"\Abackup_(full|incremental)_\d{8}T\d{6}(\.\d{6})?Z(_[0-9a-f]{6})?\.json(\.gz)?(\.gpg)?\Z")
#: What a download is sent as, by its name's last suffix.
CONTENT_TYPES = {".json": "application/json", ".gz": "application/gzip", ".gpg": "application/pgp-encrypted"}
LISTED = 15


def backup_dir() -> Path:
    path = backup_folder()
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- pages -------------------------------------------------------------------------

@root_required
@require_http_methods(["GET", "POST"])
def backup_data_view(request):
    """Backup options, the last backup's time, recent backups to download."""
    form = BackupForm(request.POST or None, recipients=recipients())
    status = 200
    if request.method == "POST":
        if form.is_valid():
            since = form.cleaned_data["since"]
            params = {"type": form.cleaned_data["backup_type"], "since": since.isoformat() if since else None,
                      **file_options(form.cleaned_data)}
            try:
                backups.refuse_while_merging()
                job = jobs.start(request, Job.BACKUP, params)
            except AttgitError as exc:
                status = errors.say(request, exc)
            else:
                return redirect("attgit:job_progress", job.pk)
        else:
            status = 400
            messages.error(request, errors_of(form))
    return render(request, "attendance/backup.html", {
        "form": form, "last_backup": _last_backup(), "backups": recent_backups(),
        "records": AttendanceRecord.objects.count(),
    }, status=status)


@root_required
@require_GET
def download_backup_view(request, filename):
    """Send a backup file this site made; anything else is 404."""
    path = registered_backup(filename)
    log_operation("download", request.user, filename=filename)
    return FileResponse(storage.open_file(path.name), as_attachment=True, filename=filename,
                        content_type=CONTENT_TYPES[path.suffix])


def recipients() -> list:
    """The public keys the backup page offers to encrypt for
    (``ATTGIT_BACKUP_RECIPIENTS``: key ids, fingerprints or e-mails in
    ATTGIT_GNUPGHOME)."""
    return list(getattr(settings, "ATTGIT_BACKUP_RECIPIENTS", ()))


def file_options(data: dict) -> dict:
    """The job's parameters for the file's form: compression, encryption
    and, for the worker only, the passphrase (wiped when the job takes it)."""
    params = {"compression": data["compression"], "encryption": data["encryption"]}
    if data["encryption"] == "passphrase":
        params[jobs.PASSPHRASE] = data["passphrase"]
    return params


def file_suffix(params: dict) -> str:
    """What a new backup's name ends with after .json: .gz, then .gpg when encrypted."""
    suffix = ".gz" if params.get("compression", "plain") == "gzip" else ""
    return suffix + (".gpg" if params.get("encryption", "none") != "none" else "")


def registered_backup(filename: str) -> Path:
    """The path of the backup called ``filename``, if the BackupLog lists it
    and it is still in the backup storage (:mod:`django_adapter.storage`:
    ATTGIT_BACKUP_DIR unless STORAGES["attgit_backups"] names another); else Http404.

    The name must be one this site makes (no separators, no dots but the
    extension's), so it cannot leave the directory; it is then looked up in
    the log rather than trusted.
    """
    if not NAME_RE.match(filename):
        raise Http404("No such backup.")
    logged = BackupLog.objects.filter(operation__in=BACKUP_OPERATIONS, success=True,
                                      filename__endswith=filename).values_list("filename", flat=True)
    if not any(Path(name).name == filename for name in logged):
        raise Http404("No such backup.")
    folder = backup_dir().resolve()
    path = folder / filename
    if path.resolve().parent != folder or not storage.exists(filename):
        raise Http404("That backup file is no longer on the server.")
    return path


def recent_backups(limit: int = LISTED) -> list:
    """The latest successful backups, each with its name, whether its file
    is here to download, and its size: the file's real size where it is
    (also a file ``backup_data`` wrote elsewhere on this server), else the
    size the log recorded, else None ("made elsewhere")."""
    entries = []
    for log in BackupLog.objects.filter(operation__in=BACKUP_OPERATIONS, success=True) \
            .select_related("user")[:limit]:
        name = Path(log.filename).name
        available = bool(NAME_RE.match(name)) and storage.exists(name)
        entries.append({"log": log, "name": name, "available": available,
                        "size": storage.size(name) if available else _size(Path(log.filename), log)})
    return entries


def _size(path: Path, log: BackupLog) -> Optional[int]:
    try:
        if path.is_absolute() and path.is_file():
            return path.stat().st_size
    except OSError:
        pass
    logged = (log.details or {}).get("bytes")
    return logged if isinstance(logged, int) else None


def _last_backup() -> Optional[BackupLog]:
    return BackupLog.objects.filter(operation__in=BACKUP_OPERATIONS, success=True).first()


# --- the job -------------------------------------------------------------------------

def run_backup(job: Job, progress: jobs.Progress) -> dict:
    """Commit the database, then write the backup file; return the summary."""
    backup_type = job.params["type"]
    passphrase = jobs.take_passphrase(job)
    encryption = job.params.get("encryption", "none")
    recipient = encryption[4:] if encryption.startswith("key:") else None
    if recipient is not None and recipient not in recipients():
        raise ValidationError(f"the key {recipient!r} is not one ATTGIT_BACKUP_RECIPIENTS names")
    if encryption == "passphrase" and not passphrase:
        raise ValidationError("the passphrase is gone (a retried job does not keep it): make the backup again")
    since = parse_since(job.params["since"]) if job.params.get("since") else None
    opened = open_as(job.user)
    author = opened.author
    backups.refuse_while_merging(opened.repo)
    path = backups.claim_new(backup_type, backup_dir(), suffix=file_suffix(job.params))  # its own name, O_EXCL
    progress.note(file=str(path))  # a worker lost between the file's rename and its log row: see jobs._backup_left
    name = path.name
    try:
        progress.phase("Taking a snapshot of the database")
        snap = snapshot_database(opened.repo, connect(), author, message=f"Snapshot at {backup_type} backup {name}")
        commit = snap.commit or snap.parent or ""
        summary = write_file(path, backup_type, since, author.name, progress.counter("Writing the backup file"),
                             _expected_records(since), encrypt_to=recipient, passphrase=passphrase)
    except BaseException:
        backups.unclaim(path)
        raise
    storage.store(path)
    log_operation(f"backup_{backup_type}", job.user, filename=str(path), commit=commit,
                  companies=summary.companies, records=summary.records, since=since, job=str(job.pk),
                  snapshot="new" if snap.created else "unchanged",
                  **({"encrypted_for": recipient} if recipient else {}),
                  **({"encrypted_with": "passphrase"} if passphrase else {}))
    return {"name": name, "type": backup_type, "since": job.params.get("since"), "commit": commit,
            "new_commit": snap.created, "companies": summary.companies, "records": summary.records,
            "bytes": summary.bytes}


def write_file(path: Path, backup_type: str, since: Optional[dt.datetime], created_by: str,
               progress: Callable[[int, int], None], total: int = 0, encrypt_to: Optional[str] = None,
               passphrase: Optional[str] = None):
    """The backup file at ``path``, by the one writer
    (:func:`django_adapter.backups.write_file`: free space checked, mode
    0600, a hidden partial file renamed into place when complete; gzipped
    for a .gz name, encrypted for ``encrypt_to`` or with ``passphrase``)."""
    return backups.write_file(path, backup_type, since, created_by, progress=progress, expected=total or None,
                              encrypt_to=encrypt_to, passphrase=passphrase)


def _expected_records(since: Optional[dt.datetime]) -> int:
    records = AttendanceRecord.objects.all()
    return (records.filter(updated_at__gte=since) if since else records).count()
