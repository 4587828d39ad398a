"""Commands for a merge waiting for a person: conflicts, resolve, merge
--abort / --continue.
"""


from __future__ import annotations

import click

from attgit.cli.app import App, cli, emit_json, pass_app, print_conflicts
from attgit.format import records as rec


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def conflicts(app: App, as_json):
    """List the conflicts of the merge in progress (base / ours / theirs).

    Example: attgit conflicts --json
    """
    from attgit.ops.mergestate import MergeState

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
    print_conflicts(state.pending())


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
    from attgit.ops.manual import conclude
    from attgit.ops.mergestate import MergeState

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
    from attgit.ops.manual import abort as run_abort
    from attgit.ops.manual import conclude

    if abort == cont:
        raise click.UsageError("say --abort or --continue")
    with app.writing("merge"):
        commit = run_abort(app.repo, app.backend.db, app.author) if abort else conclude(
            app.repo, app.backend.db, app.author)
    app.log("merge", commit=commit, status="aborted" if abort else "concluded")
    click.echo(f"merge aborted: the database is back at {commit[:10]}" if abort
               else f"merge concluded: [main {commit[:10]}]")
