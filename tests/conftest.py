"""Test set-up shared by every test: hermetic git, Hypothesis profiles."""

from __future__ import annotations

import os

import pygit2
import pytest
from hypothesis import HealthCheck, settings

# Hermetic git: no user or system config leaks into the tests, for pygit2
# and for the C git the tests run to judge our repositories.
os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
os.environ["GIT_CONFIG_GLOBAL"] = os.devnull
os.environ.setdefault("GIT_AUTHOR_NAME", "attgit tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@attgit.invalid")
os.environ.setdefault("GIT_COMMITTER_NAME", "attgit tests")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "tests@attgit.invalid")
# Writers pack the repository in a detached process; the tests pack before
# returning, so that no packer outlives its test's folders (one test checks
# the detached packer itself).
os.environ.setdefault("ATTGIT_MAINTENANCE", "sync")
for level in (
    pygit2.enums.ConfigLevel.GLOBAL,
    pygit2.enums.ConfigLevel.XDG,
    pygit2.enums.ConfigLevel.SYSTEM,
):
    pygit2.settings.search_path[level] = ""

# Every property runs at least 100 examples (the design document's floor).
settings.register_profile(
    "ci", max_examples=100, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "dev", max_examples=100, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "deep", max_examples=2000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def tmp_repo_path(tmp_path):
    """A path where a test may create a bare repository."""
    return tmp_path / "repo.git"


_DATABASE_DIRS = ("django", "integration")


def pytest_collection_modifyitems(config, items):
    """Tests that touch a real database also run on PostgreSQL (run-tests
    selects them with -m postgres_too)."""
    for item in items:
        if any(part in _DATABASE_DIRS for part in item.path.parts) or item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.postgres_too)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, a session that runs a real background worker (the ``worker``
    fixture, tests/jobworker.py) keeps its test database in a file, for that
    other process to see; every other session keeps the fast in-memory one."""
    from django.conf import settings as django_settings

    if not any("worker" in getattr(item, "fixturenames", ()) for item in request.session.items):
        return
    db = django_settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("testdb") / "test.sqlite3")
