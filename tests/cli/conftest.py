"""Fixtures shared by the CLI tests."""

from .test_cli import seeded  # noqa: F401  (the example site seeded, and a repository)
