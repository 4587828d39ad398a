"""Answers a git user expects, one CLI test each: unknown companies named,
the database and repository a command acts on said, and the small things
git says that attgit should say too."""

from __future__ import annotations

import re

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


# --- answers a git user expects ------------------------------------------------------

def _conflicting_import(seeded, tmp_path, capsys, n=2):
    """A manual import that leaves ``n`` conflicts waiting: the file holds
    the committed values, the database a different status for n records."""
    run(seeded, "commit")
    backup = tmp_path / "b.json"
    run(seeded, "export", str(backup))
    changed = list(AttendanceRecord.objects.order_by("id")[:n])
    for record in changed:
        record.status = "HD" if record.status != "HD" else "L"
        record.save()
    code, err = failing(capsys, seeded, "import", str(backup), "--strategy", "manual")
    assert code == ExitCode.CONFLICTS, err
    return orjson.loads(run(seeded, "conflicts", "--json"))


def test_conflicts_show_the_decision_and_the_value_chosen(seeded, tmp_path, capsys):
    listed = _conflicting_import(seeded, tmp_path, capsys)
    first = listed[0]
    assert "1 conflict left" in run(seeded, "resolve", first["id"], "--theirs")
    out = run(seeded, "conflicts")
    assert "1 of 2 conflicts pending" in out
    line = next(line for line in out.splitlines() if line.startswith(f"resolved {first['id']}"))
    assert f": file (theirs) -> status={first['theirs']['status']!r}" in line, out
    decided = {c["id"]: c for c in orjson.loads(run(seeded, "conflicts", "--json"))}[first["id"]]
    assert decided["resolved"] and decided["decision"] == "theirs" and decided["chosen"] == first["theirs"]


def test_an_imports_conflicts_read_as_the_web_says_them(seeded, tmp_path, capsys):
    """A record the backup file holds differently is "different in the file",
    its sides the database and the file, and no base column (a file has no
    common base), as on the conflict page; --json keeps git's names."""
    listed = _conflicting_import(seeded, tmp_path, capsys, n=1)
    conflict = listed[0]
    assert conflict["kind"] == "add/add" and conflict["base"] is None  # --json unchanged
    out = run(seeded, "conflicts")
    assert f"conflict {conflict['id']} different in the file " in out, out
    assert (f"    status: database {conflict['ours']['status']!r} | file {conflict['theirs']['status']!r}\n"
            in out), out
    for word in ("add/add", "base", "ours", "theirs"):
        assert not re.search(rf"\b{word}\b", out), (word, out)


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("base, ours, theirs, said", [
    ({}, {"status": "A"}, {"status": "L"}, "status: ours 'A' | theirs 'L'"),  # add/add: no base to show
    ({"status": "P"}, {"status": "A"}, {"status": "L"}, "status: base 'P' | ours 'A' | theirs 'L'"),
    ({"status": "P"}, None, {"status": "L"}, "status: base 'P' | ours (absent) | theirs 'L'"),
])
def test_a_pulls_conflict_shows_a_base_column_only_when_there_is_a_base(capsys, base, ours, theirs, said):
    from attgit.cli.app import print_conflicts
    from attgit.merge.company import merge_company

    from ..test_merge import make, one

    def version(fields):
        return None if fields is None else make(**fields)

    [conflict] = merge_company("ABC Corp", one(version(base or None)), one(version(ours)),
                               one(version(theirs)), "manual").conflicts
    print_conflicts([conflict], merge_kind="pull")
    out = capsys.readouterr().out
    assert f"\n    {said}\n" in out, out


def test_the_import_itself_prints_its_conflicts_in_the_same_words(seeded, tmp_path, capsys):
    run(seeded, "commit")
    backup = tmp_path / "b.json"
    run(seeded, "export", str(backup))
    record = AttendanceRecord.objects.order_by("id").first()
    record.status = "HD" if record.status != "HD" else "L"
    record.save()
    with pytest.raises(SystemExit):
        main(["--repo", str(seeded), "--user", "root", "import", str(backup), "--strategy", "manual"])
    out = capsys.readouterr().out
    assert "different in the file" in out and "add/add" not in out and "base (absent)" not in out, out
    assert "`attgit resolve ID --ours` keeps the database's values, `--theirs` takes the file's" in out, out


def test_with_no_conflict_left_status_and_resolve_say_merge_continue(seeded, tmp_path, capsys):
    from attgit.ops.mergestate import MergeState
    from attgit.repo.repository import Repository

    listed = _conflicting_import(seeded, tmp_path, capsys)
    repo = Repository.open(seeded)
    state = MergeState.load(repo)  # every conflict decided (as the web page can), the merge not yet concluded
    for conflict in listed:
        state.resolve(conflict["id"], "ours")
    state.save(repo)
    out = run(seeded, "status")
    assert "every conflict is resolved; conclude it with `attgit merge --continue`" in out, out
    assert "0 of 2 conflicts pending; conclude it with `attgit merge --continue`" in run(seeded, "conflicts")
    assert "merge concluded" in run(seeded, "merge", "--continue")


def test_the_last_resolve_says_it_concludes_as_merge_continue(seeded, tmp_path, capsys):
    listed = _conflicting_import(seeded, tmp_path, capsys, n=1)
    out = run(seeded, "resolve", listed[0]["id"], "--ours")
    assert "0 conflicts left: concluding the merge (as `attgit merge --continue` does)" in out and "concluded" in out


def test_log_n_0_prints_nothing_and_status_before_the_first_commit_says_so(seeded):
    assert run(seeded, "log", "-n", "0") == ""
    out = run(seeded, "status")
    assert "On main: no commit yet (`attgit commit` makes the first snapshot)" in out, out
    assert "the last commit" not in out
    run(seeded, "commit")
    assert run(seeded, "log", "-n", "0") == "" and run(seeded, "log", "-n", "1").startswith("commit ")


def test_init_on_a_plain_bare_git_repository_says_it_makes_it_attgit(seeded, tmp_path):
    import subprocess

    plain = tmp_path / "plain.git"
    subprocess.run(["git", "init", "-q", "--bare", str(plain)], check=True)
    out = run(seeded, "init", str(plain))
    assert out.startswith(f"Made the bare git repository in {plain.resolve()} an attgit repository"), out
    assert run(seeded, "init", str(plain)).startswith("Reinitialized existing attgit repository")


@pytest.mark.parametrize("signal_name, said, code", [("SIGINT", "interrupted", 130),
                                                     ("SIGTERM", "terminated (signal 15)", 143)])
def test_an_interrupt_or_sigterm_exits_128_plus_the_signal_and_unwinds(tmp_path, signal_name, said, code):
    import os
    import signal
    import subprocess
    import sys

    from attgit.repo.repository import Repository

    from .test_habits import ROOT

    repo = Repository.init(tmp_path / "repo.git")
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    env.update(PYTHONPATH=str(ROOT), ATTGIT_VAR_DIR=str(tmp_path))
    with repo.lock():  # the command waits for it, so the signal finds it at work
        # a shell without job control starts background commands with SIGINT ignored, and the
        # ignoring is inherited (as for git, a Ctrl-C then never reaches attgit): a terminal's default here
        proc = subprocess.Popen([sys.executable, "-m", "attgit", "-v", "--repo", str(repo.path), "--wait", "120",
                                 "remote", "add", "x", "/nowhere"], cwd=ROOT, env=env, stderr=subprocess.PIPE,
                                text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        assert proc.stderr is not None
        first = proc.stderr.readline()  # said before it takes the lock
        assert first.startswith("attgit: database"), first
        proc.send_signal(getattr(signal, signal_name))
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == code, rest
    assert f"attgit: {said}; nothing was half-applied" in rest and "Traceback" not in rest, rest
    assert "x" not in list(Repository.open(repo.path).git.remotes.names())


def test_an_import_warning_is_said_once_not_logged_again(seeded, tmp_path, capsys, caplog):
    import json

    from attgit.format import records as rec

    run(seeded, "commit")
    backup = tmp_path / "b.json"
    run(seeded, "export", str(backup))
    document = json.loads(backup.read_bytes())
    extra = rec.normalise({"ep_no": "N1", "company": "New Corp", "date": "2025-01-03", "status": "P"})
    document["attendance_records"].append({**{("company_name" if k == "company" else k): v
                                              for k, v in extra.items()}, "checksum": rec.checksum(extra)})
    document["metadata"]["total_attendance_records"] += 1
    backup.write_text(json.dumps(document))
    capsys.readouterr()
    with caplog.at_level("INFO", logger="attgit"):
        with pytest.raises(SystemExit):
            main(["--repo", str(seeded), "--user", "root", "import", str(backup)])
    err = capsys.readouterr().err
    assert err.count("New Corp") == 1 and "non-existent companies: 'New Corp' (1 record)" in err, err
    assert not [r for r in caplog.records if "New Corp" in r.getMessage()]


def test_checkout_preview_prints_20_records_and_points_to_json(seeded):
    run(seeded, "commit")
    AttendanceRecord.objects.filter(company__name=ACME).delete()
    deleted = 300 - AttendanceRecord.objects.count()
    out = run(seeded, "checkout", "HEAD", "--preview").splitlines()
    assert len([line for line in out if line.startswith("+ ")]) == 20, out
    assert out[-1] == f"... and {deleted - 20:,} more (use --json for all)", out
    assert len(orjson.loads(run(seeded, "checkout", "HEAD", "--preview", "--json"))["samples"]) == deleted


def test_a_manual_import_says_main_has_not_moved_and_what_to_do(seeded, tmp_path, capsys):
    run(seeded, "commit")
    head = run(seeded, "log", "-n", "1", "--oneline").split()[0]
    backup = tmp_path / "b.json"
    run(seeded, "export", str(backup))
    record = AttendanceRecord.objects.order_by("id").first()
    record.status = "HD" if record.status != "HD" else "L"
    record.save()
    with pytest.raises(SystemExit) as done:
        main(["--repo", str(seeded), "--user", "root", "import", str(backup), "--strategy", "manual"])
    assert done.value.code == ExitCode.CONFLICTS
    out = capsys.readouterr().out
    pre = run(seeded, "log", "-n", "1", "--oneline").split()[0]  # the snapshot before the import, on top of head
    assert run(seeded, "log", "--oneline").split("\n")[1].startswith(head)
    assert f"main has not moved (it is at {pre}, the database as it was before the import)" in out, out
    assert "[main " not in out, out
    assert "`attgit merge --continue`" in out and "`attgit merge --abort`" in out, out


def test_a_checkout_names_its_commit_once(seeded):
    from attgit.repo.repository import Repository

    run(seeded, "commit", "-m", "one")
    AttendanceRecord.objects.order_by("id").first().delete()
    run(seeded, "commit", "-m", "two")
    repo = Repository.open(seeded)
    second, first = (c.id for c in repo.log())
    run(seeded, "checkout", first[:10])
    assert repo.info(repo.head()).summary == f"Checkout of {first[:10]}"
    run(seeded, "checkout", "HEAD~1")
    assert repo.info(repo.head()).summary == f"Checkout of {second[:10]} (HEAD~1)"


def test_a_refused_user_on_a_read_only_command_says_what_and_why(seeded, capsys, monkeypatch):
    code, err = failing_as(capsys, seeded, "acme", "status")
    assert code == ExitCode.PERMISSION_DENIED, err
    assert "refused to run `attgit status` as user 'acme' (from --user): " in err, err
    assert "there is no user 'acme'" in err and "only reads, and needs no account: run it without --user" in err
    monkeypatch.setenv("ATTGIT_USER", "acme")
    with pytest.raises(SystemExit) as done:
        main(["--repo", str(seeded), "commit"])
    err = capsys.readouterr().err
    assert done.value.code == ExitCode.PERMISSION_DENIED and "as user 'acme' (from $ATTGIT_USER)" in err, err
    assert "only reads" not in err  # commit writes: no way around the refusal


def failing_as(capsys, repo, user, *args):
    with pytest.raises(SystemExit) as done:
        main(["--repo", str(repo), "--user", user, *args])
    return done.value.code, capsys.readouterr().err


def test_gc_reports_sizes_in_a_readable_unit_and_says_why_one_grew(seeded):
    from attgit.cli.maintenance import _store, _why_larger
    from attgit.repo.maintenance import Usage

    run(seeded, "commit")
    out = run(seeded, "gc")
    before, after = out.split(": ", 1)[1].split(" -> ")
    assert "loose object" in before and after.startswith(tuple("0123456789")) and " kB (1 pack, 0 loose objects)" in after
    loose, packed = Usage(30, 60_000, 0, 0), Usage(0, 0, 1, 120_000)
    assert _store(loose) == "60.0 kB (0 packs, 30 loose objects)"
    assert _why_larger(loose, packed).startswith("; 60.0 kB larger: the pack is compressed at a faster level")
    assert _why_larger(packed, loose) == ""


def test_progress_off_a_terminal_is_one_line_per_tenth(tmp_path, capsys):
    from django.core.management import call_command

    call_command("seed_demo", records=400, companies=20, seed=5)
    repo = tmp_path / "repo.git"
    run(repo, "init")
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["--repo", str(repo), "--user", "root", "commit"])
    assert done.value.code == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"commit: {n:,} of 20 companies" for n in range(2, 21, 2)], lines


def test_line_progress_says_nothing_for_small_work_and_each_tenth_once(capsys):
    from attgit.cli.app import LineProgress

    small = LineProgress(9_999, "import")
    small.total, small.n = 9_999, 9_999
    small.refresh()
    big = LineProgress(0, "import")
    for done in range(0, 100_001, 2_500):  # a caller reporting every 2,500 records
        big.total, big.n = 100_000, done
        big.refresh()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"import: {n:,} of 100,000 records" for n in range(10_000, 100_001, 10_000)], lines
