"""``manage.py attgit ARGS...``: the ``attgit`` command inside this project.

The same CLI (:mod:`attgit.cli`) with the project's settings, database and
ATTGIT_REPO, so nobody needs DJANGO_SETTINGS_MODULE or a second install.
Every argument goes to attgit as given.  An attgit error becomes a
CommandError with the same message and attgit's exit code (the table in
:class:`attgit.errors.ExitCode`).
"""

from __future__ import annotations

import argparse
import contextlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from attgit.cli import invoke
from attgit.errors import AttgitError

#: Options manage.py itself acted on before the command ran (name: takes a value).
_DJANGO_OPTIONS = {"--settings": True, "--pythonpath": True, "--traceback": False}


class _Reported(CommandError):
    """attgit exited non-zero after showing its own message (a usage error)."""


class _PassThrough(CommandParser):
    """Every argument is attgit's: Django's parser would take attgit's
    options (--repo, --wait, --user ...) for its own and refuse them."""

    def parse_args(self, args=None, namespace=None):
        namespace = super().parse_args([], namespace)  # the defaults of Django's own options
        namespace.args = list(args or [])
        return namespace


class Command(BaseCommand):
    help = (
        "Run attgit (snapshot, diff, merge and sync the attendance data) with this project's "
        "settings. Everything after 'attgit' goes to attgit; 'manage.py attgit --help' lists its "
        "commands. Example: manage.py attgit pull prod --strategy manual"
    )
    requires_system_checks = []  # attgit checks what it needs; --help must work anywhere

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _PassThrough
        return parser

    def add_arguments(self, parser):
        parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS",
                            help="attgit's command and options, e.g. log -n 5")

    def run_from_argv(self, argv):
        """Like Django's, with attgit's way of showing an error."""
        self._called_from_command_line = True
        try:
            self.execute(*argv[2:], force_color=False, no_color=False, skip_checks=True)
        except CommandError as exc:
            if not isinstance(exc, _Reported):
                self.stderr.write(f"attgit: error: {exc}")
            raise SystemExit(exc.returncode) from None
        finally:
            connections.close_all()

    def handle(self, *args, **options):
        argv = _attgit_args(args)
        if settings.SETTINGS_MODULE:  # the project's own, whatever the environment says
            argv = ["--settings", settings.SETTINGS_MODULE, *argv]
        with contextlib.redirect_stdout(self.stdout._out), contextlib.redirect_stderr(self.stderr._out):
            try:
                code = invoke(argv, prog_name="manage.py attgit")
            except AttgitError as exc:
                raise CommandError(str(exc), returncode=exc.exit_code) from None
        if code:
            raise _Reported(f"attgit exited with code {code}", returncode=code)


def _attgit_args(argv: list[str]) -> list[str]:
    """``argv`` without the options manage.py already acted on."""
    out, skip = [], False
    for arg in argv:
        name = arg.split("=", 1)[0]
        if skip:
            skip = False
        elif name in _DJANGO_OPTIONS:
            skip = _DJANGO_OPTIONS[name] and "=" not in arg
        else:
            out.append(arg)
    return out
