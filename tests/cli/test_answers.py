"""Answers a git user expects, one CLI test each: unknown companies named,
the database and repository a command acts on said, and the small things
git says that attgit should say too."""

from __future__ import annotations

import orjson
import pytest

from attgit.cli import main
from attgit.errors import ExitCode
from django_adapter.models import AttendanceRecord

from .test_cli import run
from .test_habits import failing

pytestmark = pytest.mark.django_db(transaction=True)
ACME = "Acme Textiles Pvt Ltd"


# --- a mistyped company is a usage error naming the known ones ---------------------

@pytest.mark.parametrize("args", [
    ("checkout", "HEAD", "--company", "Nope Ltd", "--preview"),
    ("checkout", "HEAD", "--company", "acme"),
    ("diff", "--company", "acme"),
    ("diff", "HEAD", "--company", "acme"),
    ("diff", "HEAD", "HEAD", "--company", "acme", "--stat"),
])
def test_an_unknown_company_is_a_usage_error_naming_the_closest_first(seeded, capsys, args):
    run(seeded, "commit")
    head = run(seeded, "log", "--oneline")
    before = AttendanceRecord.objects.count()
    code, err = failing(capsys, seeded, *args)
    assert code == ExitCode.USAGE, err
    name = args[args.index("--company") + 1]
    assert f"unknown company {name!r} (--company)" in err, err
    listed = err[err.index("it holds"):]
    assert all(repr(c) in listed for c in (ACME, "Northwind Textiles Ltd", "Globex Textiles Industries")), err
    if name == "acme":  # closest first
        assert listed.startswith(f"it holds {ACME!r}, "), err
    assert AttendanceRecord.objects.count() == before and run(seeded, "log", "--oneline") == head


def test_import_of_an_unknown_company_names_the_files_companies(seeded, capsys, tmp_path):
    backup = tmp_path / "b.json"
    run(seeded, "export", str(backup))
    code, err = failing(capsys, seeded, "import", str(backup), "--company", "Nope", "--preview")
    assert code == ExitCode.USAGE and "unknown company 'Nope' (--company): not in the backup file b.json" in err, err
    code, err = failing(capsys, seeded, "import", str(backup), "--company", "Nope")
    assert code == ExitCode.USAGE, err
    assert "no commits yet" in run(seeded, "log", "--oneline")  # nothing committed, not even the pre-import snapshot


def test_a_known_company_still_selects(seeded):
    run(seeded, "commit")
    AttendanceRecord.objects.filter(company__name=ACME).delete()
    out = run(seeded, "checkout", "HEAD", "--company", ACME, "--preview")
    assert "would insert" in out and "insert 0," not in out


def test_restore_data_of_an_unknown_company_is_refused_alike(seeded, tmp_path, settings):
    from django.core.management import CommandError, call_command

    settings.ATTGIT_REPO = str(seeded)
    backup = tmp_path / "b.json"
    run(seeded, "export", str(backup))
    with pytest.raises(CommandError, match=r"unknown company 'acme' \(--company\).*it holds 'Acme Textiles"):
        call_command("restore_data", input=str(backup), company=["acme"], preview=True)


# --- the example site is the default only inside the checkout; say where -----------

def test_outside_the_checkout_no_settings_is_an_error_naming_both_ways(tmp_path):
    from .test_habits import attgit_process

    elsewhere = tmp_path / "another-project"
    elsewhere.mkdir()
    done = attgit_process(tmp_path, "status", cwd=elsewhere, ATTGIT_REPO=str(tmp_path / "repo.git"))
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "--settings" in done.stderr and "DJANGO_SETTINGS_MODULE" in done.stderr, done.stderr
    assert not (tmp_path / "db.sqlite3").exists()  # the example site's database was not even opened
    done = attgit_process(tmp_path, "init", cwd=elsewhere, ATTGIT_REPO=str(tmp_path / "repo.git"))
    assert done.returncode == 0 and (tmp_path / "repo.git").is_dir()  # init needs no database
    done = attgit_process(tmp_path, "commit", cwd=elsewhere, ATTGIT_REPO=str(tmp_path / "repo.git"))
    assert done.returncode == ExitCode.CONFIG and "DJANGO_SETTINGS_MODULE" in done.stderr, done.stderr


def test_status_always_says_which_database_and_repository(seeded):
    from django.db import connection

    first = run(seeded, "status").splitlines()[0]
    assert first.startswith("Acting on database "), first
    assert str(connection.settings_dict["NAME"]) in first and f"repository {seeded.resolve()}" in first, first
    status = orjson.loads(run(seeded, "status", "--json"))
    assert status["repository"] == str(seeded.resolve()) and str(connection.settings_dict["NAME"]) in status["database"]


@pytest.mark.parametrize("args", [("commit",), ("checkout", "HEAD"), ("gc",), ("remote", "add", "x", "/nowhere"),
                                  ("export", "{tmp}/b.json"), ("init",)])
def test_every_writing_command_says_where_first_under_v(seeded, tmp_path, capsys, args):
    from django.db import connection

    run(seeded, "commit")
    capsys.readouterr()
    args = tuple(a.replace("{tmp}", str(tmp_path)) for a in args)
    with pytest.raises(SystemExit) as done:
        main(["--repo", str(seeded), "--user", "root", "-v", *args])
    assert done.value.code == 0
    err = capsys.readouterr().err.splitlines()
    assert err and err[0].startswith("attgit: database "), err
    assert str(connection.settings_dict["NAME"]) in err[0] and f"repository {seeded.resolve()}" in err[0], err
    with pytest.raises(SystemExit):
        main(["--repo", str(seeded), "--user", "root", *args])
    assert "attgit: database" not in capsys.readouterr().err  # only under -v
