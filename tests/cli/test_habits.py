"""CLI habits a git user has (issue 11.2), one test each, and the
newcomer's path (11.1): default settings, "not migrated", "unreachable"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from attgit.cli import cli, main
from attgit.errors import ExitCode
from attgit.words import plural
from django_adapter.models import AttendanceRecord, BackupLog, Company

from .test_cli import run

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def failing(capsys, repo, *args) -> tuple[int, str]:
    """Run attgit as `main` does; the exit code and stderr."""
    with pytest.raises(SystemExit) as done:
        main(["--repo", str(repo), "--user", "root", *args])
    return done.value.code, capsys.readouterr().err


def all_commands():
    yield ()
    for name, command in cli.commands.items():
        yield (name,)
        for sub in getattr(command, "commands", {}):
            yield (name, sub)


def test_every_help_ends_with_an_example_line():
    runner = CliRunner()
    for path in all_commands():
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, result.output
        last = result.output.strip().splitlines()[-1].strip()
        assert last.startswith("Example: attgit"), f"attgit {' '.join(path)} --help ends with {last!r}"


def test_remote_alone_lists_remotes_and_v_adds_urls(seeded, tmp_path):
    assert run(seeded, "remote") == ""
    run(seeded, "remote", "add", "prod", str(tmp_path / "prod.git"))
    run(seeded, "remote", "add", "hub", str(tmp_path / "hub.git"))
    assert run(seeded, "remote").split() == ["hub", "prod"]
    assert run(seeded, "remote", "-v").splitlines() == [f"hub\t{tmp_path / 'hub.git'}",
                                                        f"prod\t{tmp_path / 'prod.git'}"]


def test_pull_push_fetch_without_a_name_use_the_only_remote_or_origin(seeded, tmp_path, capsys):
    run(seeded, "commit")
    assert failing(capsys, seeded, "push")[0] == ExitCode.NOT_FOUND  # no remote at all
    hub = tmp_path / "hub.git"
    run(seeded, "init", str(hub))
    run(seeded, "remote", "add", "hub", str(hub))
    assert run(seeded, "push").startswith("hub: (empty) -> ")
    assert "hub/main is up to date" in run(seeded, "fetch")
    assert run(seeded, "pull").strip() == "Already up to date with hub."
    run(seeded, "remote", "add", "other", str(hub))
    code, err = failing(capsys, seeded, "pull")
    assert code == ExitCode.USAGE and "which remote?" in err and "hub, other" in err
    run(seeded, "remote", "add", "origin", str(hub))
    assert run(seeded, "pull").strip() == "Already up to date with origin."


def test_init_on_an_existing_repository_reinitializes(seeded):
    assert run(seeded, "init").startswith("Reinitialized existing attgit repository in ")


def test_resolve_with_both_sides_is_a_usage_error(seeded, capsys):
    for args in (("abc", "--ours", "--theirs"), ("--all-ours", "--all-theirs")):
        code, err = failing(capsys, seeded, "resolve", *args)
        assert code == ExitCode.USAGE and "not both" in err, err


def test_resolve_and_merge_abort_without_a_merge_fail_alike(seeded, capsys):
    run(seeded, "commit")
    outcomes = {failing(capsys, seeded, *args) for args in
                (("resolve", "abc", "--ours"), ("merge", "--abort"), ("merge", "--continue"))}
    assert len(outcomes) == 1, outcomes
    code, err = outcomes.pop()
    assert code == ExitCode.USAGE and "no merge in progress" in err


@pytest.mark.parametrize("args", [("checkout", "HEAD", "--from", "2025-13-01"),
                                  ("checkout", "HEAD", "--to", "yesterday"),
                                  ("import", "x.json", "--from", "2025-1-1")])
def test_a_bad_date_is_a_usage_error(seeded, capsys, args):
    run(seeded, "commit")
    code, err = failing(capsys, seeded, *args)
    assert code == ExitCode.USAGE and "is not a date written YYYY-MM-DD" in err, err


def test_export_into_a_missing_folder_is_not_found(seeded, tmp_path, capsys):
    code, err = failing(capsys, seeded, "export", str(tmp_path / "no" / "such" / "b.json"))
    assert code == ExitCode.NOT_FOUND and "no folder" in err and str(tmp_path / "no" / "such") in err
    assert not (tmp_path / "no").exists()


def test_push_to_an_unreadable_remote_names_the_push(seeded, tmp_path, capsys):
    run(seeded, "commit")
    run(seeded, "remote", "add", "gone", str(tmp_path / "gone.git"))
    code, err = failing(capsys, seeded, "push", "gone")
    assert code == ExitCode.REMOTE and err.startswith("attgit: error: cannot push to remote 'gone'"), err
    assert "cannot fetch" not in err


def test_colour_only_on_a_terminal_and_never_with_no_color(seeded):
    run(seeded, "commit", "-m", "one")
    AttendanceRecord.objects.order_by("id").first().delete()
    run(seeded, "commit", "-m", "two")
    args = ["--repo", str(seeded), "diff", "HEAD~1", "HEAD"]
    terminal = CliRunner().invoke(cli, args, color=True)
    assert "\x1b[" in terminal.output
    assert "\x1b[" not in CliRunner().invoke(cli, args, color=False).output  # a pipe
    assert "\x1b[" not in CliRunner(env={"NO_COLOR": "1"}).invoke(cli, args, color=True).output


def test_counts_are_in_correct_english(seeded):
    assert [plural(n, w) for n, w in [(1, "company"), (2, "company"), (0, "conflict"), (1200, "record")]] == \
        ["1 company", "2 companies", "0 conflicts", "1,200 records"]
    Company.objects.exclude(pk=AttendanceRecord.objects.first().company_id).delete()
    out = run(seeded, "commit")
    assert "snapshot: 1 company, " in out and "(1 company re-read)" in out
    assert "verified 1 commit, 1 company file," in run(seeded, "verify")


def test_json_counts_have_one_name_per_value(seeded, tmp_path):
    backup = tmp_path / "b.json"
    run(seeded, "export", str(backup))
    counts = orjson.loads(run(seeded, "import", str(backup), "--preview", "--json"))["counts"]
    assert set(counts) == {"added", "updated", "skipped", "conflicts", "pending", "records_in_file",
                           "companies_created"}
    assert counts["skipped"] == counts["records_in_file"] == 300
    run(seeded, "commit")
    hub = tmp_path / "hub.git"
    run(seeded, "init", str(hub))
    run(seeded, "remote", "add", "hub", str(hub))
    run(seeded, "push")
    pulled = orjson.loads(run(seeded, "pull", "--preview", "--json"))
    assert pulled["status"] == "up-to-date"
    assert pulled["counts"] == {"inserts": 0, "updates": 0, "deletes": 0, "companies_created": 0,
                                "companies_dropped": 0, "total": 0}


def test_read_only_commands_are_not_audited(seeded):
    run(seeded, "commit", "-m", "one")
    before = BackupLog.objects.count()
    for args in (["status"], ["log"], ["diff"], ["show"], ["conflicts"], ["status", "--json"]):
        run(seeded, *args)
    assert BackupLog.objects.count() == before


# --- the newcomer's path (11.1) -------------------------------------------------

def attgit_process(tmp_path, *args, cwd=ROOT, **env) -> subprocess.CompletedProcess:
    """attgit in a fresh process: no DJANGO_SETTINGS_MODULE, only the
    checkout itself on the path (as an editable install puts it), run in
    the checkout (where the example site is the default) unless ``cwd``."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    clean.update(PYTHONPATH=str(ROOT), ATTGIT_VAR_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "-m", "attgit", *(args or ("status",))], capture_output=True, text=True,
                          env=clean, cwd=cwd, timeout=120)


def test_the_example_site_is_the_default_and_an_unmigrated_database_says_migrate(tmp_path):
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "repo.git")], check=True)
    done = attgit_process(tmp_path, ATTGIT_REPO=str(tmp_path / "repo.git"))
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "is not migrated" in done.stderr and "manage.py migrate" in done.stderr, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_database_is_a_database_error(tmp_path):
    pytest.importorskip("psycopg")
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "repo.git")], check=True)
    done = attgit_process(tmp_path, ATTGIT_REPO=str(tmp_path / "repo.git"),
                          DATABASE_URL="postgres://postgres@127.0.0.1:9/nowhere")
    assert done.returncode == ExitCode.DATABASE, done.stderr
    assert "cannot use the database 'nowhere' at 127.0.0.1:9" in done.stderr, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
