"""Start a command now, run it on a signal: for races between processes.

    python launch.py attgit ARGS...     the real ``attgit ARGS`` (attgit.cli.main)
    python launch.py edit OPS_JSON      a person's edit through the ORM (dbtool's edit)

The process imports everything (Django, attgit), prints ``ready`` and
waits for a line on stdin; then it runs.  Starting Python and Django takes
far longer than a lock is held, so two processes released together really
do meet at the lock.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import django


def main(argv: list[str]) -> None:
    django.setup()
    import attgit.cli  # noqa: F401 - imported before the signal, on purpose
    import django_adapter.workingcopy  # noqa: F401

    sys.path.insert(0, str(Path(__file__).parent))
    import dbtool

    print("ready", flush=True)
    sys.stdin.readline()
    if argv[0] == "attgit":
        attgit.cli.main(argv[1:])
    elif argv[0] == "edit":
        sys.stdin = io.TextIOWrapper(io.BytesIO(argv[1].encode()))
        print(dbtool.edit(), flush=True)
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
