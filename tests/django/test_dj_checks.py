"""The app's system checks: each missing part of the integration is named,
with the line that adds it; the example site, which has every part, passes."""

from __future__ import annotations

import pytest
from django.core import checks
from django.db import connection

from attgit.repo import cgit
from django_adapter import changelog
from django_adapter import checks as attgit_checks


def ids(found) -> list[str]:
    return [issue.id for issue in found]


def test_the_example_site_has_every_part():
    assert checks.run_checks(tags=["attgit"]) == []


@pytest.mark.django_db
def test_the_database_checks_pass_on_a_migrated_database():
    assert checks.run_checks(tags=["attgit"], databases=["default"]) == []


def test_a_missing_repository_setting_is_named_with_the_line_to_add(settings):
    settings.ATTGIT_REPO = None
    [issue] = attgit_checks.check_repository()
    assert issue.id == "attgit.E001" and issue.level == checks.ERROR
    assert "ATTGIT_REPO" in issue.msg and 'ATTGIT_REPO = BASE_DIR / "attendance.git"' in issue.hint


def test_urls_not_included_are_named_with_the_line_to_add(settings):
    settings.ROOT_URLCONF = "dj_urls_bare"
    [issue] = attgit_checks.check_urls()
    assert issue.id == "attgit.E002"
    assert 'path("attgit/", include("django_adapter.urls"))' in issue.hint and "dj_urls_bare.py" in issue.hint


@pytest.mark.parametrize("tasks, why", [
    (None, "run inside the request"),
    ({"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}, "run inside the request"),
    ({"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}, "never run"),
])
def test_a_tasks_backend_without_a_worker_is_named(settings, tasks, why):
    settings.TASKS = tasks
    [issue] = attgit_checks.check_tasks()
    assert issue.id == "attgit.W003" and why in issue.msg
    assert "django_tasks_db.DatabaseBackend" in issue.hint and "db_worker" in issue.hint


def test_the_database_backend_passes(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert attgit_checks.check_tasks() == []


def test_missing_git_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no git on it
    cgit.version.cache_clear()
    try:
        [issue] = attgit_checks.check_git()
    finally:
        monkeypatch.undo()
        cgit.version.cache_clear()
    assert issue.id == "attgit.E005" and "git" in issue.msg and "apt-get install git" in issue.hint
    assert attgit_checks.check_git() == []  # with the real git back on PATH


@pytest.mark.parametrize("said, found", [
    ("git version 2.29.0\n", "2.29.0"),
    ("git version 2.39.5\n", "2.39.5"),
    ("git version 2.30.1.windows.1\n", "2.30.1.windows.1"),
    ("git version 2.39.3 (Apple Git-146)\n", "2.39.3"),
    ("git version 2.100.0\n", "2.100.0"),  # numbers, not text: 100 > 29
    ("git version 3.0.0\n", "3.0.0"),
])
def test_a_git_of_2_29_or_later_passes_the_version_check(said, found):
    assert cgit.checked_version(said, "/usr/bin/git") == found


@pytest.mark.parametrize("said, found", [
    ("git version 2.28.0\n", "2.28.0"),
    ("git version 2.9.5\n", "2.9.5"),  # as text 2.9 would sort after 2.29
    ("git version 2.25.1.windows.1\n", "2.25.1.windows.1"),
    ("git version 1.8.3.1\n", "1.8.3.1"),
])
def test_a_git_older_than_2_29_is_refused_naming_both_versions(said, found):
    from attgit.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        cgit.checked_version(said, "/usr/bin/git")
    assert str(refused.value) == f"attgit needs C git 2.29 or later; /usr/bin/git is git {found}: upgrade it"


def test_the_check_asks_the_installed_git_through_the_version_check():
    """check_git -> cgit.version -> cgit.checked_version on the real git's answer."""
    import subprocess

    said = subprocess.run(["git", "--version"], capture_output=True, text=True, check=True).stdout
    cgit.version.cache_clear()
    assert cgit.version() == cgit.checked_version(said) and attgit_checks.check_git() == []


def test_sqlite_without_immediate_transactions_is_named():
    issue = attgit_checks.sqlite_issue("default", {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"})
    assert issue.id == "attgit.W006" and '"transaction_mode": "IMMEDIATE"' in issue.hint
    settings = {"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {"transaction_mode": "IMMEDIATE"}}
    assert attgit_checks.sqlite_issue("default", settings) is None
    assert attgit_checks.sqlite_issue("default", {"ENGINE": "django.db.backends.postgresql"}) is None


@pytest.mark.django_db(transaction=True)
def test_missing_change_log_triggers_are_named():
    changelog.uninstall(connection)
    try:
        [issue] = attgit_checks.check_triggers(databases=["default"])
    finally:
        changelog.install(connection)
    assert issue.id == "attgit.W007" and "migrate" in issue.hint
    assert attgit_checks.check_triggers(databases=["default"]) == []



@pytest.mark.django_db
def test_a_new_project_signs_in_on_the_app_s_own_pages(settings, client):
    from django.contrib.auth import get_user_model

    settings.ROOT_URLCONF = "dj_urls_newcomer"
    # Django's defaults, which name pages a new project does not have.
    settings.LOGIN_URL, settings.LOGIN_REDIRECT_URL, settings.LOGOUT_REDIRECT_URL = \
        "/accounts/login/", "/accounts/profile/", None
    get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    assert client.get("/attgit/backup/").url == "/attgit/login/?next=/attgit/backup/"
    assert client.get("/attgit/").url == "/attgit/attendance/"
    page = client.get("/attgit/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    signed_in = client.post("/attgit/login/", {"username": "admin", "password": "pw"})
    assert signed_in.status_code == 302 and signed_in.url == "/attgit/attendance/"
    assert client.get("/attgit/attendance/").status_code == 200
    assert client.post("/attgit/logout/").url == "/attgit/login/"


@pytest.mark.django_db
def test_with_django_s_auth_urls_the_project_s_login_page_is_used_and_renders(settings, client):
    settings.ROOT_URLCONF = "dj_urls_auth"
    settings.LOGIN_URL, settings.LOGIN_REDIRECT_URL = "/accounts/login/", "/accounts/profile/"
    assert client.get("/attgit/backup/").url == "/accounts/login/?next=/attgit/backup/"
    page = client.get("/accounts/login/")  # registration/login.html: the app's template
    assert page.status_code == 200 and b'name="password"' in page.content
