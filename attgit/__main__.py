"""``python -m attgit``: the same as the ``attgit`` command."""

from .cli import main

main()
