"""No internal references where a user reads: the README, docs/, the
benchmark results and the CHANGELOG speak of releases and machines, never
of how the project was made (its workers, branches, issue threads, or
paths on the machine that ran a benchmark).

The words are chosen to have no false hit in legitimate text: "session"
alone is a database session or a session between two environments, "issue"
alone is a problem, "branch" alone is git's; only their internal uses are
caught.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: What a reader must not meet, each with why it is internal.
INTERNAL = {
    r"\bhelpers?\b(?![./\w])": "a worker of the project, not something the reader has",
    r"\bthis branch\b": "a development branch; say this release",
    r"\bthe issue\b": "an issue thread the reader never saw",
    r"\bissues? #?\d+": "an issue number",
    r"\bsessions? #?\d+\b": "a numbered working session",
    r"\b(?:other|parallel|concurrent) sessions\b": "the project's working sessions",
    r"/tmp/": "a path on the machine that ran it",
    r"\.\./shared\b": "a path outside the project",
}
PATTERN = re.compile("|".join(f"(?:{p})" for p in INTERNAL), re.IGNORECASE)


def user_texts() -> list:
    """Every Markdown file a user reads, as paths relative to the project."""
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "bench").glob("*.md"),
             *(ROOT / "docs").rglob("*.md")]
    return sorted(str(f.relative_to(ROOT)) for f in files)


def internal_references(text: str) -> list:
    """(line number, the words found, the line) for each internal reference."""
    return [(n, m.group(0), line.strip()) for n, line in enumerate(text.splitlines(), 1)
            for m in PATTERN.finditer(line)]


@pytest.mark.parametrize("name", user_texts())
def test_a_user_text_has_no_internal_reference(name):
    found = internal_references((ROOT / name).read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{name}:{n}: {words!r} in: {line}" for n, words, line in found)


@pytest.mark.parametrize("line", [
    "while seven other helpers ran their tests",
    "## 100K records, 20 companies: main against this branch",
    "outside the 300 MB bound the issue asks for",
    "as issue 9, part 6 says",
    "Repository left in /tmp/attgit-growth-ytsrtu3q.",
    "see ../shared/STYLE.md",
])
def test_the_words_catch_what_a_user_met(line):
    assert internal_references(line), line


@pytest.mark.parametrize("line", [
    "## A session between two environments",
    "The change log fires whatever the session is told",
    "`SET session_replication_role = replica`",
    "Any other place that keeps `orjson.dumps` results in bulk has the same issue.",
    "creates the commit, moves the branch by compare-and-swap",
    "one gzip-bomb maker (tests/helpers.bomb)",
    "python bench/growth.py --workdir DIR",
])
def test_the_words_leave_legitimate_text_alone(line):
    assert not internal_references(line), line
