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
        interrupt = exc.__cause__ or exc.__context__
        if isinstance(interrupt, KeyboardInterrupt):  # click turns Ctrl-C (and SIGTERM/SIGHUP) into Abort
            raise interrupt from None  # main() exits 130 (Ctrl-C) or 128 + the signal, not 1
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


def main(argv=None) -> None:
    """Console entry point: run the CLI and map errors to exit codes."""
    from attgit.interrupts import Terminated, termination_interrupts

    try:
        with termination_interrupts():
            code = invoke(argv)
    except Terminated as exc:
        click.echo(f"attgit: terminated (signal {exc.signum}); nothing was half-applied", err=True)
        sys.exit(128 + exc.signum)
    except AttgitError as exc:
        click.echo(f"attgit: error: {exc}", err=True)
        for line in problem_lines(exc):
            click.echo(line, err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("attgit: interrupted; nothing was half-applied", err=True)
        sys.exit(128 + 2)  # the shell's code for SIGINT, as git's
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("ATTGIT_DEBUG"):
            raise
        click.echo(f"attgit: internal error: {type(exc).__name__}: {exc} (set ATTGIT_DEBUG=1 for details)", err=True)
        sys.exit(ExitCode.ERROR)
    sys.exit(code)
