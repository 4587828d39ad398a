"""Who acts in a management command (``--user``, ``$ATTGIT_USER``, else the
operator at the shell), decided by :func:`django_adapter.access.acting`.

A refusal is written to the audit log under the name that was given, and
becomes a CommandError with exit code 13 (``ExitCode.PERMISSION_DENIED``).
"""

from __future__ import annotations

from typing import Optional

from django.core.management.base import CommandError

from attgit.errors import PermissionDenied

from ..access import Actor, acting
from ..audit import log_operation


def command_actor(operation: str, username: Optional[str], using: str = "default") -> Actor:
    """The actor of ``operation``; CommandError (exit 13) when refused."""
    try:
        return acting(username, using)
    except PermissionDenied as exc:
        import os

        claimed = username or os.environ.get("ATTGIT_USER", "")
        log_operation(operation, claimed, success=False, error=str(exc), using=using, refused=True)
        raise CommandError(str(exc), returncode=exc.exit_code) from None
