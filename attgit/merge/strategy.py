"""Conflict strategies: theirs, ours, manual, and the design document's names
for them (backup_wins, database_wins).
"""


from __future__ import annotations

from attgit.errors import UsageError


class Strategy:
    """Names of the conflict strategies; the design document's names are aliases."""

    THEIRS = "theirs"
    OURS = "ours"
    MANUAL = "manual"
    ALL = (THEIRS, OURS, MANUAL)
    ALIASES = {"backup_wins": THEIRS, "database_wins": OURS}


def parse_strategy(name: str) -> str:
    """The canonical strategy for ``name`` (``backup-wins`` works too)."""
    cleaned = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    if cleaned in Strategy.ALL:
        return cleaned
    if cleaned in Strategy.ALIASES:
        return Strategy.ALIASES[cleaned]
    valid = ", ".join([*Strategy.ALL, *Strategy.ALIASES])
    raise UsageError(f"unknown merge strategy {name!r}: choose one of {valid}")
