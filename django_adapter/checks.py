"""Django system checks (``manage.py check``): each names a missing setting
or part of the integration and the line that adds it, so a project that
followed half the README learns the other half from ``check``, not from a
500 page.

    attgit.E001  ATTGIT_REPO is not set
    attgit.E002  the app's URLs are not included (no ``attgit`` namespace)
    attgit.W003  no tasks backend with a worker: jobs run inside the request (or never)
    attgit.E004  the database tasks backend without its app (no table, no ``db_worker``)
    attgit.E005  C git is missing or older than 2.29
    attgit.W006  SQLite without ``transaction_mode = IMMEDIATE`` (the worker and the pages collide)
    attgit.W007  the change-log triggers are missing (``check --database default``, and ``migrate``)
"""

from __future__ import annotations

from typing import Optional

from django.conf import settings
from django.core import checks
from django.urls import NoReverseMatch, reverse

from attgit.errors import ConfigError
from attgit.repo import cgit

#: What the README's settings step adds, by part (the hints quote them).
REPO_LINE = 'ATTGIT_REPO = BASE_DIR / "attendance.git"'
URLS_LINE = 'path("attgit/", include("django_adapter.urls")),'
WORKER_APPS_LINE = 'INSTALLED_APPS += ["django_tasks", "django_tasks_db"]'
TASKS_LINE = 'TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}'
SQLITE_LINE = ('DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20, '
               '"init_command": "PRAGMA journal_mode=WAL;"}')
DATABASE_BACKEND = "django_tasks_db.DatabaseBackend"
#: Backends that have no worker: the first runs a job inside the request that starts it, the second never.
NO_WORKER = {"django_tasks.backends.immediate.ImmediateBackend": "run inside the request that starts them",
             "django.tasks.backends.immediate.ImmediateBackend": "run inside the request that starts them",
             "django_tasks.backends.dummy.DummyBackend": "are never run",
             "django.tasks.backends.dummy.DummyBackend": "are never run"}


def register() -> None:
    """Called by the app config's ``ready()``."""
    checks.register(check_repository, "attgit")
    checks.register(check_urls, checks.Tags.urls, "attgit")
    checks.register(check_tasks, "attgit")
    checks.register(check_git, "attgit")
    checks.register(check_sqlite, checks.Tags.database, "attgit")
    checks.register(check_triggers, checks.Tags.database, "attgit")


def check_repository(app_configs=None, **kwargs) -> list:
    if getattr(settings, "ATTGIT_REPO", None):
        return []
    return [checks.Error(
        "the ATTGIT_REPO setting is not set: attgit needs the path of the bare git repository it keeps "
        "(created on first use)",
        hint=f"add to settings.py: {REPO_LINE}", id="attgit.E001")]


def check_urls(app_configs=None, **kwargs) -> list:
    try:
        reverse("attgit:backup_data")
    except NoReverseMatch:
        return [checks.Error(
            "the attgit pages are not in the site's URLs (no 'attgit' URL namespace): every page of the app, "
            "its login page included, is unreachable",
            hint=f"add to urlpatterns in {settings.ROOT_URLCONF.replace('.', '/')}.py: {URLS_LINE} "
                 "(with `from django.urls import include, path`)",
            id="attgit.E002")]
    return []


def _backend() -> str:
    """The default tasks backend's dotted path (the framework's default when TASKS is unset)."""
    tasks = getattr(settings, "TASKS", None) or {}
    return (tasks.get("default") or {}).get("BACKEND", "django_tasks.backends.immediate.ImmediateBackend")


def check_tasks(app_configs=None, **kwargs) -> list:
    backend = _backend()
    if backend in NO_WORKER:
        return [checks.Warning(
            f"backups, restores and merges are background jobs, and with the tasks backend {backend} they "
            f"{NO_WORKER[backend]}: a long one would hold the page (or wait forever)",
            hint=f"add to settings.py: {WORKER_APPS_LINE} and {TASKS_LINE}, then run "
                 "`python manage.py db_worker` beside the web server",
            id="attgit.W003")]
    if backend == DATABASE_BACKEND and "django_tasks_db" not in settings.INSTALLED_APPS:
        return [checks.Error(
            f"TASKS names {DATABASE_BACKEND} but django_tasks_db is not in INSTALLED_APPS: its table is never "
            "made and there is no `db_worker` command to run the jobs",
            hint=f"add to settings.py: {WORKER_APPS_LINE}", id="attgit.E004")]
    return []


def check_git(app_configs=None, **kwargs) -> list:
    try:
        cgit.version()
    except ConfigError as exc:
        return [checks.Error(str(exc), hint="Debian/Ubuntu: apt-get install git; attgit needs git 2.29 or later",
                             id="attgit.E005")]
    return []


def check_sqlite(app_configs=None, databases=None, **kwargs) -> list:
    """A worker and the web server write the same SQLite file: without
    ``BEGIN IMMEDIATE`` a reader that turns writer fails at once with
    "database is locked" instead of waiting its turn."""
    return [issue for alias in databases or () if (issue := sqlite_issue(alias, settings.DATABASES[alias]))]


def sqlite_issue(alias: str, config: dict) -> Optional[checks.CheckMessage]:
    """The warning for one database's settings, or None."""
    if config["ENGINE"] != "django.db.backends.sqlite3":
        return None
    if (config.get("OPTIONS") or {}).get("transaction_mode") == "IMMEDIATE":
        return None
    return checks.Warning(
        f"database {alias!r} is SQLite without transaction_mode IMMEDIATE: the worker and the web "
        "pages writing at once can fail with 'database is locked'",
        hint=f"add to settings.py: {SQLITE_LINE}", id="attgit.W006")


def check_triggers(app_configs=None, databases=None, **kwargs) -> list:
    """The change-log triggers, once the app's tables exist (before the
    first ``migrate`` there is nothing to check)."""
    from django.db import DatabaseError, connections

    from .changelog import installed
    from .models import AttendanceRecord

    found = []
    for alias in databases or ():
        connection = connections[alias]
        try:
            if AttendanceRecord._meta.db_table not in connection.introspection.table_names():
                continue
            present = installed(connection)
        except DatabaseError:
            continue  # an unreachable database is Django's own check to report
        if not present:
            found.append(checks.Warning(
                f"the change-log triggers are missing on database {alias!r}: every status and commit reads "
                "the whole database instead of the rows that changed",
                hint="run `python manage.py migrate` (it puts them back)", id="attgit.W007"))
    return found
