"""Commands that write the database from elsewhere: checkout (an earlier
snapshot), import (a backup file), and export (write a backup file).
"""


from __future__ import annotations

import os

import click

from attgit.cli.app import (
    App,
    apply_progress,
    cli,
    emit_json,
    pass_app,
    pending_error,
    print_conflicts,
    record_values,
)
from attgit.errors import ConfigError
from attgit.format import records as rec
from attgit.ops.export import SINCE_RULE
from attgit.words import plural


def _selection(companies, date_from, date_to):
    from attgit.ops.restore import Selection

    return Selection(set(companies) or None, date_from, date_to)


class DateType(click.ParamType):
    """A calendar date written YYYY-MM-DD: anything else is a usage error
    (exit 2) naming the option, before any work starts."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        import datetime as dt

        try:
            if len(value) == 10:
                return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
        self.fail(f"{value!r} is not a date written YYYY-MM-DD", param, ctx)


DATE = DateType()

selection_options = [
    click.option("--company", "companies", multiple=True, metavar="NAME", help="Only this company (repeatable)."),
    click.option("--from", "date_from", type=DATE, help="Only records on or after this date."),
    click.option("--to", "date_to", type=DATE, help="Only records on or before this date."),
]


def with_selection(f):
    for option in reversed(selection_options):
        f = option(f)
    return f


@cli.command()
@click.argument("rev")
@click.option("--preview", is_flag=True, help="Show what would change; write nothing.")
@with_selection
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def checkout(app: App, rev, preview, companies, date_from, date_to, as_json):
    """Make the database equal to an earlier snapshot (or part of it).

    The current state is committed first and the checkout is itself a new
    commit, so it can be undone by checking out the commit before it.

    Example: attgit checkout HEAD~3 --company "ABC Corp" --from 2025-11-01
    """
    from attgit.ops.restore import checkout as run

    selection = _selection(companies, date_from, date_to)
    update, bar = apply_progress("checkout")
    with app.writing("checkout"), bar:
        result = run(app.repo, app.backend.db, app.author, rev, preview=preview, selection=selection,
                     progress=update)
    if not preview:
        app.log("checkout", commit=result.commit or "", added=result.counts.get("inserts", 0),
                updated=result.counts.get("updates", 0), source=rev)
    _print_restore(result, as_json, what=f"checkout of {rev}")


@cli.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--strategy", "-s", default=None, metavar="NAME",
              help="theirs|backup_wins, ours|database_wins or manual (default: the setting, else theirs).")
@click.option("--preview", is_flag=True, help="Show what would change; write nothing.")
@with_selection
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def import_(app: App, file, strategy, preview, companies, date_from, date_to, as_json):
    """Merge a JSON backup file into the database (never deletes).

    Records absent from the database are added, identical ones skipped,
    different ones resolved by the strategy.

    Example: attgit import backup.json --strategy database_wins --preview
    """
    from attgit.format.backup import read_backup
    from attgit.ops.restore import import_backup

    strategy = strategy or app.backend.default_strategy
    selection = _selection(companies, date_from, date_to)
    update, bar = apply_progress("import")
    with read_backup(file, gnupghome=app.backend.gnupghome) as backup, app.writing("import"), bar:
        result = import_backup(app.repo, app.backend.db, app.author, backup, os.path.basename(file),
                               strategy=strategy, preview=preview, selection=selection, progress=update)
        companies = len(backup.companies())
    if not preview:
        app.log("import", commit=result.commit or "", filename=os.path.basename(file), companies=companies,
                added=result.counts.get("added", 0), updated=result.counts.get("updated", 0),
                skipped=result.counts.get("skipped", 0), records=result.counts.get("records_in_file", 0),
                pending=result.counts.get("pending", 0),
                **({"warnings": result.warnings} if result.warnings else {}))
    _print_restore(result, as_json, what=f"import of {file}")


def _print_restore(result, as_json: bool, what: str) -> None:
    for warning in result.warnings:
        click.echo(f"attgit: warning: {warning}", err=True)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"{what}: {_counts_line(result)}"
                   + (f"; {plural(len(result.conflicts), 'conflict')}" if result.conflicts else ""))
        if result.status == "preview":
            _print_samples(result.samples)
        print_conflicts(result.conflicts, limit=20)
        if result.status == "nothing":
            click.echo("nothing to change: the database already matches")
        elif result.commit:
            click.echo(f"[main {result.commit[:10]}] {result.status}")
    if result.status == "conflicts":
        raise pending_error(len([c for c in result.conflicts if c.resolution is None]))


def _counts_line(result) -> str:
    """A checkout's inserts/updates/deletes, or an import's added/updated/
    skipped (the names of their --json counts)."""
    c = result.counts
    verb = "would" if result.status == "preview" else "did"
    if "records_in_file" in c:
        return f"{verb} add {c['added']:,}, update {c['updated']:,}; skip {c['skipped']:,}"
    return f"{verb} insert {c.get('inserts', 0):,}, update {c.get('updates', 0):,}, delete {c.get('deletes', 0):,}"


def _print_samples(samples) -> None:
    for kind, item in samples:
        if kind == "add":
            click.echo(click.style(f"+ {rec.describe_key(rec.key(item))}  {record_values(item)}", fg="green"))
        elif kind == "delete":
            click.echo(click.style(f"- {rec.describe_key(rec.key(item))}  {record_values(item)}", fg="red"))
        else:
            fields = ", ".join(f"{f}: {item.old[f]!r} -> {item.new[f]!r}" for f in item.fields)
            click.echo(click.style(f"~ {rec.describe_key(item.key)}  {fields}", fg="yellow"))


@cli.command()
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--type", "backup_type", type=click.Choice(["full", "incremental"]), default="full", show_default=True)
@click.option("--since", metavar="DATE", help="With --type incremental: records updated on or after this moment; "
              + SINCE_RULE + ".")
@click.option("--encrypt", "recipient", metavar="RECIPIENT",
              help="Encrypt the file for this public key (key id, fingerprint or e-mail in the GnuPG home).")
@pass_app
def export(app: App, output, backup_type, since, recipient):
    """Write the database as a JSON backup file (the design document's format).

    The file is private (mode 0600) and appears only when complete; free disk
    space is checked first.  With --encrypt it is an OpenPGP message that
    `attgit import` decrypts with the private key in the GnuPG home.

    Example: attgit export /backups/attendance.json --encrypt backups@example.com
    """
    from attgit.ops.export import export_backup, parse_since
    from attgit.ops.mergestate import refuse_export_while_merging

    db = app.backend.db
    if _has_repository(app):  # no repository: no merge can be waiting
        refuse_export_while_merging(app.repo)
    if not hasattr(db, "records_since") or not hasattr(db, "companies_with_created_at"):
        raise ConfigError("this backend cannot export backup files")
    if since and backup_type == "full":
        raise click.UsageError("--since goes with --type incremental")
    if backup_type == "incremental" and not since:
        raise click.UsageError("--type incremental needs --since DATE")
    moment = parse_since(since, app.backend.time_zone) if since else None
    summary = export_backup(db, output, backup_type=backup_type, since=moment, created_by=app.author.name,
                            encrypt_to=recipient, gnupghome=app.backend.gnupghome)
    app.log("backup_" + backup_type, filename=os.path.basename(output), companies=summary.companies,
            records=summary.records, **({"encrypted_for": recipient} if recipient else {}))
    sealed = f", encrypted for {recipient}" if recipient else ""
    click.echo(f"wrote {output}: {plural(summary.companies, 'company')}, {plural(summary.records, 'record')}{sealed}")


def _has_repository(app: App) -> bool:
    """Whether a repository is configured and exists (an export needs none)."""
    try:
        return os.path.isdir(app.repo_path())
    except ConfigError:
        return False
