"""`attgit diff` with backup files (issue 20.6): two files, or a commit and
a file, with --stat, --company and --json, the same answer the commits give."""

from __future__ import annotations

import orjson
import pytest

from attgit.errors import ExitCode
from django_adapter.models import AttendanceRecord

from .test_cli import run

pytestmark = pytest.mark.django_db(transaction=True)


def edit_three() -> tuple:
    """Change one record, delete one, add one; their companies."""
    first = AttendanceRecord.objects.select_related("company").order_by("id").first()
    first.status = "A" if first.status != "A" else "P"
    first.save()
    gone = AttendanceRecord.objects.select_related("company").order_by("-id").first()
    gone.delete()
    AttendanceRecord.objects.create(ep_no="NEW1", company=first.company, date="2025-01-01", status="P")
    return first.company.name, gone.company.name


@pytest.fixture
def two_files(seeded, tmp_path):
    run(seeded, "commit", "-m", "before")
    run(seeded, "export", str(tmp_path / "a.json"))
    companies = edit_three()
    run(seeded, "commit", "-m", "after")
    run(seeded, "export", str(tmp_path / "b.json"))
    return seeded, tmp_path / "a.json", tmp_path / "b.json", companies


def test_two_files_diff_as_the_two_commits_do(two_files):
    repo, a, b, _ = two_files
    by_files = orjson.loads(run(repo, "diff", str(a), str(b), "--json"))
    assert by_files == orjson.loads(run(repo, "diff", "HEAD~1", "HEAD", "--json"))
    totals = {k: sum(d["counts"][k] for d in by_files) for k in ("added", "removed", "changed")}
    assert totals == {"added": 1, "removed": 1, "changed": 1}
    assert [a["ep_no"] for d in by_files for a in d["added"]] == ["NEW1"]


def test_a_commit_and_a_file_either_way(two_files):
    repo, a, b, _ = two_files
    forward = orjson.loads(run(repo, "diff", "HEAD~1", str(b), "--json"))
    assert forward == orjson.loads(run(repo, "diff", str(a), "HEAD", "--json")) == \
        orjson.loads(run(repo, "diff", "HEAD~1", "HEAD", "--json"))
    assert run(repo, "diff", "HEAD", str(b)).strip() == "no differences"
    back = orjson.loads(run(repo, "diff", str(b), "HEAD~1", "--json"))
    assert sum(d["counts"]["added"] for d in back) == 1 and sum(d["counts"]["removed"] for d in back) == 1


def test_stat_and_company(two_files):
    repo, a, b, (changed_company, _) = two_files
    stat = run(repo, "diff", str(a), str(b), "--stat")
    assert f"{changed_company}: +1" in stat and "~" in stat and "NEW1" not in stat
    full = run(repo, "diff", str(a), str(b), "--company", changed_company)
    assert "+ NEW1" in full
    only = orjson.loads(run(repo, "diff", str(a), str(b), "--company", changed_company, "--json"))
    assert [d["company"] for d in only] == [changed_company]

def test_an_unknown_company_is_a_usage_error_naming_the_files_companies(two_files):
    """As between commits (issue 17.6): a mistyped --company is exit 2,
    naming the companies the two sides hold, the closest first; it used
    to print [] and succeed."""
    repo, a, b, (changed_company, _) = two_files
    typo = changed_company.lower()
    err = run(repo, "diff", str(a), str(b), "--company", typo, "--json", code=ExitCode.USAGE)
    assert f"unknown company {typo!r} (--company): not in {a} and {b}; it holds {changed_company!r}" in err, err
    err = run(repo, "diff", "HEAD", str(b), "--company", "No Such Co", code=ExitCode.USAGE)
    assert f"not in HEAD and {b}" in err and repr(changed_company) in err, err


def test_bad_input_is_named(two_files, tmp_path):
    repo, a, b, _ = two_files
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"metadata": {}}')
    out = run(repo, "diff", str(a), str(broken), code=ExitCode.INVALID_DATA)
    assert "metadata" in out and "Traceback" not in out
    assert "a commit or another file" in run(repo, "diff", str(a), code=ExitCode.USAGE)
    assert "unknown commit 'nosuchcommit'" in run(repo, "diff", "nosuchcommit", str(a), code=ExitCode.NOT_FOUND)
    assert "no such backup file: missing.json" in run(repo, "diff", "HEAD", "missing.json", code=ExitCode.NOT_FOUND)
