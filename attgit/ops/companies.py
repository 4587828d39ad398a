"""A company named on the command line must exist: a mistyped name would
otherwise select nothing and succeed ("0 changes"), which reads as "all is
well".  One check for every place that takes ``--company``."""

from __future__ import annotations

import difflib
from typing import Iterable, Optional

from attgit.errors import UsageError
from attgit.words import plural

#: how many known names an error lists
SHOWN = 8


def require_known(wanted: Optional[Iterable[str]], known: Iterable[str], where: str) -> None:
    """Raise UsageError naming each name of ``wanted`` that is not in
    ``known`` and the known ones, closest first; ``where`` says what was
    searched ("the database or HEAD~1", "the backup file")."""
    if not wanted:
        return
    names = set(known)
    unknown = sorted(set(wanted) - names)
    if not unknown:
        return
    listed = ", ".join(repr(n) for n in closest_first(unknown[0], names)[:SHOWN])
    more = len(names) - min(len(names), SHOWN)
    holds = (f"it holds {listed}" + (f" and {plural(more, 'other')}" if more else "")) if names \
        else "it holds no company"
    which = ", ".join(repr(n) for n in unknown)
    raise UsageError(f"unknown company {which} (--company): not in {where}; {holds}. "
                     "Company names are exact, case and spaces included")


def closest_first(name: str, known: Iterable[str]) -> list:
    """``known`` ordered by likeness to ``name`` (case-blind): names that
    contain it first ("acme" finds "Acme Textiles Pvt Ltd"), then by
    difflib's ratio, most alike first; ties in name order."""
    target = name.casefold()

    def likeness(candidate: str) -> tuple:
        folded = candidate.casefold()
        return target not in folded, -difflib.SequenceMatcher(None, target, folded).ratio(), candidate

    return sorted(known, key=likeness)
