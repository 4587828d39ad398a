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
    short,
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
    _print_restore(result, as_json, what=f"checkout of {rev}", main=app.repo.head())


def _passphrase(passphrase_file, ask: bool, confirm: bool = False):
    """The passphrase from its file or typed at a prompt (hidden), else
    None: never from an argument or the environment, where other users
    and logs can read it."""
    from attgit.format.backup.crypto import check_passphrase, passphrase_from_file

    if passphrase_file and ask:
        raise click.UsageError("--passphrase-file and --ask-passphrase: choose one")
    if passphrase_file:
        return passphrase_from_file(passphrase_file)
    if ask:
        return check_passphrase(click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm,
                                             err=True))
    return None


passphrase_options = [
    click.option("--passphrase-file", type=click.Path(dir_okay=False), metavar="FILE",
                 help="The passphrase is the first line of FILE (OpenPGP symmetric encryption)."),
    click.option("--ask-passphrase", is_flag=True, help="Type the passphrase at a prompt (not echoed)."),
]


def with_passphrase(f):
    for option in reversed(passphrase_options):
        f = option(f)
    return f


@cli.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--strategy", "-s", default=None, metavar="NAME",
              help="theirs|backup_wins, ours|database_wins or manual (default: the setting, else theirs).")
@click.option("--preview", is_flag=True, help="Show what would change; write nothing.")
@with_selection
@with_passphrase
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def import_(app: App, file, strategy, preview, companies, date_from, date_to, passphrase_file, ask_passphrase,
            as_json):
    """Merge a JSON backup file into the database (never deletes).

    Records absent from the database are added, identical ones skipped,
    different ones resolved by the strategy.  A gzipped file, a file
    encrypted for a key in the GnuPG home, or one encrypted with a
    passphrase (--passphrase-file, --ask-passphrase) is read as a stream:
    nothing decrypted is written to disk.

    Example: attgit import backup.json.gz --strategy database_wins --preview
    """
    from attgit.format.backup import read_backup
    from attgit.ops.restore import import_backup

    strategy = strategy or app.backend.default_strategy
    selection = _selection(companies, date_from, date_to)
    update, bar = apply_progress("import")
    from attgit.format.backup.spool import spool_parent

    passphrase = _passphrase(passphrase_file, ask_passphrase)
    with read_backup(file, gnupghome=app.backend.gnupghome, max_plain_bytes=app.backend.decompressed_limit,
                     spool_dir=spool_parent(app.repo.path), passphrase=passphrase) as backup, \
            app.writing("import"), bar:
        result = import_backup(app.repo, app.backend.db, app.author, backup, os.path.basename(file),
                               strategy=strategy, preview=preview, selection=selection, progress=update)
        companies = len(backup.companies())
    if not preview:
        app.log("import", commit=result.commit or "", filename=os.path.basename(file), companies=companies,
                added=result.counts.get("added", 0), updated=result.counts.get("updated", 0),
                skipped=result.counts.get("skipped", 0), records=result.counts.get("records_in_file", 0),
                pending=result.counts.get("pending", 0),
                **({"warnings": result.warnings} if result.warnings else {}))
    _print_restore(result, as_json, what=f"import of {file}", main=app.repo.head(), merge_kind="import")


def _print_restore(result, as_json: bool, what: str, main=None, merge_kind: str = "") -> None:
    for warning in result.warnings:
        click.echo(f"attgit: warning: {warning}", err=True)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"{what}: {_counts_line(result)}"
                   + (f"; {plural(len(result.conflicts), 'conflict')}" if result.conflicts else ""))
        if result.status == "preview":
            _print_samples(result.samples, _changes(result.counts))
        print_conflicts(result.conflicts, limit=SHOWN, merge_kind=merge_kind)
        if result.status == "nothing":
            click.echo("nothing to change: the database already matches")
        elif result.status == "conflicts":
            _print_waiting(result, main)
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


#: records and conflicts a preview prints (as `attgit pull --preview` does)
SHOWN = 20


def _changes(counts: dict) -> int:
    """How many records a restore changes (a checkout's inserts, updates
    and deletes; an import's additions and updates)."""
    if "records_in_file" in counts:
        return counts.get("added", 0) + counts.get("updated", 0)
    return counts.get("inserts", 0) + counts.get("updates", 0) + counts.get("deletes", 0)


def _print_waiting(result, main) -> None:
    """A manual import that stopped on conflicts: main has not moved; say
    where the database stands and what to do, as git does after a
    conflicted merge."""
    left = len([c for c in result.conflicts if c.resolution is None])
    click.echo(f"main has not moved (it is at {short(str(main) if main else None)}, the database as it was before "
               "the import): the database has every "
               f"change that did not conflict and keeps its own values for {plural(left, 'conflicting record')}. "
               "Resolve them (`attgit conflicts`; `attgit resolve ID --ours` keeps the database's values, "
               "`--theirs` takes the file's), then the merge is "
               "concluded (`attgit merge --continue`); or undo it all with `attgit merge --abort`.")


def _print_samples(samples, total: int) -> None:
    """The first SHOWN changes, and how many more there are."""
    from attgit.ops.restore import SAMPLE_SIZE

    for kind, item in samples[:SHOWN]:
        if kind == "add":
            click.echo(click.style(f"+ {rec.describe_key(rec.key(item))}  {record_values(item)}", fg="green"))
        elif kind == "delete":
            click.echo(click.style(f"- {rec.describe_key(rec.key(item))}  {record_values(item)}", fg="red"))
        else:
            fields = ", ".join(f"{f}: {item.old[f]!r} -> {item.new[f]!r}" for f in item.fields)
            click.echo(click.style(f"~ {rec.describe_key(item.key)}  {fields}", fg="yellow"))
    more = max(total, len(samples)) - min(len(samples), SHOWN)
    if more > 0:
        which = "all" if total <= SAMPLE_SIZE else f"the first {SAMPLE_SIZE:,}"
        click.echo(f"... and {more:,} more (use --json for {which})")


@cli.command()
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--type", "backup_type", type=click.Choice(["full", "incremental"]), default="full", show_default=True)
@click.option("--since", metavar="DATE", help="With --type incremental: records updated on or after this moment; "
              + SINCE_RULE + ".")
@click.option("--encrypt", "recipient", metavar="RECIPIENT",
              help="Encrypt the file for this public key (key id, fingerprint or e-mail in the GnuPG home).")
@click.option("--json", "as_json", is_flag=True, help="Print the result (counts, the file's metadata) as JSON.")
@with_passphrase
@pass_app
def export(app: App, output, backup_type, since, recipient, passphrase_file, ask_passphrase, as_json):
    """Write the database as a JSON backup file (the design document's format).

    The file is private (mode 0600) and appears only when complete; free disk
    space is checked first.  A name ending in .gz (also .gz.gpg) is gzipped.
    With --encrypt it is an OpenPGP message that `attgit import` decrypts with
    the private key in the GnuPG home; with --passphrase-file or
    --ask-passphrase it is encrypted with a passphrase.

    Example: attgit export backup.json.gz --passphrase-file /root/pass
    """
    from attgit.ops.export import export_backup, parse_since
    from attgit.ops.mergestate import refuse_export_while_merging

    app.say_where()
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
    if recipient and (passphrase_file or ask_passphrase):
        raise click.UsageError("--encrypt and a passphrase: choose one")
    passphrase = _passphrase(passphrase_file, ask_passphrase, confirm=True)
    summary = export_backup(db, output, backup_type=backup_type, since=moment, created_by=app.author.name,
                            encrypt_to=recipient, gnupghome=app.backend.gnupghome, passphrase=passphrase)
    app.log("backup_" + backup_type, filename=os.path.basename(output), companies=summary.companies,
            records=summary.records, **({"encrypted_for": recipient} if recipient else {}),
            **({"encrypted_with": "passphrase"} if passphrase is not None else {}))
    if as_json:
        emit_json({"file": output, "companies": summary.companies, "records": summary.records,
                   "bytes": summary.bytes, "encrypted_for": recipient,
                   "encrypted_with_passphrase": passphrase is not None, "metadata": summary.metadata})
        return
    sealed = f", encrypted for {recipient}" if recipient else ""
    sealed += ", encrypted with the passphrase" if passphrase is not None else ""
    click.echo(f"wrote {output}: {plural(summary.companies, 'company')}, {plural(summary.records, 'record')}{sealed}")


def _has_repository(app: App) -> bool:
    """Whether a repository is configured and exists (an export needs none)."""
    try:
        return os.path.isdir(app.repo_path())
    except ConfigError:
        return False
