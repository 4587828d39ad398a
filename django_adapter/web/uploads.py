"""Uploaded backup files: within the size limit, kept under an opaque id.

The limit (``ATTGIT_UPLOAD_LIMIT``, 100 MB by default) is checked three
times, the first before Django reads the request body at all:

1. :func:`refuse_oversize` -- the request's ``Content-Length``;
2. :class:`LimitedUploadHandler` -- the bytes actually received, while
   Django parses the multipart body (it stops reading past the limit);
3. the stored file's size, by ``read_backup(max_bytes=...)``.

A kept file is named by :class:`~django_adapter.models.Upload`'s random id
only (``<ATTGIT_UPLOAD_DIR>/<id>.json``); nothing the browser sends is ever
part of a path.  Uploads are removed after a successful apply, when they
fail validation, and a day after they were made.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404
from django.utils import timezone

from attgit.errors import ValidationError
from attgit.format.backup import ERROR_MESSAGES

from ..backups import backup_folder
from ..models import Upload

DEFAULT_LIMIT = 100 * 1024 * 1024
#: Multipart framing and the form's other fields around the file.
ENVELOPE = 64 * 1024
KEEP_FOR = dt.timedelta(days=1)
ID_RE = re.compile(r"\A[0-9a-f]{32}\Z")


def limit() -> int:
    return int(getattr(settings, "ATTGIT_UPLOAD_LIMIT", DEFAULT_LIMIT))


def upload_dir() -> Path:
    folder = getattr(settings, "ATTGIT_UPLOAD_DIR", None)
    path = Path(folder) if folder else backup_folder().parent / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def too_large(size: int) -> ValidationError:
    return ValidationError(f"{ERROR_MESSAGES['too_large']}: the upload is {size:,} bytes, "
                           f"the limit is {limit():,} bytes ({limit() / 2**20:.0f} MB)")


def refuse_oversize(request) -> ValidationError | None:
    """The error for a request whose declared length is over the limit
    (read from ``CONTENT_LENGTH`` alone: the body is not touched)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ValidationError("the request's Content-Length is not a number")
    return too_large(length) if length > limit() + ENVELOPE else None


class LimitedUploadHandler(FileUploadHandler):
    """Passes chunks on until a file passes the limit, then stops the upload."""

    def __init__(self, request=None, max_bytes: int = DEFAULT_LIMIT):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.exceeded_at = 0

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.max_bytes:
            self.exceeded_at = start + len(raw_data)
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def limit_uploads(request) -> LimitedUploadHandler:
    """Put the limiting handler first; call before anything reads request.POST."""
    handler = LimitedUploadHandler(request, limit())
    request.upload_handlers.insert(0, handler)
    return handler


def store(uploaded, user) -> Upload:
    """Keep an uploaded file under a new random id; the original name is
    kept for display only."""
    if uploaded.size > limit():
        raise too_large(uploaded.size)
    _remove_stale()
    upload = Upload(user=user, original_name=_display_name(uploaded.name), size=uploaded.size)
    path = path_of(upload)
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as out:
        os.chmod(partial, 0o600)
        for chunk in uploaded.chunks():
            out.write(chunk)
    os.replace(partial, path)
    upload.save(force_insert=True)
    return upload


def path_of(upload: Upload) -> Path:
    """``<id>.json`` whatever the upload holds: a gzipped or encrypted file
    is kept as sent, and read by its first bytes, not by its name."""
    if not ID_RE.match(upload.pk or ""):
        raise ValueError(f"not an upload id: {upload.pk!r}")
    return upload_dir() / f"{upload.pk}.json"


def get(upload_id: str) -> Upload:
    """The kept upload with this id, or 404 (also when its file is gone)."""
    upload = Upload.objects.filter(pk=upload_id).first() if ID_RE.match(upload_id or "") else None
    if upload is None or not path_of(upload).is_file():
        raise Http404("No such upload: it was applied, removed or has expired. Upload the file again.")
    return upload


def discard(upload: Upload) -> None:
    path_of(upload).unlink(missing_ok=True)
    Upload.objects.filter(pk=upload.pk).delete()


def _remove_stale() -> None:
    for upload in Upload.objects.filter(created_at__lt=timezone.now() - KEEP_FOR):
        discard(upload)


def _display_name(name: str) -> str:
    """The browser's file name, reduced to a short printable base name."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[-200:] or "backup.json"
