"""Run the real ``attgit`` command and SIGKILL it at one exact point.

    python crashpoint.py POINT ARGS...     like ``attgit ARGS...``, killed at POINT

A random kill seldom lands in the few milliseconds between a database
transaction's commit and the branch move; this lands there on purpose.
Nothing is replaced: the command's own code runs, and at POINT the process
kills itself with SIGKILL (no cleanup, no ``finally``), as the kernel would.

Points, in the order a pull passes them:

    fetched       the remote's objects and refs/remotes/<name>/main are written
    pre-commit    the pre-pull snapshot commit is on main, the database does not yet record it
    objects       the merge commit's objects are written; the database transaction has not begun
    mid-apply     inside the database transaction, some rows already written
    applied       the transaction is committed; main has not moved yet
"""

from __future__ import annotations

import functools
import os
import signal
import sys

import django


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after(owner, name: str, when=lambda *args, **kwargs: True) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            die()
        return result

    setattr(owner, name, wrapper)


def kill_before(owner, name: str, calls: int = 1) -> None:
    """Kill on the ``calls``-th call, before it runs."""
    original, seen = getattr(owner, name), [0]

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        seen[0] += 1
        if seen[0] >= calls:
            die()
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def arm(point: str) -> None:
    import attgit.repo.transport
    from attgit.repo.repository import Repository
    from django_adapter.bulk import RecordWriter
    from django_adapter.workingcopy import DjangoWorkingCopy

    if point == "fetched":
        kill_after(attgit.repo.transport, "fetch")
    elif point == "pre-commit":
        kill_after(Repository, "move_head", lambda self, old, new, reason: reason.startswith("attgit commit"))
    elif point == "objects":
        kill_before(DjangoWorkingCopy, "apply")
    elif point == "mid-apply":
        kill_before(RecordWriter, "update", calls=2)
    elif point == "applied":
        kill_after(DjangoWorkingCopy, "apply")
    else:
        raise SystemExit(f"unknown point {point!r}")


def main(argv: list[str]) -> None:
    django.setup()
    arm(argv[0])
    from attgit.cli import main as attgit

    attgit(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
