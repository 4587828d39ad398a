"""The console entry point: runs the CLI, maps library errors to the exit
codes of :class:`attgit.errors.ExitCode` and prints one line on stderr,
never a traceback (set ATTGIT_DEBUG=1 to see one).
"""


from __future__ import annotations

import os
import sys

import click

from attgit.cli.app import cli, explain
from attgit.errors import AttgitError, ExitCode, problem_lines


def invoke(argv=None, prog_name: str = "attgit") -> int:
    """Run the CLI and return its exit code.  The CLI framework's own errors
    (usage, abort) are shown here; an AttgitError propagates, for the caller
    to show its way (as does a database's own exception that its backend
    explains as one: "not migrated", "unreachable") (:func:`main` prints it, Django's ``manage.py attgit``
    raises it as a CommandError)."""
    try:
        cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except AttgitError:
        raise
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort: exit 130, not 1
            raise exc.__context__ from None
        click.echo(f"{prog_name}: aborted", err=True)
        return ExitCode.ERROR
    except click.ClickException as exc:
        exc.show()
        return ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except Exception as exc:
        explained = explain(exc)
        if explained is None:
            raise
        raise explained from exc
    return ExitCode.OK


#: The exit code of an interrupted command (Ctrl-C or SIGTERM): the shell's
#: 128 + SIGINT, as git and most commands exit on Ctrl-C.
INTERRUPTED = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as Ctrl-C is: the command stops where it is, every
    lock, transaction and temporary file unwinds, and it exits 130."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager stopping a job, `kill`) unwinds like
    Ctrl-C instead of killing the process where it stands; only the main
    thread can set a handler (a caller in another thread keeps its own)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def main(argv=None) -> None:
    """Console entry point: run the CLI and map errors to exit codes."""
    _stop_on_sigterm()
    try:
        code = invoke(argv)
    except AttgitError as exc:
        click.echo(f"attgit: error: {exc}", err=True)
        for line in problem_lines(exc):
            click.echo(line, err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        click.echo(f"attgit: {what}; nothing was half-applied", err=True)
        sys.exit(INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("ATTGIT_DEBUG"):
            raise
        click.echo(f"attgit: internal error: {type(exc).__name__}: {exc} (set ATTGIT_DEBUG=1 for details)", err=True)
        sys.exit(ExitCode.ERROR)
    sys.exit(code)
