"""The ``attgit`` command: the only package that imports the CLI framework.

``app`` holds the command group and what every command shares (the
repository, the backend, the locks, output helpers); each other module is
one family of commands, and only parses, calls one library function and
prints.  ``main`` maps library errors to exit codes.
"""

from attgit.cli import history, maintenance, merge, remote, restore  # noqa: F401  (registers the commands)
from attgit.cli.app import cli
from attgit.cli.main import invoke, main

__all__ = ["cli", "invoke", "main"]
