"""The audit log: one BackupLog row per backup, restore or attgit operation,
each naming who did it (``actor``), and their account where there is one."""

from __future__ import annotations

from .access import Actor, operator_login, root_named
from .models import BackupLog

_OPERATIONS = {value for value, _ in BackupLog.OPERATION_CHOICES}
_COUNTS = {"companies": "companies_count", "records": "records_count",
           "added": "records_added", "updated": "records_updated", "skipped": "records_skipped"}


def log_operation(operation: str, user=None, *, success: bool = True, error: str = "",
                  filename: str = "", commit: str = "", using: str = "default",
                  **details) -> BackupLog:
    """Write one audit row.  ``user`` is a user, an
    :class:`~django_adapter.access.Actor`, a name, or None (the operator's
    login); a name is linked to the root user of that name, if any.
    ``companies``/``records``/``added``/``updated``/``skipped`` go to their
    columns, any other detail to ``details`` (as JSON)."""
    counts = {column: int(details.pop(name) or 0) for name, column in _COUNTS.items()
              if name in details}
    if operation not in _OPERATIONS:
        details["operation"], operation = operation, "sync"
    actor = _actor(user, using)
    return BackupLog.objects.using(using).create(
        user=actor.user,
        actor=actor.name[:150],
        operation=operation,
        filename=str(filename)[-255:],
        commit=str(commit or "")[:64],
        success=success,
        error_message=" ".join(str(error).split()),
        details={k: _jsonable(v) for k, v in details.items()},
        **counts,
    )


def _actor(who, using: str) -> Actor:
    if isinstance(who, Actor):
        return who
    if who is None or isinstance(who, str):
        name = who or operator_login()
        user = root_named(name, using)
        return Actor.of(user) if user is not None else Actor(name)
    return Actor.of(who)


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
