"""Counts in correct English: "1 company", "2 companies", "1,000 records".

One helper for every message attgit writes, so no "1 conflict(s)" or
"1 companies" is left for a reader to decode.
"""

from __future__ import annotations

from typing import Optional

_IRREGULAR = {"company": "companies", "entry": "entries", "copy": "copies", "was": "were", "is": "are",
              "waits": "wait", "has": "have"}


def plural(n: int, word: str, many: Optional[str] = None) -> str:
    """``n`` and ``word``, the word made plural unless n is 1; thousands
    are separated by commas (``plural(1200, "record")`` -> "1,200 records")."""
    return f"{n:,} {word if n == 1 else (many or plural_of(word))}"


def plural_of(word: str) -> str:
    """The plural of the few nouns and verbs attgit's messages use."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def size(n: int) -> str:
    """A size in bytes as people read it, in the unit that shows its
    digits: "812 bytes", "54.1 kB", "3.2 MB", "1.4 GB" (powers of 1,000)."""
    if n < 1000:
        return plural(n, "byte")
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if n < scale * 1000 or unit == "GB":
            return f"{n / scale:,.1f} {unit}"
    raise AssertionError("unreachable")
