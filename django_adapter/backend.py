"""attgit's default backend: the Django database (``attgit --settings ...``).

:func:`open_backend` is what ``attgit.ops.backend.DEFAULT_BACKEND`` names; the
CLI calls it with the settings module given to ``--settings`` (or None,
for ``$DJANGO_SETTINGS_MODULE``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

from attgit.errors import AttgitError, ConfigError, DatabaseError
from attgit.interrupts import held
from attgit.ops.backend import Backend

#: The example site of a checkout (examples/attendance_site beside this
#: package): the settings attgit uses when none are given, so the README's
#: commands work as written in a fresh shell of the demo environment.
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_SETTINGS = "attendance_site.settings"
#: SQLSTATE of PostgreSQL's "relation does not exist"
_UNDEFINED_TABLE = "42P01"


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
        decompressed_limit=getattr(settings, "ATTGIT_DECOMPRESSED_LIMIT", None),
        identify=identify,
        explain=explain_error,
        database=describe_database(),
    )


def describe_database() -> str:
    """The default database as a person finds it: engine, name (a SQLite
    file's absolute path), host, and the settings module that chose it."""
    from django.conf import settings
    from django.db import connection

    engine = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MySQL"}.get(connection.vendor,
                                                                                     connection.vendor)
    name = str(connection.settings_dict.get("NAME"))
    if connection.vendor == "sqlite" and name != ":memory:" and "mode=memory" not in name:
        name = str(Path(name).resolve())
    return f"{engine} {_describe_database() if connection.settings_dict.get('HOST') else repr(name)} " \
           f"(settings {settings.SETTINGS_MODULE})"


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


def explain_error(exc: BaseException) -> Optional[AttgitError]:
    """A database exception as the attgit error a person can act on:
    tables missing -> ConfigError (exit 11, "run migrate"); any other
    operational error (server down, wrong host, a file that cannot be
    opened) -> DatabaseError (exit 10)."""
    from django.db import utils

    if not isinstance(exc, utils.Error):
        return None
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if _missing_table(exc, first):
        return ConfigError(f"the database {_describe_database()} is not migrated ({first}): "
                           f"run `{_migrate_command()}` first")
    if isinstance(exc, (utils.OperationalError, utils.InterfaceError)):
        return DatabaseError(f"cannot use the database {_describe_database()}: {first}; "
                             "is the server running, and are DATABASE_URL and the settings right?")
    return None


def _missing_table(exc: BaseException, first: str) -> bool:
    return "no such table" in first or getattr(exc.__cause__, "sqlstate", None) == _UNDEFINED_TABLE


def _describe_database() -> str:
    from django.db import connection

    config = connection.settings_dict
    if config.get("HOST"):
        return f"{config.get('NAME')!r} at {config['HOST']}:{config.get('PORT') or 'default port'}"
    return repr(str(config.get("NAME")))


def _migrate_command() -> str:
    from django.conf import settings

    if settings.SETTINGS_MODULE == EXAMPLE_SETTINGS and (EXAMPLES_DIR / "manage.py").is_file():
        return f"python {_shortest(EXAMPLES_DIR / 'manage.py')} migrate"
    return "python manage.py migrate"


def _shortest(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


_NO_SETTINGS = "no Django settings: pass --settings MODULE or set DJANGO_SETTINGS_MODULE"


def _inside_checkout(folder: Path) -> bool:
    """Whether ``folder`` is the checkout that holds the example site, or
    inside it."""
    try:
        folder.resolve().relative_to(EXAMPLES_DIR.parent)
    except (ValueError, OSError):
        return False
    return True


def _setup_django(settings_module: Optional[str]) -> None:
    """django.setup() with a clear ConfigError instead of a traceback.

    The current directory is importable, as for ``manage.py``, so
    ``attgit --settings attendance_site.settings`` works from ``examples/``.
    In a checkout, the example site is importable too (last on the path, so
    a project's own modules win).  It is the default when no settings are
    named only while the current folder is inside the checkout (the demo
    environment needs no settings variable there); anywhere else, an
    editable install would otherwise act on the demo's database and
    repository for a cron line that forgot --settings.
    """
    example = (EXAMPLES_DIR / "attendance_site" / "settings.py").is_file()
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    elif not os.environ.get("DJANGO_SETTINGS_MODULE"):
        if not (example and _inside_checkout(Path.cwd())):
            raise ConfigError(_NO_SETTINGS + (f" (the example site's settings are the default only inside the "
                                              f"attgit checkout, {EXAMPLES_DIR.parent})" if example else ""))
        os.environ["DJANGO_SETTINGS_MODULE"] = EXAMPLE_SETTINGS
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if example and str(EXAMPLES_DIR) not in sys.path:
        sys.path.append(str(EXAMPLES_DIR))
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        with held():  # cut half-way, Django's registry refuses a second populate(): "internal error"
            django.setup()
    except (ImportError, ImproperlyConfigured) as exc:
        raise ConfigError(
            f"cannot load Django settings {os.environ['DJANGO_SETTINGS_MODULE']!r}: {exc}"
        ) from None
