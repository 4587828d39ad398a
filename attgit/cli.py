"""The ``attgit`` command: the only module that imports the CLI framework.

Library errors become one line on stderr and the exit code of their class
(:class:`attgit.errors.ExitCode`); nothing prints a traceback to a user
(set ATTGIT_DEBUG=1 to see one).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Optional

import click
import orjson

from . import __version__
from . import records as rec
from .backend import DEFAULT_BACKEND, Backend, load_backend
from .errors import AttgitError, ConfigError, ExitCode
from .repository import Author, Repository, default_author


class App:
    """What every command needs, opened lazily: repository, backend, locks."""

    def __init__(self, repo: Optional[str], settings: Optional[str], backend: str, wait: float, user: Optional[str]):
        self.repo_arg, self.settings, self.backend_spec = repo, settings, backend
        self.wait, self.user = wait, user
        self._backend: Optional[Backend] = None
        self._repo: Optional[Repository] = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = load_backend(self.backend_spec, self.settings)
        return self._backend

    def repo_path(self) -> str:
        path = self.repo_arg or os.environ.get("ATTGIT_REPO")
        if not path:
            path = self.backend.repo_path
        if not path:
            raise ConfigError("no repository given: pass --repo PATH, set ATTGIT_REPO or the ATTGIT_REPO setting")
        return path

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            self._repo = Repository.open(self.repo_path())
        return self._repo

    @property
    def author(self) -> Author:
        base = self.backend.author if self._backend is not None and self.backend.author else default_author()
        return Author(self.user, base.email if not self.user else "", base.time) if self.user else base

    @contextlib.contextmanager
    def writing(self, operation: str = ""):
        """Both single-writer locks, then reconcile a crash's leftovers.

        A failure is written to the audit log (with the operation's name)
        before it propagates to the user.
        """
        from .sync import exclusive

        notes: list = []
        try:
            with exclusive(self.repo, self.backend.db, self.wait, notes):
                for note in notes:
                    click.echo(f"attgit: {note}", err=True)
                yield
        except AttgitError as exc:
            if operation:
                with contextlib.suppress(Exception):
                    self.log(operation, success=False, error=str(exc))
            raise

    def log(self, operation: str, **details) -> None:
        """Write the audit log (the BackupLog in Django)."""
        self.backend.log(operation, user=self.author.name, **details)

    def log_quietly(self, operation: str, **details) -> None:
        """Audit a read-only command; commands that need no database (log,
        show, verify, init, remote, fetch) still work where none is set up."""
        try:
            self.log(operation, **details)
        except Exception:  # noqa: BLE001 - an audit row must not fail a read
            pass


pass_app = click.make_pass_decorator(App)


def emit_json(data) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode())


def progress_bar(total: int, desc: str):
    """A tqdm bar on stderr, quiet when stderr is not a terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="rec", file=sys.stderr, disable=None, leave=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--repo", "-C", metavar="PATH", help="The bare repository (else $ATTGIT_REPO, else the ATTGIT_REPO setting).")
@click.option("--settings", metavar="MODULE", help="Django settings module (else $DJANGO_SETTINGS_MODULE).")
@click.option("--backend", default=lambda: os.environ.get("ATTGIT_BACKEND", DEFAULT_BACKEND), show_default="django",
              metavar="MODULE:FUNCTION", help="Where the database comes from.")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS", help="Wait this long for a lock held by another process.")
@click.option("--user", "-u", metavar="NAME", help="The acting user (else $ATTGIT_USER, else your login).")
@click.version_option(__version__, prog_name="attgit")
@click.pass_context
def cli(ctx, repo, settings, backend, wait, user):
    """Git for attendance data: snapshot, diff, merge and sync a database.

    Example: attgit --settings attendance_site.settings commit -m "nightly"
    """
    ctx.obj = App(repo, settings, backend, wait, user)


# --- init, commit, status ------------------------------------------------

@cli.command()
@click.argument("path", required=False)
@pass_app
def init(app: App, path):
    """Create an empty bare repository for snapshots.

    Example: attgit init /srv/attgit/prod.git
    """
    target = path or app.repo_path()
    repo = Repository.init(target)
    app.log_quietly("init", repository=str(repo.path.resolve()))
    click.echo(f"Initialized attgit repository in {repo.path.resolve()}")


@cli.command()
@click.option("-m", "--message", help="Commit message summary (default: counts).")
@click.option("--full", is_flag=True, help="Re-read every company, not only those whose rows moved.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def commit(app: App, message, full, as_json):
    """Snapshot the database into a new commit.

    Example: attgit commit -m "before payroll run"
    """
    from .commit import snapshot_database

    bar = progress_bar(len(app.backend.db.fingerprints()), "commit")
    bar.unit = "company"
    with app.writing("commit"), bar:
        result = snapshot_database(app.repo, app.backend.db, app.author, message=message, full=full,
                                   progress=lambda company: bar.update(1))
    app.log("commit", commit=result.commit or "", records=result.records, companies=result.companies)
    if as_json:
        emit_json(result.to_dict())
    elif not result.created:
        click.echo("nothing to commit: " + (f"the database matches {result.parent[:10]}" if result.parent else "the database is empty"))
    else:
        click.echo(f"[main {result.commit[:10]}] {result.kind} snapshot: {result.companies} companies, "
                   f"{result.records:,} records ({len(result.changed_companies)} companies re-read)")


@cli.command()
@click.option("--full", is_flag=True, help="Compare every company, not only those whose rows moved.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def status(app: App, full, as_json):
    """Show how the database differs from the last commit.

    Example: attgit status
    """
    from .compare import status as compute
    from .conflicts import MergeState

    result = compute(app.repo, app.backend.db, full=full)
    app.log_quietly("status", added=result.added, updated=result.changed, deleted=result.deleted)
    state = MergeState.load(app.repo)
    if state is not None:
        result.merge_in_progress, result.conflicts = True, len(state.pending())
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"On main at {result.head[:10] if result.head else '(no commits yet)'}")
    if state is not None:
        click.echo(f"Merge of {state.theirs_name} in progress: {result.conflicts} conflict(s) to resolve "
                   "(attgit conflicts; attgit resolve; attgit merge --abort)")
    if result.clean:
        click.echo("nothing to commit: the database matches the last commit")
    else:
        click.echo(f"Database changes not committed: {result.added} added, {result.changed} changed, "
                   f"{result.deleted} deleted in {len(result.companies)} companies")


# --- history -------------------------------------------------------------

@cli.command()
@click.argument("rev", required=False)
@click.option("-n", "--max-count", type=int, help="Show at most N commits.")
@click.option("--oneline", is_flag=True, help="One line per commit.")
@click.option("--json", "as_json", is_flag=True, help="Print the commits as JSON.")
@pass_app
def log(app: App, rev, max_count, oneline, as_json):
    """Show the history of snapshots, newest first, with counts.

    Example: attgit log -n 5
    """
    repo = app.repo
    start = repo.resolve(rev) if rev else None
    commits = list(repo.log(start, max_count))
    app.log_quietly("log", commits=len(commits))
    if as_json:
        emit_json([c.to_dict() for c in commits])
        return
    if not commits:
        click.echo("no commits yet: make one with `attgit commit`")
    for info in commits:
        click.echo(_format_oneline(info) if oneline else _format_commit(info))


def _format_oneline(info) -> str:
    records = info.count("Records")
    counts = f"{records:,} records" if records is not None else ""
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
    from .compare import diff_snapshots

    repo = app.repo
    oid = repo.resolve(rev)
    info = repo.info(oid)
    parent = repo.snapshot(repo.git[oid].parent_ids[0]) if info.parents else repo.snapshot(None)
    diffs = list(diff_snapshots(parent, repo.snapshot(oid)))
    app.log_quietly("show", commit=str(oid))
    if as_json:
        emit_json({"commit": info.to_dict(), "companies": [d.to_dict() for d in diffs]})
        return
    click.echo(_format_commit(info))
    _print_diffs(diffs, stat=True)


@cli.command()
@click.argument("revs", nargs=-1)
@click.option("--stat", is_flag=True, help="Counts per company only.")
@click.option("--company", "companies", multiple=True, metavar="NAME", help="Only this company (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def diff(app: App, revs, stat, companies, as_json):
    """Show record-level differences.

    With no REV: the database against the last commit.  With one: the
    database against that commit.  With two: between the commits.

    Example: attgit diff HEAD~1 HEAD --company "ABC Corp"
    """
    from .compare import diff_database, diff_snapshots

    repo = app.repo
    only = set(companies) or None
    if len(revs) > 2:
        raise click.UsageError("diff takes at most two commits")
    if len(revs) == 2:
        diffs = diff_snapshots(repo.snapshot(revs[0]), repo.snapshot(revs[1]), only)
    else:
        diffs = diff_database(repo, app.backend.db, revs[0] if revs else None, companies=only)
    diffs = list(diffs)
    app.log_quietly("diff", revisions=list(revs), companies=len(diffs))
    if as_json:
        emit_json([d.to_dict() for d in diffs])
    else:
        _print_diffs(diffs, stat=stat)


def _print_diffs(diffs, stat: bool) -> None:
    if not diffs:
        click.echo("no differences")
    for d in diffs:
        click.echo(click.style(f"{d.company}: +{len(d.added)} -{len(d.removed)} ~{len(d.changed)}", bold=True))
        if stat:
            continue
        for r in d.added:
            click.echo(click.style(f"+ {rec.describe_key(rec.key(r))}  {_values(r)}", fg="green"))
        for r in d.removed:
            click.echo(click.style(f"- {rec.describe_key(rec.key(r))}  {_values(r)}", fg="red"))
        for change in d.changed:
            fields = ", ".join(f"{f}: {change.old[f]!r} -> {change.new[f]!r}" for f in change.fields)
            click.echo(click.style(f"~ {rec.describe_key(change.key)}  {fields}", fg="yellow"))


def _values(record: dict) -> str:
    return " ".join(f"{f}={record[f]}" for f in rec.VALUE_FIELDS if record[f] not in (None, ""))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def verify(app: App, as_json):
    """Check every commit: objects readable, checksums right, counts matching.

    Example: attgit verify
    """
    from .errors import IntegrityError
    from .verify import verify as run

    result = run(app.repo)
    app.log_quietly("verify", success=result.ok, error="; ".join(result.problems[:5]), records=result.records)
    if as_json:
        emit_json(result.to_dict())
    else:
        for problem in result.problems:
            click.echo(f"problem: {problem}")
        click.echo(f"verified {result.commits} commits, {result.blobs} company files, {result.records:,} records: "
                   + ("ok" if result.ok else f"{len(result.problems)} problem(s)"))
    if not result.ok:
        raise IntegrityError(f"{len(result.problems)} problem(s) found")


# --- restore: checkout, import, export ------------------------------------------

def _selection(companies, date_from, date_to):
    from .restore import Selection

    return Selection(set(companies) or None, date_from, date_to)


selection_options = [
    click.option("--company", "companies", multiple=True, metavar="NAME", help="Only this company (repeatable)."),
    click.option("--from", "date_from", metavar="YYYY-MM-DD", help="Only records on or after this date."),
    click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Only records on or before this date."),
]


def with_selection(f):
    for option in reversed(selection_options):
        f = option(f)
    return f


def _apply_progress(desc: str, unit: str = "rec"):
    """A progress(done, total) callback driving a tqdm bar, and the bar."""
    bar = progress_bar(0, desc)
    bar.unit = unit

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar


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
    from .restore import checkout as run

    selection = _selection(companies, date_from, date_to)
    update, bar = _apply_progress("checkout")
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
    from .backupfile import read_backup
    from .restore import import_backup

    strategy = strategy or app.backend.default_strategy
    selection = _selection(companies, date_from, date_to)
    update, bar = _apply_progress("import")
    with read_backup(file) as backup, app.writing("import"), bar:
        result = import_backup(app.repo, app.backend.db, app.author, backup, os.path.basename(file),
                               strategy=strategy, preview=preview, selection=selection, progress=update)
    if not preview:
        app.log("import", commit=result.commit or "", filename=os.path.basename(file),
                added=result.counts.get("added", 0), updated=result.counts.get("updated", 0),
                skipped=result.counts.get("unchanged", 0), records=result.counts.get("records_in_file", 0))
    _print_restore(result, as_json, what=f"import of {file}")


def _print_restore(result, as_json: bool, what: str) -> None:
    if as_json:
        emit_json(result.to_dict())
    else:
        c = result.counts
        verb = "would" if result.status == "preview" else "did"
        click.echo(f"{what}: {verb} insert {c.get('inserts', 0)}, update {c.get('updates', 0)}, "
                   f"delete {c.get('deletes', 0)}" + (f"; skip {c['unchanged']}" if "unchanged" in c else "")
                   + (f"; {len(result.conflicts)} conflict(s)" if result.conflicts else ""))
        if result.status == "preview":
            _print_samples(result.samples)
        _print_conflicts(result.conflicts, limit=20)
        if result.status == "nothing":
            click.echo("nothing to change: the database already matches")
        elif result.commit:
            click.echo(f"[main {result.commit[:10]}] {result.status}")
    if result.status == "conflicts":
        raise _pending_error(len([c for c in result.conflicts if c.resolution is None]))


def _print_samples(samples) -> None:
    for kind, item in samples:
        if kind == "add":
            click.echo(click.style(f"+ {rec.describe_key(rec.key(item))}  {_values(item)}", fg="green"))
        else:
            fields = ", ".join(f"{f}: {item.old[f]!r} -> {item.new[f]!r}" for f in item.fields)
            click.echo(click.style(f"~ {rec.describe_key(item.key)}  {fields}", fg="yellow"))


def _pending_error(n: int):
    from .errors import ConflictsPending

    return ConflictsPending(f"{n} conflict(s) wait for you: `attgit conflicts` lists them, "
                            "`attgit resolve ID --ours|--theirs` settles one, `attgit merge --abort` undoes")


def _print_conflicts(conflicts, limit: Optional[int] = None) -> None:
    for c in conflicts[:limit]:
        how = f" -> {c.resolution}" if c.resolution else " (pending)"
        click.echo(f"conflict {c.id} {c.kind} {rec.describe_key(tuple(c.key))}{how}")
        for f in c.fields:
            side = lambda r: "(absent)" if r is None else repr(r.get(f))  # noqa: E731
            click.echo(f"    {f}: base {side(c.base)} | ours {side(c.ours)} | theirs {side(c.theirs)}")
    if limit is not None and len(conflicts) > limit:
        click.echo(f"... and {len(conflicts) - limit} more (use --json for all)")


@cli.command()
@click.argument("output", type=click.Path(dir_okay=False, writable=True))
@click.option("--type", "backup_type", type=click.Choice(["full", "incremental"]), default="full", show_default=True)
@click.option("--since", metavar="DATE", help="With --type incremental: records updated on or after this date.")
@pass_app
def export(app: App, output, backup_type, since):
    """Write the database as a JSON backup file (the design document's format).

    Example: attgit export /backups/attendance.json
    """
    from .backupfile import write_backup

    extras = app.backend.extras
    if "records_since" not in extras:
        raise ConfigError("this backend cannot export backup files")
    records = _export_records(app, backup_type, since)
    tmp = f"{output}.partial"
    with open(tmp, "wb") as out:
        summary = write_backup(out, extras["companies"](), records, backup_type=backup_type,
                               created_by=app.author.name)
    os.replace(tmp, output)
    app.log("backup_" + backup_type, filename=os.path.basename(output), companies=summary.companies,
            records=summary.records)
    click.echo(f"wrote {output}: {summary.companies} companies, {summary.records:,} records")


def _export_records(app: App, backup_type: str, since: Optional[str]):
    import datetime as dt

    if backup_type == "full":
        if since:
            raise click.UsageError("--since goes with --type incremental")
        db = app.backend.db
        return (r for c in db.companies() for r in db.records(c))
    if not since:
        raise click.UsageError("--type incremental needs --since DATE")
    try:
        moment = dt.datetime.fromisoformat(since)
    except ValueError:
        raise click.UsageError(f"--since {since!r} is not a date (YYYY-MM-DD) or ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return app.backend.extras["records_since"](moment)


# --- remotes and sync -----------------------------------------------------------------

@cli.group()
def remote():
    """Manage remotes: other environments' repositories.

    Example: attgit remote add prod ssh://deploy@prod/srv/attgit.git
    """


@remote.command(name="add")
@click.argument("name")
@click.argument("url")
@pass_app
def remote_add(app: App, name, url):
    """Add a remote NAME at URL (a path, file://, git://, ssh:// or https://).

    Example: attgit remote add prod /srv/attgit/prod.git
    """
    from .transport import add_remote

    with app.repo.lock(app.wait):
        add_remote(app.repo, name, url)
    app.log_quietly("remote", action="add", remote=name, url=url)
    click.echo(f"added remote {name} -> {url}")


@remote.command(name="remove")
@click.argument("name")
@pass_app
def remote_remove(app: App, name):
    """Remove the remote NAME.

    Example: attgit remote remove prod
    """
    from .transport import remove_remote

    with app.repo.lock(app.wait):
        remove_remote(app.repo, name)
    app.log_quietly("remote", action="remove", remote=name)
    click.echo(f"removed remote {name}")


@remote.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def remote_list(app: App, as_json):
    """List remotes with their URLs.

    Example: attgit remote list
    """
    from .transport import list_remotes

    remotes = list_remotes(app.repo)
    if as_json:
        emit_json(remotes)
    for r in [] if as_json else remotes:
        click.echo(f"{r['name']}\t{r['url']}")


def _transfer_progress(desc: str):
    return _apply_progress(desc, unit="obj")


@cli.command()
@click.argument("name")
@pass_app
def fetch(app: App, name):
    """Download a remote's snapshots without touching the database.

    Example: attgit fetch prod
    """
    from .transport import fetch as run

    update, bar = _transfer_progress(f"fetch {name}")
    with app.repo.lock(app.wait), bar:
        result = run(app.repo, name, update)
    app.log_quietly("fetch", remote=name, commit=result.after)
    click.echo(f"{name}/main: {result.before[:10] if result.before else '(new)'} -> {result.after[:10]}"
               if result.changed else f"{name}/main is up to date at {result.after[:10]}")


@cli.command()
@click.argument("name")
@pass_app
def push(app: App, name):
    """Send main to a remote; refused unless it is a fast-forward there.

    Example: attgit push prod
    """
    from .transport import push as run

    update, bar = _transfer_progress(f"push {name}")
    with app.writing("push"), bar:
        result = run(app.repo, name, update)
    if result.up_to_date:
        click.echo(f"{name} is up to date at {result.pushed[:10]}")
    else:
        app.log("push", commit=result.pushed, remote=name)
        click.echo(f"{name}: {result.previous[:10] if result.previous else '(empty)'} -> {result.pushed[:10]}")


@cli.command()
@click.argument("name")
@click.option("--strategy", "-s", default=None, metavar="NAME",
              help="For conflicts: theirs, ours or manual (default: the setting, else theirs).")
@click.option("--preview", is_flag=True, help="Show what would change and the conflicts; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def pull(app: App, name, strategy, preview, as_json):
    """Fetch a remote and merge its snapshot into the database and main.

    The database is committed first, so the pre-pull state is in history and
    `attgit checkout` of it undoes the pull.

    Example: attgit pull prod --strategy manual
    """
    from .sync import pull_commit
    from .transport import fetch as fetch_remote

    strategy = strategy or app.backend.default_strategy
    update, bar = _apply_progress(f"pull {name}")
    with app.writing("pull"), bar:
        fetch_remote(app.repo, name)
        from .transport import remote_tip

        result = pull_commit(app.repo, app.backend.db, app.author, remote_tip(app.repo, name), name,
                             strategy=strategy, preview=preview, progress=update)
    if not preview:
        counts = result.counts
        app.log("pull", commit=result.commit or "", remote=name, added=counts.get("inserts", 0),
                updated=counts.get("updates", 0), deleted=counts.get("deletes", 0),
                conflicts=len(result.conflicts), status=result.status)
    _print_pull(result, name, as_json)


def _print_pull(result, name: str, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_dict())
    else:
        c = result.counts
        if result.status == "up-to-date":
            click.echo(f"Already up to date with {name}.")
        else:
            verb = "would" if result.status == "preview" else "did"
            kind = "fast-forward" if result.fast_forward else "merge"
            click.echo(f"{kind} from {name}: {verb} insert {c.get('inserts', 0)}, update {c.get('updates', 0)}, "
                       f"delete {c.get('deletes', 0)}; {len(result.conflicts)} conflict(s)")
            _print_conflicts(result.conflicts, limit=20)
            if result.commit and result.status != "conflicts":
                click.echo(f"[main {result.commit[:10]}] {result.status}")
    if result.status == "conflicts":
        raise _pending_error(len(result.conflicts))


@cli.command()
@click.argument("url")
@click.option("--name", default="origin", show_default=True, help="Name of the remote to create.")
@pass_app
def clone(app: App, url, name):
    """Create the repository from URL and load its main into an empty database.

    Example: attgit --repo /srv/attgit/dev.git clone /srv/attgit/prod.git
    """
    from .errors import UsageError
    from .plan import plan_between
    from .transport import clone as run

    db = app.backend.db
    if db.companies():
        raise UsageError("the database is not empty: use `attgit init`, `attgit remote add` and `attgit pull` "
                         "to merge into existing data")
    update, bar = _transfer_progress("clone")
    with bar:
        repo = run(url, app.repo_path(), name, update)
    app._repo = repo
    with app.writing("pull"):  # reconcile loads main into the empty database
        head = repo.head()
        if db.state().commit != str(head):
            plan = plan_between(repo.snapshot(None), repo.snapshot(head))
            db.apply(plan.changes(), str(head), None, plan.counts.total, expect={})
    loaded = repo.snapshot(head).count_records()
    app.log("pull", commit=str(head), remote=name, added=loaded, status="clone")
    click.echo(f"cloned {url} into {repo.path}: {loaded:,} records loaded at {str(head)[:10]}")


# --- conflicts ----------------------------------------------------------------------

@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def conflicts(app: App, as_json):
    """List the conflicts of the merge in progress (base / ours / theirs).

    Example: attgit conflicts --json
    """
    from .conflicts import MergeState

    state = MergeState.load(app.repo)
    app.log_quietly("conflicts", pending=len(state.pending()) if state else 0)
    if state is None:
        if as_json:
            emit_json([])
        else:
            click.echo("no merge in progress")
        return
    if as_json:
        emit_json([{**c.to_dict(), "resolved": c.id in state.resolutions} for c in state.conflicts])
        return
    click.echo(f"merge of {state.theirs_name}: {len(state.pending())} of {len(state.conflicts)} conflict(s) pending")
    _print_conflicts(state.pending())


@cli.command()
@click.argument("conflict_id", required=False)
@click.option("--ours", "side", flag_value="ours", help="Keep the database's version.")
@click.option("--theirs", "side", flag_value="theirs", help="Take the incoming version.")
@click.option("--field", "fields", multiple=True, metavar="NAME=ours|theirs|VALUE", help="Decide one field.")
@click.option("--all-ours", "all_side", flag_value="ours", help="Every pending conflict: ours.")
@click.option("--all-theirs", "all_side", flag_value="theirs", help="Every pending conflict: theirs.")
@pass_app
def resolve(app: App, conflict_id, side, fields, all_side):
    """Resolve conflicts; the merge is concluded when none is left.

    Example: attgit resolve 3fa2c1 --field status=theirs --field in_time=09:15
    """
    from .conflicts import MergeState
    from .sync import conclude

    with app.writing("resolve"):
        state = MergeState.load(app.repo)
        if state is None:
            raise click.UsageError("no merge in progress")
        for conflict in _chosen(state, conflict_id, all_side):
            state.resolve(conflict.id, all_side or _choice(side, fields))
        state.save(app.repo)
        left = len(state.pending())
        if left:
            click.echo(f"resolved; {left} conflict(s) left")
            return
        commit = conclude(app.repo, app.backend.db, app.author)
    app.log("merge", commit=commit, source=state.theirs_name, conflicts=len(state.conflicts))
    click.echo(f"all conflicts resolved: [main {commit[:10]}] merge of {state.theirs_name} concluded")


def _chosen(state, conflict_id, all_side):
    if all_side:
        if conflict_id:
            raise click.UsageError("give a conflict id or --all-ours/--all-theirs, not both")
        return state.pending()
    if not conflict_id:
        raise click.UsageError("give a conflict id (see `attgit conflicts`) or --all-ours/--all-theirs")
    return [state.find(conflict_id)]


def _choice(side, fields):
    if side and fields:
        raise click.UsageError("give --ours/--theirs or --field, not both")
    if side:
        return side
    if not fields:
        raise click.UsageError("say how: --ours, --theirs or --field NAME=ours|theirs|VALUE")
    choice = {}
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep or name not in rec.VALUE_FIELDS:
            raise click.UsageError(f"--field {item!r}: expected NAME=ours|theirs|VALUE with NAME one of "
                                   + ", ".join(rec.VALUE_FIELDS))
        choice[name] = value
    return choice


@cli.command()
@click.option("--abort", is_flag=True, help="Undo the merge in progress: back to the state before it.")
@click.option("--continue", "cont", is_flag=True, help="Conclude the merge once every conflict is resolved.")
@pass_app
def merge(app: App, abort, cont):
    """Abort or conclude a merge in progress.

    Example: attgit merge --abort
    """
    from .sync import abort as run_abort
    from .sync import conclude

    if abort == cont:
        raise click.UsageError("say --abort or --continue")
    with app.writing("merge"):
        commit = run_abort(app.repo, app.backend.db, app.author) if abort else conclude(
            app.repo, app.backend.db, app.author)
    app.log("merge", commit=commit, status="aborted" if abort else "concluded")
    click.echo(f"merge aborted: the database is back at {commit[:10]}" if abort
               else f"merge concluded: [main {commit[:10]}]")


def invoke(argv=None, prog_name: str = "attgit") -> int:
    """Run the CLI and return its exit code.  The CLI framework's own errors
    (usage, abort) are shown here; an AttgitError propagates, for the caller
    to show its way (:func:`main` prints it, Django's ``manage.py attgit``
    raises it as a CommandError)."""
    try:
        cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(f"{prog_name}: aborted", err=True)
        return ExitCode.ERROR
    except click.ClickException as exc:
        exc.show()
        return ExitCode.USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return ExitCode.OK


def main(argv=None) -> None:
    """Console entry point: run the CLI and map errors to exit codes."""
    try:
        code = invoke(argv)
    except AttgitError as exc:
        click.echo(f"attgit: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("attgit: interrupted; nothing was half-applied", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if os.environ.get("ATTGIT_DEBUG"):
            raise
        click.echo(f"attgit: internal error: {type(exc).__name__}: {exc} (set ATTGIT_DEBUG=1 for details)", err=True)
        sys.exit(ExitCode.ERROR)
    sys.exit(code)
