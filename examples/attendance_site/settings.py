"""Settings of the example attendance site (development).

Environment:

- ``DATABASE_URL``: any database dj-database-url understands, e.g.
  ``postgres://postgres@127.0.0.1:5432/postgres``.  Without it, SQLite at
  ``ATTGIT_DB_PATH`` (default ``examples/var/db.sqlite3``).
- ``ATTGIT_REPO``: the bare git repository attgit keeps (default
  ``examples/var/repo.git``).
- ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``.

SQLite runs every ``transaction.atomic`` block as ``BEGIN IMMEDIATE``
(``transaction_mode``, Django >= 5.1): a transaction takes the write lock
when it starts, so attgit's apply never fails halfway for want of a lock
that a reader turned writer could not upgrade, and a second writer waits
(up to ``timeout`` seconds) instead of failing at once.  WAL lets pages be
read while an apply writes.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent  # examples/
VAR_DIR = Path(os.environ.get("ATTGIT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-attgit-example-site-only")
DEBUG = os.environ.get("DJANGO_DEBUG", "1").lower() not in ("0", "false", "no", "")
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "django_adapter.apps.AttendanceConfig",
]

# Background jobs (backups, restores, merges, the admin's sync) are tasks of
# Django's tasks framework (the django-tasks backport), stored in the
# database and run by a separate worker process:
#     python examples/manage.py db_worker
# so a restarted or recycled web server never kills one midway.  The worker
# and the web server must share ATTGIT_JOB_DIR (progress and heartbeats).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "attendance_site.urls"
WSGI_APPLICATION = "attendance_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,  # django_adapter/templates/attendance/
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL;",
}


def database_config() -> dict:
    """``DATABASE_URL`` if set, else SQLite in ``VAR_DIR``, with our SQLite options."""
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url)
    else:
        path = os.environ.get("ATTGIT_DB_PATH", str(VAR_DIR / "db.sqlite3"))
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
    return config


DATABASES = {"default": database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "attendance.User"  # the app's optional user model (role, company)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "attgit:attendance_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("ATTGIT_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# attgit
ATTGIT_REPO = os.environ.get("ATTGIT_REPO", str(VAR_DIR / "repo.git"))
ATTGIT_BACKUP_DIR = os.environ.get("ATTGIT_BACKUP_DIR", str(VAR_DIR / "backups"))
ATTGIT_DEFAULT_STRATEGY = "theirs"  # file restores: the design document's backup_wins
ATTGIT_PULL_STRATEGY = "manual"  # "Sync from remote": conflicts wait for a person (theirs/ours decide them)
# The GnuPG home whose private key decrypts encrypted backup files (None: $GNUPGHOME or ~/.gnupg).
ATTGIT_GNUPGHOME = os.environ.get("ATTGIT_GNUPGHOME") or None
# When `manage.py attgit_scheduler` (beside db_worker; or attgit_scheduled from cron) commits a
# snapshot, writes a scheduled backup file (ATTGIT_BACKUP_SCHEDULE, off by default), checks the
# database (ATTGIT_VERIFY_SCHEDULE, off by default: docs/safety-net.md), and how many scheduled
# backup files it keeps (docs/schedule-storage.md).
ATTGIT_SCHEDULE = {
    "snapshot": os.environ.get("ATTGIT_SNAPSHOT_SCHEDULE", "daily 02:00"),
    **({"backup": os.environ["ATTGIT_BACKUP_SCHEDULE"]} if os.environ.get("ATTGIT_BACKUP_SCHEDULE") else {}),
    **({"verify": os.environ["ATTGIT_VERIFY_SCHEDULE"]} if os.environ.get("ATTGIT_VERIFY_SCHEDULE") else {}),
    "keep": {"last": int(os.environ.get("ATTGIT_BACKUP_KEEP_LAST", "14"))},
}
# Who is root: a callable's dotted path; unset, a superuser, role "root" or
# the permission attendance.backup_restore (django_adapter.access).
# ATTGIT_IS_ROOT = "myproject.auth.is_root"
ATTGIT_UPLOAD_LIMIT = 100 * 1024 * 1024  # the design document's 100 MB
# The web pages keep uploaded backup files (under random ids) and the
# progress of background jobs here, outside the web root like the backups.
ATTGIT_UPLOAD_DIR = os.environ.get("ATTGIT_UPLOAD_DIR", str(VAR_DIR / "uploads"))
ATTGIT_JOB_DIR = os.environ.get("ATTGIT_JOB_DIR", str(VAR_DIR / "jobs"))
# A running job's worker touches its progress file every 2 s; a job whose
# file is older than this many seconds (or whose worker process, on this
# machine, is gone) is shown as interrupted, with a retry button.
ATTGIT_JOB_HEARTBEAT_TIMEOUT = 30
# How long a job waits for another attgit operation to let go of the locks.
ATTGIT_JOB_LOCK_WAIT = 60

# Form fields stay small; an uploaded file goes to a temporary file on disk
# past 1 MB instead of memory.  The upload limit itself is enforced by the
# restore page before Django parses the request (ATTGIT_UPLOAD_LIMIT).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o600

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "attgit": {"handlers": ["console"], "level": os.environ.get("ATTGIT_LOG_LEVEL", "INFO")},
        "django_adapter": {"handlers": ["console"], "level": os.environ.get("ATTGIT_LOG_LEVEL", "INFO")},
    },
}
