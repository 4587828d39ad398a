"""BackupLog entries for every attgit operation, from the CLI or the web."""

from __future__ import annotations

from typing import Optional

from django.contrib.auth import get_user_model

from .models import BackupLog

_COUNT_FIELDS = {
    "companies": "companies_count",
    "records": "records_count",
    "added": "records_added",
    "updated": "records_updated",
    "skipped": "records_skipped",
}


def log_operation(operation: str, *, user_obj=None, user: Optional[str] = None, success: bool = True,
                  error: str = "", commit: str = "", filename: str = "", **details) -> BackupLog:
    """Write one BackupLog row; counts go to their columns, the rest to details."""
    if user_obj is None and user:
        user_obj = get_user_model().objects.filter(username=user).first()
    columns = {_COUNT_FIELDS[k]: int(v or 0) for k, v in details.items() if k in _COUNT_FIELDS}
    extra = {k: v for k, v in details.items() if k not in _COUNT_FIELDS}
    if user and user_obj is None:
        extra["user"] = user
    return BackupLog.objects.create(
        user=user_obj, operation=operation[:20], filename=filename[:255], commit=commit or "",
        success=success, error_message=error, details=extra, **columns,
    )
