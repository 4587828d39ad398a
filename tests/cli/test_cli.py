"""The `attgit` command through Click's runner, on the example site's
database (SQLite, and PostgreSQL when run-tests repeats the suite)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from attgit.cli import cli, main
from attgit.errors import ExitCode
from attgit.repo.repository import Repository
from django_adapter.models import AttendanceRecord, BackupLog

from ..helpers import fsck, git

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(repo, *args, code=0):
    """Run attgit in-process (as `main` does: errors mapped to exit codes)."""
    runner = CliRunner()
    result = runner.invoke(_entry, ["--repo", str(repo), "--user", "root", *args], catch_exceptions=False)
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}:\n{result.output}"
    return result.output


def _entry_main(args):
    main(list(args))


import click  # noqa: E402


@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def _entry(args):
    """Wraps attgit.cli.main so CliRunner sees its exit codes and messages."""
    _entry_main(args)


@pytest.fixture
def seeded(tmp_path):
    from django.core.management import call_command

    call_command("seed_demo", records=300, companies=3, seed=7)
    repo = tmp_path / "repo.git"
    run(repo, "init")
    return repo


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    commands = [(name,) for name in cli.commands] + [("remote", name) for name in cli.commands["remote"].commands]
    for path in commands:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example:" in result.output, f"attgit {' '.join(path)} --help has no example"


def test_commit_log_status_diff_show_verify(seeded):
    out = run(seeded, "commit", "-m", "first")
    assert "full snapshot: 3 companies, 300 records" in out
    assert "nothing to commit" in run(seeded, "commit")
    record = AttendanceRecord.objects.order_by("id").first()
    record.status = "A" if record.status != "A" else "P"
    record.save()
    AttendanceRecord.objects.order_by("-id").first().delete()
    status = orjson.loads(run(seeded, "status", "--json"))
    assert (status["added"], status["changed"], status["deleted"]) == (0, 1, 1)
    diff = run(seeded, "diff")
    assert "status:" in diff and "~ " in diff and "- " in diff
    run(seeded, "commit")
    log = orjson.loads(run(seeded, "log", "--json"))
    assert [c["records"] for c in log] == [299, 300]
    assert log[0]["type"] == "incremental" and log[0]["created_by"] == "root"
    assert "~1" in run(seeded, "show", "HEAD") and "Author: root" in run(seeded, "show", "HEAD")
    shown = orjson.loads(run(seeded, "show", "HEAD", "--json"))
    assert shown["commit"]["records"] == 299 and shown["commit"]["id"] == log[0]["id"]
    totals = {k: sum(c["counts"][k] for c in shown["companies"]) for k in ("added", "removed", "changed")}
    assert totals == {"added": 0, "removed": 1, "changed": 1}
    assert sum(len(c["changed"]) + len(c["removed"]) for c in shown["companies"]) == 2
    first = orjson.loads(run(seeded, "show", "HEAD~1", "--json"))
    assert sum(c["counts"]["added"] for c in first["companies"]) == len(
        [r for c in first["companies"] for r in c["added"]]) == 300
    stat = orjson.loads(run(seeded, "diff", "HEAD~1", "HEAD", "--json"))
    assert sum(d["counts"]["changed"] + d["counts"]["removed"] for d in stat) == 2
    stat_text = run(seeded, "diff", "HEAD~1", "HEAD", "--stat")
    headlines = re.findall(r": \+(\d+) -(\d+) ~(\d+)$", stat_text, re.M)
    assert [sum(int(h[i]) for h in headlines) for i in range(3)] == [0, 1, 1]
    assert len(stat_text.strip().splitlines()) == len(headlines)  # no record lines
    assert "ok" in run(seeded, "verify")
    fsck(seeded)
    assert "299 records" in git("-C", str(seeded), "log", "-1")
    assert BackupLog.objects.filter(operation="commit").count() == 3


def test_checkout_restores_an_earlier_snapshot(seeded):
    run(seeded, "commit")
    AttendanceRecord.objects.filter(company__name__startswith="A").delete()
    preview = orjson.loads(run(seeded, "checkout", "HEAD", "--preview", "--json"))
    assert preview["status"] == "preview" and preview["counts"]["inserts"] > 0
    before = AttendanceRecord.objects.count()
    run(seeded, "checkout", "HEAD")
    assert AttendanceRecord.objects.count() == 300 > before
    assert "nothing to commit" in run(seeded, "commit")


def test_export_and_import_round_trip(seeded, tmp_path):
    backup = tmp_path / "b.json"
    run(seeded, "export", str(backup))
    data = orjson.loads(backup.read_bytes())
    assert data["metadata"]["total_attendance_records"] == len(data["attendance_records"]) == 300
    AttendanceRecord.objects.all().delete()
    out = orjson.loads(run(seeded, "import", str(backup), "--json"))
    assert (out["counts"]["added"], out["counts"]["records_in_file"]) == (300, 300)
    assert AttendanceRecord.objects.count() == 300
    again = orjson.loads(run(seeded, "import", str(backup), "--json"))
    assert (again["counts"]["added"], again["counts"]["skipped"], again["status"]) == (0, 300, "nothing")


@pytest.mark.parametrize("args, code, message", [
    (("show", "no-such-commit"), ExitCode.NOT_FOUND, "unknown commit"),
    (("diff", "a", "b", "c"), ExitCode.USAGE, "at most two"),
    (("import", "/no/such/file.json"), ExitCode.NOT_FOUND, "does not exist"),
    (("pull", "nowhere"), ExitCode.NOT_FOUND, "no remote named"),
    (("resolve", "abc", "--ours"), ExitCode.USAGE, "no merge in progress"),
    (("checkout", "HEAD", "--from", "2025-13-01"), ExitCode.USAGE, "not a date"),
])
def test_bad_input_gets_one_line_and_its_exit_code(seeded, capsys, args, code, message):
    run(seeded, "commit")
    head = Repository.open(seeded).head()
    count = AttendanceRecord.objects.count()
    with pytest.raises(SystemExit) as exit_:
        main(["--repo", str(seeded), *args])
    err = capsys.readouterr().err
    assert exit_.value.code == code, err
    assert message in err and "Traceback" not in err
    assert Repository.open(seeded).head() == head and AttendanceRecord.objects.count() == count


def test_not_a_repository_and_locked(seeded, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--repo", str(tmp_path), "log"])
    assert exit_.value.code == ExitCode.NOT_A_REPOSITORY
    assert "not a git repository" in capsys.readouterr().err
    repo = Repository.open(seeded)
    with repo.lock():
        with pytest.raises(SystemExit) as exit_:
            main(["--repo", str(seeded), "commit"])
    assert exit_.value.code == ExitCode.LOCKED
    assert "locked by another attgit process" in capsys.readouterr().err
    assert repo.head() is None


def test_invalid_settings_is_a_config_error(tmp_path):
    Repository.init(tmp_path / "r.git")
    env = {**os.environ, "PYTHONPATH": str(EXAMPLES), "DJANGO_SETTINGS_MODULE": "no_such_settings"}
    done = subprocess.run([sys.executable, "-m", "attgit", "--repo", str(tmp_path / "r.git"), "status"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "no_such_settings" in done.stderr and "Traceback" not in done.stderr


def test_gc_packs_the_repository(seeded):
    run(seeded, "commit", "-m", "first")
    out = run(seeded, "gc")
    assert out.startswith(f"packed {seeded} in ") and out.rstrip().endswith("(1 pack, 0 loose objects)"), out
    result = orjson.loads(run(seeded, "gc", "--json"))
    assert result["ran"] and result["after"]["loose_objects"] == 0 and result["after"]["packs"] == 1
    fsck(seeded)
    assert "nothing to commit" in run(seeded, "commit")


def test_status_full_names_differences_and_missing_triggers_are_said_once(seeded):
    from django.db import connection

    from django_adapter import changelog

    run(seeded, "commit")
    changelog.uninstall(connection)
    try:
        record = AttendanceRecord.objects.order_by("id").first()
        AttendanceRecord.objects.filter(id=record.id).update(shift="Unlogged")
        out = run(seeded, "status", "--full")
        assert out.count("change-log triggers are missing") == 1
        assert "1 changed" in out and f"~ {record.ep_no}" in out and "shift: " in out
        out = run(seeded, "commit")
        assert out.count("change-log triggers are missing") == 1 and "full snapshot" in out
    finally:
        changelog.install(connection)
    out = run(seeded, "status")
    assert "missing" not in out and "nothing to commit" in out
