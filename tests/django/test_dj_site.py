"""The example site and the app's models: migrations current, deploy
settings clean, model rules."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dj_helpers import EXAMPLES, site_env
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from django_adapter.models import BackupLog, Remote, User


@pytest.mark.django_db
def test_migrations_match_the_models():
    call_command("makemigrations", "attendance", "--check", "--dry-run", verbosity=0)


def test_deploy_checks_pass_with_production_settings():
    env = site_env(DJANGO_SECRET_KEY="x7#Kq2!vP9zR4@mW8&nL1^bT6*cY3%hJ5$fD0(gS)aE-uZ+oI=wQ")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
         "--settings", "attendance_site.settings_production"],
        cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_demand_a_secret_key():
    env = site_env()
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--settings", "attendance_site.settings_production"],
        cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_sqlite_takes_the_write_lock_when_a_transaction_starts():
    if connection.vendor == "sqlite":
        assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.django_db
def test_root_role_or_superuser_is_root():
    assert User(role=User.ROOT).is_root
    assert User(role=User.COMPANY, is_superuser=True).is_root
    assert not User(role=User.COMPANY).is_root


@pytest.mark.parametrize("name,valid", [
    ("origin", True), ("prod-2.eu_west", True), ("..", False), ("a..b", False),
    ("x.lock", False), ("-x", False), ("has space", False), ("end.", False), ("a/b", False),
])
def test_remote_names_are_safe_git_names(name, valid):
    remote = Remote(name=name, url="/srv/attendance.git")
    if valid:
        remote.clean_fields()
    else:
        with pytest.raises(ValidationError):
            remote.clean_fields()


@pytest.mark.django_db
def test_backup_log_works_without_a_user_and_outlives_one():
    user = User.objects.create_user("someone")
    BackupLog.objects.create(operation="commit", commit="a" * 40, details={"records": 3})
    BackupLog.objects.create(operation="pull", user=user)
    user.delete()
    assert BackupLog.objects.filter(user=None).count() == 2
