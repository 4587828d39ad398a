"""Fixtures of the Django tests: the example site's settings, on SQLite by
default and on PostgreSQL when ``DATABASE_URL`` points at one.

Test modules here are named ``test_dj_*`` because this folder is not a
package (a package named ``django`` would hide Django itself).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# tests/strategies.py, shared with the library's tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture
def wc():
    from django.db import connection, transaction

    from django_adapter import changelog
    from django_adapter.workingcopy import DjangoWorkingCopy

    # The test database was flushed between tests: the log's guard logged
    # that deletion as "compare everything".  Start from an empty log.
    with transaction.atomic(), changelog.consuming(connection), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {changelog.LOG}")
    return DjangoWorkingCopy()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2's 1M rounds cost ~0.3 s a user; tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
