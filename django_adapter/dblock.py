"""The database's single-writer lock: one attgit writer per database.

PostgreSQL: a session-level advisory lock on a connection of its own, so
Django closing or recycling its connection cannot drop the lock midway,
and the server drops it if the process dies.  SQLite: ``flock`` on
``<database file>.attgit-lock`` (:func:`attgit.repo.locking.file_lock`), which
the kernel drops if the process dies.  Neither can go stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Iterator

from attgit.errors import ConfigError, Locked
from attgit.repo.locking import file_lock

#: pg_try_advisory_lock's key: any bigint of our own, the same in every process.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"attgit database writer").digest()[:8], "big") >> 1
_APP_NAME = "attgit writer lock (pid {pid})"


def database_lock(connection, wait: float = 0.0):
    """The lock for Django ``connection``'s database, as a context manager."""
    what = f"database {describe(connection)}"
    if connection.vendor == "postgresql":
        return advisory_lock(connection, what, wait)
    if connection.vendor == "sqlite":
        return file_lock(sqlite_lock_path(connection), what, wait)
    raise ConfigError(f"attgit cannot lock a {connection.vendor} database (PostgreSQL or SQLite only)")


def describe(connection) -> str:
    """The database as a person names it: its alias and its name."""
    return f"{connection.alias!r} ({connection.settings_dict['NAME']})"


def sqlite_lock_path(connection) -> Path:
    """``<database file>.attgit-lock``; for an in-memory database (tests),
    a file in the temporary directory private to this process."""
    name = str(connection.settings_dict["NAME"])
    if connection.is_in_memory_db():
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"attgit-memory-{os.getpid()}-{digest}.attgit-lock"
    return Path(name + ".attgit-lock")


@contextlib.contextmanager
def advisory_lock(connection, what: str, wait: float = 0.0) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock on a dedicated session."""
    session = _open_session(connection)
    try:
        _try_lock(session, what, wait)
        try:
            yield
        finally:
            session.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))
    finally:
        session.close()


def _open_session(connection):
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    session = connection.Database.connect(**params, autocommit=True)
    session.execute("SELECT set_config('application_name', %s, false)",
                    (_APP_NAME.format(pid=os.getpid()),))
    return session


def _try_lock(session, what: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while not session.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()[0]:
        if time.monotonic() >= deadline:
            raise Locked(f"{what} is locked by another attgit process{_holder(session)}; "
                         "wait for it to finish and try again")
        time.sleep(0.05)


def _holder(session) -> str:
    """`` (pid N)``: the holder's own pid, read from its session's name
    (advisory locks are per database: another database on the same server
    may hold the same key, and its holder is not this one's)."""
    row = session.execute(
        """SELECT a.application_name, a.pid FROM pg_locks l
           JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.granted
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid::bigint = %s::bigint AND l.objid::bigint = %s::bigint
             AND l.objsubid = 1""",
        (ADVISORY_KEY >> 32, ADVISORY_KEY & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return ""
    name, server_pid = row
    match = re.search(r"\(pid (\d+)\)", name or "")
    return f" (pid {match.group(1)})" if match else f" (server process {server_pid})"
