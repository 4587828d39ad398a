"""Every Python example a user reads runs, so none can go stale.

Each ```python fenced block of README.md and docs/**/*.md runs; the blocks
of one file run in order in one namespace (a later example uses what an
earlier one made), in a fresh temporary folder as the current directory.
A block whose fence is preceded by an HTML comment line
``<!-- attgit:norun -->`` (a fragment of someone else's code, such as a
Django view) or ``<!-- attgit:apply ... -->`` (settings applied by the
Django integration test) is not run here.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_MARKERS = re.compile(r"^\s*<!--\s*attgit:(norun|apply)\b.*-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


@dataclass
class Block:
    """One fenced block: its language, first line number and code."""

    language: str
    line: int
    code: str
    skipped: bool


def fenced_blocks(text: str) -> list:
    """The fenced blocks of a Markdown text, each marked skipped when the
    nearest non-blank line before its fence is a skip marker."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, language = match.groups()
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        before = next((line for line in reversed(lines[:start]) if line.strip()), "")
        blocks.append(Block(language.lower(), start + 1, textwrap.dedent("\n".join(body)),
                            bool(SKIP_MARKERS.match(before))))
        i += 1
    return blocks


def documents() -> list:
    """README.md and every Markdown file under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def python_blocks(path: Path) -> list:
    return [b for b in fenced_blocks(path.read_text(encoding="utf-8")) if b.language in ("python", "py")]


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_example_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for block in python_blocks(path):
        if block.skipped:
            continue
        where = f"{path.relative_to(ROOT)}:{block.line}"
        try:
            exec(compile(block.code, where, "exec"), namespace)  # noqa: S102 - the documentation's own examples
        except Exception as exc:  # noqa: BLE001 - name the block that failed
            pytest.fail(f"the example at {where} fails: {type(exc).__name__}: {exc}\n{block.code}")
        ran += 1
    if path.name == "api.md":
        assert ran >= 5, "docs/api.md lost its examples"


def test_the_library_guide_is_found_and_run():
    """The collector finds docs/api.md's examples (a collector that found
    nothing would pass every file)."""
    assert ROOT / "docs" / "api.md" in documents()
    assert len([b for b in python_blocks(ROOT / "docs" / "api.md") if not b.skipped]) >= 5


def test_markers_skip_only_the_block_they_precede():
    text = ("<!-- attgit:norun -->\n```python\nraise SystemExit\n```\n\n"
            "<!-- attgit:apply settings.py -->\n\n```python\nX = 1\n```\n"
            "```python\nprint(1)\n```\n~~~bash\nls\n~~~\n")
    blocks = fenced_blocks(text)
    assert [(b.language, b.line, b.skipped) for b in blocks] == [
        ("python", 2, True), ("python", 8, True), ("python", 11, False), ("bash", 14, False)]
    assert blocks[2].code == "print(1)"
