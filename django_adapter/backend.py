"""attgit's default backend: the Django database (``attgit --settings ...``).

:func:`open_backend` is what ``attgit.ops.backend.DEFAULT_BACKEND`` names; the
CLI calls it with the settings module given to ``--settings`` (or None,
for ``$DJANGO_SETTINGS_MODULE``).
"""

from __future__ import annotations

import os
import sys
from typing import Optional

from attgit.errors import ConfigError
from attgit.ops.backend import Backend


def open_backend(settings_module: Optional[str] = None) -> Backend:
    """Set Django up and return the default database as attgit's backend."""
    _setup_django(settings_module)
    from django.conf import settings
    from django.utils import timezone

    from .audit import log_operation
    from .workingcopy import connect

    db = connect()
    return Backend(
        db=db,
        repo_path=getattr(settings, "ATTGIT_REPO", None),
        default_strategy=getattr(settings, "ATTGIT_DEFAULT_STRATEGY", "theirs"),
        log=log_operation,
        time_zone=timezone.get_default_timezone(),
        gnupghome=getattr(settings, "ATTGIT_GNUPGHOME", None),
        identify=identify,
        extras={"records_since": db.records_since, "companies": db.companies_with_created_at},
    )


def identify(username: Optional[str]):
    """The commit author for ``username`` (None: the operator at the shell),
    through :func:`django_adapter.repository.resolve_actor`: a named user
    must exist, be active and be root (else PermissionDenied, exit 13)."""
    from django.db import DatabaseError as DjangoDatabaseError

    from attgit.errors import DatabaseError

    from .repository import author_for, resolve_actor

    try:
        return author_for(resolve_actor(username))
    except DjangoDatabaseError as exc:
        raise DatabaseError(f"cannot look up the acting user {username or '(operator)'}: {exc} "
                            "(has `manage.py migrate` run?)") from None


def _setup_django(settings_module: Optional[str]) -> None:
    """django.setup() with a clear ConfigError instead of a traceback.

    The current directory is importable, as for ``manage.py``, so
    ``attgit --settings attendance_site.settings`` works from ``examples/``.
    """
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    elif not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise ConfigError("no Django settings: pass --settings MODULE or set DJANGO_SETTINGS_MODULE")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except (ImportError, ImproperlyConfigured) as exc:
        raise ConfigError(
            f"cannot load Django settings {os.environ['DJANGO_SETTINGS_MODULE']!r}: {exc}"
        ) from None
