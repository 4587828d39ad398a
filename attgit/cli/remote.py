"""Commands that talk to other repositories: remote, fetch, push, pull,
clone.
"""


from __future__ import annotations

import click

from attgit.cli.app import (
    App,
    apply_progress,
    cli,
    default_remote,
    emit_json,
    pass_app,
    pending_error,
    print_conflicts,
    short,
)
from attgit.errors import AttgitError, NotFound, RemoteError
from attgit.words import plural


@cli.group(invoke_without_command=True)
@click.option("-v", "--verbose", is_flag=True, help="With no subcommand: list remotes with their URLs.")
@click.option("--json", "as_json", is_flag=True, help="With no subcommand: list remotes as JSON.")
@click.pass_context
def remote(ctx, verbose, as_json):
    """Manage remotes: other environments' repositories.  Alone, list them
    (as `git remote` does; `-v` adds the URLs).

    Example: attgit remote add prod ssh://deploy@prod/srv/attgit.git
    """
    if ctx.invoked_subcommand is None:
        if as_json:
            from attgit.repo.transport import list_remotes

            emit_json(list_remotes(ctx.find_object(App).repo))
        else:
            _print_remotes(ctx.find_object(App), verbose)


@remote.command(name="add")
@click.argument("name")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def remote_add(app: App, name, url, as_json):
    """Add a remote NAME at URL (a path, file://, git://, ssh:// or https://).

    Example: attgit remote add prod /srv/attgit/prod.git
    """
    from attgit.repo.transport import add_remote

    app.say_where()
    with app.repo_lock():
        add_remote(app.repo, name, url)
    app.log_quietly("remote", action="add", remote=name, url=url)
    _say(as_json, {"action": "add", "name": name, "url": url}, f"added remote {name} -> {url}")


@remote.command(name="remove")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def remote_remove(app: App, name, as_json):
    """Remove the remote NAME.

    Example: attgit remote remove prod
    """
    from attgit.repo.transport import remove_remote

    app.say_where()
    with app.repo_lock():
        remove_remote(app.repo, name)
    app.log_quietly("remote", action="remove", remote=name)
    _say(as_json, {"action": "remove", "name": name}, f"removed remote {name}")


@remote.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def remote_list(app: App, as_json):
    """List remotes with their URLs.

    Example: attgit remote list
    """
    from attgit.repo.transport import list_remotes

    if as_json:
        emit_json(list_remotes(app.repo))
    else:
        _print_remotes(app, verbose=True)


def _print_remotes(app: App, verbose: bool) -> None:
    from attgit.repo.transport import list_remotes

    for r in list_remotes(app.repo):
        click.echo(f"{r['name']}\t{r['url']}" if verbose else r["name"])


def _say(as_json: bool, data: dict, text: str) -> None:
    """The result as JSON with --json, else the sentence."""
    if as_json:
        emit_json(data)
    else:
        click.echo(text)


def _transfer_progress(desc: str):
    return apply_progress(desc, unit="obj")


@cli.command()
@click.argument("name", required=False)
@click.option("--repair", is_flag=True,
              help="Set damaged objects aside (see `attgit verify`) and fetch every object the remote has again.")
@click.option("--json", "as_json", is_flag=True, help="With --repair: print the result as JSON.")
@pass_app
def fetch(app: App, name, repair, as_json):
    """Download a remote's snapshots without touching the database.

    NAME defaults to the only remote, else to origin.

    Example: attgit fetch prod
    """
    from attgit.repo.transport import fetch as run

    app.say_where()
    name = default_remote(app.repo, name)
    if repair:
        return _repair(app, name, as_json)

    update, bar = _transfer_progress(f"fetch {name}")
    with app.repo_lock(), bar:
        result = run(app.repo, name, update)
    app.log_quietly("fetch", remote=name, commit=result.after)
    click.echo(f"{name}/main: {short(result.before, '(new)')} -> {short(result.after)}"
               if result.changed else f"{name}/main is up to date at {short(result.after)}")


@cli.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def push(app: App, name, as_json):
    """Send main to a remote; refused unless it is a fast-forward there.

    NAME defaults to the only remote, else to origin.

    Example: attgit push prod
    """
    from attgit.repo.transport import push as run

    name = default_remote(app.repo, name)
    update, bar = _transfer_progress(f"push {name}")
    with app.writing_repo("push"), bar:
        try:
            result = run(app.repo, name, update)
        except RemoteError as exc:
            raise _push_error(name, exc) from None
    if not result.up_to_date:
        app.log("push", commit=result.pushed, remote=name)
    _say(as_json, result.to_dict(), f"{name} is up to date at {short(result.pushed)}" if result.up_to_date
         else f"{name}: {short(result.previous, '(empty)')} -> {short(result.pushed)}")


def _repair(app: App, name: str, as_json: bool) -> None:
    from attgit.errors import IntegrityError
    from attgit.repo.repair import repair_from
    from attgit.repo.transport import list_remotes

    url = next((r["url"] for r in list_remotes(app.repo) if r["name"] == name), None)
    if url is None:
        raise NotFound(f"no remote named {name!r}; add it with `attgit remote add`")
    with app.repo_lock():
        result = repair_from(app.repo, name, url)
    app.log_quietly("fetch", remote=name, success=result.ok, repaired=len(result.repaired),
                    error=" ".join(result.missing[:5]))
    if as_json:
        emit_json(result.to_dict())
    else:
        if result.set_aside:
            click.echo(f"set aside {plural(len(result.damaged), 'damaged object')} in {result.set_aside}"
                       + (f" (kept {plural(result.salvaged, 'sound object')} of damaged packs)"
                          if result.salvaged else ""))
        click.echo(f"fetched {name} again: {plural(len(result.repaired), 'object')} repaired"
                   if result.damaged else f"fetched {name} again: no damaged object was found")
    if result.missing:
        raise IntegrityError(f"{name} does not have {plural(len(result.missing), 'damaged object')}: "
                             f"{', '.join(result.missing[:5])}; try another remote")


def _push_error(name: str, exc: RemoteError) -> RemoteError:
    """A push reads the remote's main first; when that fails the message
    says the push failed, not that some fetch did."""
    text = str(exc)
    if text.startswith("cannot push"):
        return exc
    text = text.replace(f"cannot fetch from remote {name!r}", f"cannot read remote {name!r}", 1)
    return RemoteError(f"cannot push to remote {name!r}: {text}")


@cli.command()
@click.argument("name", required=False)
@click.option("--strategy", "-s", default="manual", show_default=True, metavar="NAME",
              help="For conflicts: manual (they wait for you, the database keeps its values), theirs or ours.")
@click.option("--preview", "--dry-run", "preview", is_flag=True,
              help="Show what would change and the conflicts; write nothing (no commit, no objects).")
@click.option("--allow-unrelated-histories", "allow_unrelated", is_flag=True,
              help="Merge a history that shares no commit with main (no common base: differing records conflict).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def pull(app: App, name, strategy, preview, allow_unrelated, as_json):
    """Fetch a remote and merge its snapshot into the database and main.

    The database is committed first, so the pre-pull state is in history and
    `attgit checkout` of it undoes the pull.  Conflicts stop the pull: the
    database keeps its own values until you resolve them (`attgit conflicts`,
    `attgit resolve`) or abort (`attgit merge --abort`); `--strategy theirs`
    or `ours` decides them at once, for scripted syncs.  NAME defaults to the
    only remote, else to origin.

    Example: attgit pull prod --preview
    """
    from attgit.ops.pull import pull_remote

    name = default_remote(app.repo, name)
    update, bar = apply_progress(f"pull {name}")
    with app.writing("pull"), bar:
        result = pull_remote(app.repo, app.backend.db, app.author, name, strategy=strategy, preview=preview,
                             allow_unrelated=allow_unrelated, progress=update)
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
            click.echo(f"{kind} from {name}: {verb} insert {c.get('inserts', 0):,}, update {c.get('updates', 0):,}, "
                       f"delete {c.get('deletes', 0):,}; {plural(len(result.conflicts), 'conflict')}")
            print_conflicts(result.conflicts, limit=20)
            if result.commit and result.status != "conflicts":
                click.echo(f"[main {result.commit[:10]}] {result.status}")
    if result.status == "conflicts":
        raise pending_error(len(result.conflicts))


@cli.command()
@click.argument("url")
@click.option("--name", default="origin", show_default=True, help="Name of the remote to create.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def clone(app: App, url, name, as_json):
    """Create the repository from URL and load its main into an empty database.

    Example: attgit --repo /srv/attgit/dev.git clone /srv/attgit/prod.git
    """
    from attgit.ops.clone import clone_into

    app.say_where()
    update, bar = _transfer_progress("clone")
    try:
        with bar:
            result = clone_into(url, app.repo_path(), app.backend.db, name, progress=update, wait=app.wait)
    except AttgitError as exc:
        app.log_quietly("pull", success=False, error=str(exc), remote=name, status="clone")
        raise
    app._repo = result.repo
    for note in result.notes:
        click.echo(f"attgit: {note}", err=True)
    app.log("pull", commit=result.commit, remote=name, added=result.records, status="clone")
    _say(as_json, {**result.to_dict(), "url": url, "remote": name},
         f"cloned {url} into {result.repo.path}: {plural(result.records, 'record')} loaded at {result.commit[:10]}")
