"""The audit log: one BackupLog row per backup, restore or attgit operation."""

from __future__ import annotations

from typing import Optional

from .models import BackupLog, User

_OPERATIONS = {value for value, _ in BackupLog.OPERATION_CHOICES}
_COUNTS = {"companies": "companies_count", "records": "records_count",
           "added": "records_added", "updated": "records_updated", "skipped": "records_skipped"}


def log_operation(operation: str, user=None, *, success: bool = True, error: str = "",
                  filename: str = "", commit: str = "", using: str = "default",
                  **details) -> BackupLog:
    """Write one audit row.  ``user`` is a User, a username or None;
    ``companies``/``records``/``added``/``updated``/``skipped`` go to their
    columns, any other detail to ``details`` (as JSON)."""
    counts = {column: int(details.pop(name) or 0) for name, column in _COUNTS.items()
              if name in details}
    if operation not in _OPERATIONS:
        details["operation"], operation = operation, "sync"
    return BackupLog.objects.using(using).create(
        user=_user(user, using),
        operation=operation,
        filename=str(filename)[-255:],
        commit=str(commit or "")[:64],
        success=success,
        error_message=" ".join(str(error).split()),
        details={k: _jsonable(v) for k, v in details.items()},
        **counts,
    )


def _user(user, using: str) -> Optional[User]:
    if user is None or isinstance(user, User):
        return user
    return User.objects.using(using).filter(username=user).first()


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
