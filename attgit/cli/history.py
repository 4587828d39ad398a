"""Commands that make and read history: init, commit, status, log, show,
diff, verify.

Example: attgit commit -m "nightly" && attgit log --oneline
"""


from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click

from attgit.cli.app import (
    App,
    cli,
    emit_json,
    emit_json_stream,
    pass_app,
    progress_bar,
    record_values,
    short,
)
from attgit.errors import ConfigError, NotFound
from attgit.format import records as rec
from attgit.repo.repository import Repository
from attgit.words import plural


@cli.command()
@click.argument("path", required=False)
@click.option("--shared", type=click.Choice(["private", "group"]), default=None,
              help="Who may read the repository: its owner only (the default), or its group too.")
@pass_app
def init(app: App, path, shared):
    """Create an empty bare repository for snapshots, private to its owner.

    Example: attgit init /srv/attgit/prod.git
    """
    if path:
        app.repo_arg = path
    app.say_where()
    target = Path(path or app.repo_path())
    existed = target.exists() and any(target.iterdir())
    repo = Repository.init(target, shared)
    app.log_quietly("init", repository=str(repo.path.resolve()))
    if repo.adopted:  # git's own repository, now also attgit's
        click.echo(f"Made the bare git repository in {repo.path.resolve()} an attgit repository "
                   "(its history is kept; attgit's snapshots go on branch main)")
        return
    click.echo(f"{'Reinitialized existing' if existed else 'Initialized'} attgit repository in {repo.path.resolve()}")


@cli.command()
@click.option("-m", "--message", help="Commit message summary (default: counts).")
@click.option("--full", is_flag=True, help="Re-read every company, not only the rows the change log names.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def commit(app: App, message, full, as_json):
    """Snapshot the database into a new commit.

    Example: attgit commit -m "before payroll run"
    """
    from attgit.ops.commit import snapshot_database

    bar = progress_bar(len(app.backend.db.companies()), "commit")
    bar.unit = "company"
    with app.writing("commit"), bar:
        result = snapshot_database(app.repo, app.backend.db, app.author, message=message, full=full,
                                   progress=lambda company: bar.update(1))
    app.log("commit", commit=result.commit or "", records=result.records, companies=result.companies)
    if as_json:
        emit_json(result.to_dict())
    elif not result.created:
        where = f"the database matches {result.parent[:10]}" if result.parent else "the database is empty"
        click.echo("nothing to commit: " + where)
    else:
        click.echo(f"[main {short(result.commit)}] {result.kind} snapshot: {plural(result.companies, 'company')}, "
                   f"{plural(result.records, 'record')} ({plural(len(result.changed_companies), 'company')} re-read)")


@cli.command()
@click.option("--full", is_flag=True, help="Compare every row with the last commit, not only those the change "
              "log names, and name each difference (proof that the log missed nothing).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def status(app: App, full, as_json):
    """Show how the database differs from the last commit.

    Example: attgit status
    """
    from attgit.errors import InvalidRows
    from attgit.ops.compare import status as compute
    from attgit.ops.mergestate import MergeState

    app.check_capture()
    try:
        result = compute(app.repo, app.backend.db, full=full)
    except InvalidRows as exc:
        _print_invalid_rows(exc, as_json)
        raise
    state = MergeState.load(app.repo)
    if state is not None:
        result.merge_in_progress, result.conflicts = True, len(state.pending())
    if as_json:
        emit_json({**result.to_dict(), "database": app.backend.database, "repository": str(app.repo.path.resolve())})
        return
    click.echo(f"Acting on {app.where()}")
    click.echo(f"On main at {result.head[:10]}" if result.head
               else "On main: no commit yet (`attgit commit` makes the first snapshot)")
    if state is not None:
        if result.conflicts:
            click.echo(f"Merge of {state.theirs_name} in progress: {plural(result.conflicts, 'conflict')} to resolve "
                       "(attgit conflicts; attgit resolve; attgit merge --abort)")
        else:
            click.echo(f"Merge of {state.theirs_name} in progress: every conflict is resolved; conclude it with "
                       "`attgit merge --continue` (or undo it with `attgit merge --abort`)")
    if result.unloaded:
        click.echo("The database is empty and has never been loaded from this repository (a clone interrupted "
                   "before its load, or a new database): run `attgit clone URL` again with the same --repo to "
                   "finish the clone, or any writing command (`attgit commit`) to load main into it first; "
                   "nothing is lost")
    elif result.clean:
        click.echo("nothing to commit: the database matches the last commit" if result.head
                   else "nothing to commit: the database is empty")
    else:
        click.echo(f"Database changes not committed: {result.added:,} added, {result.changed:,} changed, "
                   f"{result.deleted:,} deleted in {plural(len(result.companies), 'company')}")
    if full and result.diffs:  # every row was compared: name each difference
        _print_diffs(result.diffs, stat=False)


def _print_invalid_rows(exc, as_json: bool) -> None:
    """Every row that stops a commit, on stdout (the error says it again, briefly, on stderr)."""
    if as_json:
        emit_json({"clean": False, "invalid_rows": [row.to_dict() for row in exc.rows]})
        return
    click.echo(f"{plural(len(exc.rows), 'row')} in the database cannot be committed; fix or delete them:")
    for row in exc.rows:
        click.echo(f"  {row.describe()}")


@cli.command()
@click.argument("rev", required=False)
@click.option("-n", "--max-count", type=int, help="Show at most N commits.")
@click.option("--oneline", is_flag=True, help="One line per commit.")
@click.option("--json", "as_json", is_flag=True, help="Print the commits as JSON.")
@click.option("--company", metavar="NAME", help="Only the commits that changed this company.")
@click.option("--record", metavar="EP_NO", help="One record's timeline: EP_NO with --company and --date, "
              "or EP_NO@COMPANY@YYYY-MM-DD.")
@click.option("--date", metavar="YYYY-MM-DD", help="The record's day (with --record).")
@pass_app
def log(app: App, rev, max_count, oneline, as_json, company, record, date):
    """Show the history of snapshots, newest first, with counts; or of one
    company (--company), or one record (--record): who changed it, when, how.

    Example: attgit log -n 5; attgit log --record "E001@ABC Corp@2025-11-20"
    """
    if company is not None or record is not None or date is not None:
        from attgit.cli.recordlog import print_history

        return print_history(app, rev, company, record, date, max_count, as_json)
    repo = app.repo
    start = repo.resolve(rev) if rev else None
    commits = list(repo.log(start, max_count))
    if as_json:
        emit_json([c.to_dict() for c in commits])
        return
    if not commits and max_count != 0:  # `-n 0` asks for nothing, as git's does
        click.echo("no commits yet: make one with `attgit commit`")
    for info in commits:
        click.echo(_format_oneline(info) if oneline else _format_commit(info))


def _format_oneline(info) -> str:
    records = info.count("Records")
    counts = plural(records, "record") if records is not None else ""
    return f"{info.short} {info.time:%Y-%m-%d %H:%M} {info.type or '-':11} {counts:>17}  {info.summary}"


def _format_commit(info) -> str:
    lines = [click.style(f"commit {info.id}", fg="yellow")]
    if len(info.parents) > 1:
        lines.append("Merge:  " + " ".join(p[:10] for p in info.parents))
    lines.append(f"Author: {info.author} <{info.email}>")
    lines.append(f"Date:   {info.time:%Y-%m-%d %H:%M:%S %z}")
    companies, records = info.count("Companies"), info.count("Records")
    if info.type:
        lines.append(f"Type:   {info.type}   companies: {companies}   records: {records:,}" if records is not None
                     else f"Type:   {info.type}")
    lines.append("")
    lines.append(f"    {info.summary}")
    lines.append("")
    return "\n".join(lines)


@cli.command()
@click.argument("rev", default="HEAD")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def show(app: App, rev, as_json):
    """Show one commit: its metadata and what it changed.

    Example: attgit show HEAD~1
    """
    from attgit.ops.compare import diff_snapshots, trusted_snapshot

    repo = app.repo
    oid = repo.resolve(rev)
    info = repo.info(oid)
    parent = repo.snapshot(repo.resolve(info.parents[0])) if info.parents else repo.snapshot(None)
    diffs = diff_snapshots(parent, repo.snapshot(oid), trusted=trusted_snapshot(repo))
    if as_json:  # company by company: a first commit of a million records is never held whole
        emit_json_stream({"commit": info.to_dict()}, "companies", (d.to_dict() for d in diffs))
        return
    counts = [(d.company, d.counts) for d in diffs]  # counts only, and all of them before any output
    click.echo(_format_commit(info))
    _print_counts(counts)


@cli.command()
@click.argument("revs", nargs=-1)
@click.option("--stat", is_flag=True, help="Counts per company only.")
@click.option("--company", "companies", multiple=True, metavar="NAME", help="Only this company (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def diff(app: App, revs, stat, companies, as_json):
    """Show record-level differences.

    With no REV: the database against the last commit.  With one: the
    database against that commit.  With two: between the commits.  A REV
    that names an existing file is a backup file: two of them, or a commit
    and a file, compare the same way (line by line, company by company).

    Example: attgit diff HEAD~1 HEAD --company "ABC Corp"
    """
    from attgit.ops.compare import diff_database, diff_snapshots, require_diff_companies, trusted_snapshot

    only = set(companies) or None
    if len(revs) > 2:
        raise click.UsageError("diff takes at most two commits or backup files")
    for rev in revs:
        if not os.path.isfile(rev) and _looks_like_a_file(rev):
            raise NotFound(f"no such backup file: {rev} (nor a commit of that name)")
    if any(os.path.isfile(r) for r in revs):
        with contextlib.ExitStack() as stack:
            return _show(_diff_files(app, revs, only, stack), stat, as_json)
    repo = app.repo
    require_diff_companies(repo, only, revs, app.backend.db if len(revs) < 2 else None)
    if len(revs) < 2:
        app.check_capture()
    if len(revs) == 2:
        diffs = diff_snapshots(repo.snapshot(revs[0]), repo.snapshot(revs[1]), only, trusted_snapshot(repo))
    else:
        diffs = diff_database(repo, app.backend.db, revs[0] if revs else None, companies=only)
    if stat and not as_json:  # the counts only, all of them before any output
        _print_counts([(d.company, d.counts) for d in diffs])
        return
    _show(list(diffs), stat, as_json)  # whole first: an invalid row is named before any output


def _diff_files(app: App, revs, only, stack: contextlib.ExitStack):
    """The differences when a side is a backup file (read and validated
    whole first, spooled per company; a wrong file changes nothing)."""
    from attgit.format.backup import read_backup
    from attgit.ops.compare import BackupVersion, diff_versions, require_version_companies

    if len(revs) != 2:
        raise click.UsageError("compare a backup file with a commit or another file: attgit diff HEAD backup.json")
    sides: list = []
    for rev in revs:
        if os.path.isfile(rev):
            sides.append(BackupVersion(stack.enter_context(read_backup(rev, gnupghome=_gnupghome(app)))))
        else:
            sides.append(app.repo.snapshot(rev))
    require_version_companies(only, sides, tuple(revs))
    return diff_versions(sides[0], sides[1], companies=only, labels=tuple(revs))


def _looks_like_a_file(rev: str) -> bool:
    """A name meant as a file (a path, or a backup file's ending), which
    no commit name is likely to be."""
    return os.sep in rev or rev.endswith((".json", ".gz", ".gpg", ".asc", ".pgp"))


def _gnupghome(app: App):
    """The GnuPG home of the site, when there is one (two plain files need none)."""
    try:
        return app.backend.gnupghome
    except ConfigError:
        return None


def _show(diffs, stat: bool, as_json: bool) -> None:
    """Print company by company as the diffs come (JSON: one list)."""
    if as_json:
        emit_json([d.to_dict() for d in diffs])
    else:
        _print_diffs(diffs, stat=stat)


def _print_counts(counts: list) -> None:
    for company, n in counts:
        _print_headline(company, n)
    if not counts:
        click.echo("no differences")


def _print_headline(company: str, counts: dict) -> None:
    click.echo(click.style(f"{company}: +{counts['added']:,} -{counts['removed']:,} ~{counts['changed']:,}", bold=True))


def _print_diffs(diffs, stat: bool) -> None:
    shown = 0
    for d in diffs:
        shown += 1
        _print_headline(d.company, d.counts)
        if stat:
            continue
        for r in d.added:
            click.echo(click.style(f"+ {rec.describe_key(rec.key(r))}  {record_values(r)}", fg="green"))
        for r in d.removed:
            click.echo(click.style(f"- {rec.describe_key(rec.key(r))}  {record_values(r)}", fg="red"))
        for change in d.changed:
            fields = ", ".join(f"{f}: {change.old[f]!r} -> {change.new[f]!r}" for f in change.fields)
            click.echo(click.style(f"~ {rec.describe_key(change.key)}  {fields}", fg="yellow"))
    if not shown:
        click.echo("no differences")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--database", is_flag=True, help="Compare every row of the database with the last commit and with "
              "what the change log names: any difference the log missed is a problem (exit 12).")
@click.option("--repair", is_flag=True, help="With --database: commit what the log missed (a full re-read).")
@pass_app
def verify(app: App, as_json, database, repair):
    """Check every commit: objects readable, checksums right, counts matching.

    With --database, check the database's change log instead: a full compare
    against the last commit, loud about anything the log missed.

    Example: attgit verify --database --repair
    """
    from attgit.errors import IntegrityError
    from attgit.ops.verify import verify as run

    if repair and not database:
        raise click.UsageError("--repair goes with --database")
    if database:
        _verify_database(app, as_json, repair)
        return
    result = run(app.repo)
    app.log_quietly("verify", success=result.ok, error="; ".join(result.problems[:5]), records=result.records)
    if as_json:
        emit_json(result.to_dict())
    else:
        for problem in result.problems:
            click.echo(f"problem: {problem}")
        verdict = "ok" if result.ok else plural(len(result.problems), "problem")
        click.echo(f"verified {plural(result.commits, 'commit')}, {plural(result.blobs, 'company file')}, "
                   f"{plural(result.records, 'record')}: {verdict}")
    if not result.ok:
        remedy = ("; fetch damaged objects again with `attgit fetch --repair REMOTE` from a remote that has them"
                  if result.damaged else "")
        raise IntegrityError(f"{plural(len(result.problems), 'problem')} found{remedy}")


def _verify_database(app: App, as_json: bool, repair: bool) -> None:
    """verify --database: the audit log records every run; a miss fails
    (exit 12) unless --repair committed it."""
    from attgit.errors import IntegrityError
    from attgit.ops.verify import repair_database, verify_database

    app.check_capture()
    with app.writing("verify_database"):
        check = verify_database(app.repo, app.backend.db)
        if repair and not check.ok:
            repair_database(app.repo, app.backend.db, app.author, check)
    app.log("verify_database", success=check.ok, commit=check.repaired or "",
            error=("change log missed: " + check.describe()) if check.missed else "")
    if as_json:
        emit_json(check.to_dict())
    else:
        if check.doubt:
            click.echo(f"note: {check.doubt}; every row was compared")
        for missed in check.missed:
            click.echo(f"problem: the change log missed edits in {missed['company']}: {missed['added']} added, "
                       f"{missed['changed']} changed, {missed['removed']} deleted")
        verdict = "ok" if check.ok else f"{plural(len(check.missed), 'company')} with edits the change log missed"
        click.echo(f"database compared with {short(check.head) if check.head else '(no commits)'}: {verdict} "
                   f"({plural(check.pending, 'logged edit')} not committed yet)")
        if check.repaired:
            click.echo(f"[main {short(check.repaired)}] repair snapshot: committed what the log missed")
    if not check.ok and not check.repaired:
        raise IntegrityError("the change log missed edits (" + check.describe() + "); commit them with "
                             "`attgit verify --database --repair` (or `attgit commit --full`)")
