"""The ``attgit`` command: the only package that imports the CLI framework.

``app`` holds the command group and what every command shares (the
repository, the backend, the locks, output helpers); each other module is
one family of commands, and only parses, calls one library function and
prints.  ``main`` maps library errors to exit codes.
"""

from attgit.cli.main import invoke, main

__all__ = ["cli", "invoke", "main"]


def __getattr__(name: str):
    """``attgit.cli.cli``: the command group with every command registered.
    The ``attgit`` command itself imports only the module of the command it
    runs (:class:`attgit.cli.app.LazyGroup`)."""
    if name == "cli":
        from attgit.cli.app import cli, load_commands

        load_commands()
        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
