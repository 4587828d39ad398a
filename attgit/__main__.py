"""``python -m attgit``: the same as the ``attgit`` command."""

from attgit.cli import main

main()
