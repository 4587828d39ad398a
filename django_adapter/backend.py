"""The Django backend of the ``attgit`` command.

``attgit`` names this function (``django_adapter.backend:open_backend``) by
string and calls it, so the library never imports Django.  It sets Django
up with the given settings and hands back the database as a working copy,
the repository path from the ATTGIT_REPO setting, and the BackupLog as the
audit log every command writes to.
"""

from __future__ import annotations

import os
from typing import Optional

from attgit.backend import Backend
from attgit.errors import ConfigError


def setup_django(settings: Optional[str]) -> None:
    """Configure Django once; a clear ConfigError when that fails."""
    if settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise ConfigError("no Django settings: pass --settings MODULE or set DJANGO_SETTINGS_MODULE")
    import django
    from django.apps import apps

    if apps.ready:
        return
    try:
        django.setup()
    except ImportError as exc:
        raise ConfigError(f"cannot load Django settings {os.environ['DJANGO_SETTINGS_MODULE']!r}: {exc}") from None
    except Exception as exc:  # ImproperlyConfigured and friends
        raise ConfigError(f"invalid Django settings {os.environ['DJANGO_SETTINGS_MODULE']!r}: {exc}") from None


def open_backend(settings: Optional[str] = None, user=None) -> Backend:
    """The example site's database (or any project using this app)."""
    setup_django(settings)
    from django.conf import settings as conf

    from .audit import log_operation
    from .workingcopy import connect

    db = connect()
    return Backend(
        db=db,
        repo_path=str(getattr(conf, "ATTGIT_REPO", "") or "") or None,
        default_strategy=getattr(conf, "ATTGIT_DEFAULT_STRATEGY", "theirs"),
        log=lambda operation, **details: log_operation(operation, user_obj=user, **details),
        extras={"records_since": db.records_since, "companies": db.companies_with_created_at},
    )
