"""The public face: attgit.__all__ names a small, documented API that
imports on use (so `import attgit` and the CLI's start-up stay cheap)."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import attgit


@pytest.mark.parametrize("name", [n for n in attgit.__all__ if n != "__version__"])
def test_every_public_name_resolves_and_is_documented(name):
    value = getattr(attgit, name)
    assert inspect.getdoc(value), f"attgit.{name} has no docstring"
    assert name in dir(attgit)


def test_the_error_family_is_one_family():
    errors = [getattr(attgit, n) for n in attgit.__all__ if n.endswith(("Error", "Found", "Locked", "Pending",
                                                                         "Rejected", "Object", "Denied",
                                                                         "Space", "Mismatch", "Repository"))
              and isinstance(getattr(attgit, n), type) and n != "Repository"]
    assert len(errors) >= 15
    for error in errors:
        assert issubclass(error, attgit.AttgitError), error
        assert isinstance(error.exit_code, int)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'repository'"):
        attgit.repository  # noqa: B018 - the README's old, wrong spelling


def test_import_attgit_loads_neither_pygit2_nor_the_operations():
    code = "import sys, attgit; print(sorted(m for m in sys.modules if m.startswith(('pygit2', 'attgit.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_writer_takes_the_locks(tmp_path):
    """snapshot holds the repository's lock as `attgit commit` does: a
    second writer is refused with Locked, not let in."""
    db = attgit.MemoryWorkingCopy.from_records([attgit.normalise_record(
        {"ep_no": "E1", "company": "ACME", "date": "2025-01-02", "status": "P"})])
    repo = attgit.Repository.init(tmp_path / "r.git")
    with repo.lock():
        with pytest.raises(attgit.Locked):
            attgit.snapshot(repo, db, attgit.Author("root"))
    assert repo.head() is None
    assert attgit.snapshot(tmp_path / "r.git", db, attgit.Author("root")).records == 1


def test_diff_says_what_it_compares(tmp_path):
    repo = attgit.Repository.init(tmp_path / "r.git")
    with pytest.raises(attgit.UsageError, match="second revision or a database"):
        attgit.diff(repo, "HEAD")
