"""One attgit writer per database: lock() refuses a second holder, says who
holds it, and is free again once released."""

from __future__ import annotations

import threading

import pytest
from dj_helpers import database_url, python, site_env
from django.db import connection

from attgit.errors import Locked

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGE = r"database .* is locked by another attgit process \(pid \d+"


def test_a_second_holder_is_refused_until_the_first_lets_go(wc):
    with wc.lock():
        with pytest.raises(Locked, match=MESSAGE):
            with wc.lock():
                pass
    with wc.lock():
        pass


def test_a_holder_in_another_thread_keeps_the_lock(wc):
    taken, release = threading.Event(), threading.Event()

    def hold():
        with wc.lock():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(10)
        with pytest.raises(Locked, match=MESSAGE):
            with wc.lock():
                pass
    finally:
        release.set()
        holder.join()
    with wc.lock():
        pass


def test_waiting_gives_up_after_the_wait(wc):
    with wc.lock():
        with pytest.raises(Locked):
            with wc.lock(wait=0.2):
                pass


HOLD = """
import sys, django
django.setup()
from django_adapter.workingcopy import connect
with connect().lock():
    print("locked", flush=True)
    sys.stdin.read()
"""
TRY = """
import django
django.setup()
from attgit.errors import Locked
from django_adapter.workingcopy import connect
try:
    with connect().lock():
        print("acquired")
except Locked as exc:
    print(exc)
"""


def test_another_process_is_refused_and_told_the_holders_pid(tmp_path):
    """Two processes on one database: a file database for SQLite (the test
    database lives in memory), the test database itself for PostgreSQL."""
    if connection.vendor == "postgresql":
        env = site_env(DATABASE_URL=database_url())
    else:
        env = site_env(ATTGIT_DB_PATH=str(tmp_path / "db.sqlite3"), ATTGIT_VAR_DIR=str(tmp_path))
    holder = python(HOLD, env, stdin=-1, stdout=-1)
    try:
        assert holder.stdout.readline().strip() == "locked"
        out = python(TRY, env, stdout=-1).communicate(timeout=60)[0]
        assert f"(pid {holder.pid}" in out and "is locked by another attgit process" in out
    finally:
        holder.communicate("", timeout=60)
    assert python(TRY, env, stdout=-1).communicate(timeout=60)[0].strip() == "acquired"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
def test_the_holder_named_is_this_databases_not_another_ones_on_the_server(tmp_path):
    """Another database on the same server holding the same advisory key
    (a staging site beside production) is not this database's holder: a
    CI run beside another site's worker named the other's pid."""
    import uuid

    import psycopg

    from django_adapter.dblock import ADVISORY_KEY

    url = database_url()
    other = f"attgit_lock_other_{uuid.uuid4().hex[:8]}"
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{other}"')
    try:
        with psycopg.connect(f"{server}/{other}", autocommit=True) as elsewhere:
            elsewhere.execute("SELECT set_config('application_name', 'attgit writer lock (pid 4242424)', false)")
            assert elsewhere.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()[0]
            env = site_env(DATABASE_URL=url)
            assert python(TRY, env, stdout=-1).communicate(timeout=60)[0].strip() == "acquired"  # per database
            holder = python(HOLD, env, stdin=-1, stdout=-1)
            try:
                assert holder.stdout.readline().strip() == "locked"
                out = python(TRY, env, stdout=-1).communicate(timeout=60)[0]
                assert f"(pid {holder.pid})" in out and "4242424" not in out, out
            finally:
                holder.communicate("", timeout=60)
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')

