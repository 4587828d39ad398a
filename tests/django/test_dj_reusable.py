"""The app in an existing project (issue 12.5): with Django's own auth.User
(examples/attendance_site/settings_plain.py) `manage.py check` and
`migrate` pass, the attendance.User model is swapped out, and the root
hook works with a superuser and with the permission."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from dj_helpers import EXAMPLES, site_env

PLAIN = "attendance_site.settings_plain"


@pytest.fixture(scope="module")
def plain_site(tmp_path_factory):
    """A migrated SQLite database of the plain project."""
    folder = tmp_path_factory.mktemp("plain")
    env = site_env(DJANGO_SETTINGS_MODULE=PLAIN, ATTGIT_DB_PATH=str(folder / "db.sqlite3"),
                   ATTGIT_VAR_DIR=str(folder / "var"), ATTGIT_REPO=str(folder / "repo.git"),
                   LOGNAME="ops", USER="ops")
    env.pop("ATTGIT_USER", None)
    return env, folder


def manage(env, *args, code=0) -> subprocess.CompletedProcess:
    args = [*args, "-v0"] if args[0] == "shell" else args  # no "N objects imported" banner
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=EXAMPLES, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == code, done.stdout + done.stderr
    return done


def test_check_and_migrate_pass_with_django_s_own_user_model(plain_site):
    env, folder = plain_site
    assert "no issues" in manage(env, "check").stdout
    manage(env, "migrate", "-v0")
    manage(env, "makemigrations", "--check", "--dry-run")
    tables = manage(env, "shell", "-c", "from django.db import connection; "
                                         "print(sorted(connection.introspection.table_names()))").stdout
    assert "'auth_user'" in tables and "'attendance_backuplog'" in tables
    assert "attendance_user" not in tables  # the optional model is swapped out


def test_root_hook_with_a_superuser_and_with_the_permission(plain_site):
    env, folder = plain_site
    manage(env, "migrate", "-v0")
    script = textwrap.dedent("""
        from django.contrib.auth.models import Permission, User
        from django_adapter.access import is_root
        admin = User.objects.create_superuser("admin")
        auditor = User.objects.create_user("auditor")
        auditor.user_permissions.add(Permission.objects.get(codename="backup_restore"))
        User.objects.create_user("clerk")
        print(sorted(u.username for u in User.objects.all() if is_root(User.objects.get(pk=u.pk))))
    """)
    assert manage(env, "shell", "-c", script).stdout.strip() == "['admin', 'auditor']"
    out = folder / "b.json"
    manage(env, "backup_data", "--user", "auditor", "--output", str(out))
    refused = manage(env, "backup_data", "--user", "clerk", "--output", str(folder / "x.json"), code=13)
    assert "is not a root user" in refused.stderr and not (folder / "x.json").exists()
    manage(env, "restore_data", "--user", "admin", "--input", str(out))
    who = manage(env, "shell", "-c", "from django_adapter.models import BackupLog; "
                                      "print([(l.operation, l.actor, l.success) for l in "
                                      "BackupLog.objects.order_by('id')])").stdout
    assert who.strip() == ("[('backup_full', 'auditor', True), ('backup_full', 'clerk', False), "
                           "('restore', 'admin', True)]")
