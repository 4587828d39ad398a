"""Commands for a merge waiting for a person: conflicts, resolve, merge
--abort / --continue.
"""


from __future__ import annotations

import click

from attgit.cli.app import App, cli, emit_json, pass_app, print_conflicts
from attgit.format import records as rec
from attgit.words import plural


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def conflicts(app: App, as_json):
    """List the conflicts of the merge in progress (base / ours / theirs).

    Example: attgit conflicts --json
    """
    from attgit.ops.mergestate import MergeState

    state = MergeState.load(app.repo)
    if state is None:
        if as_json:
            emit_json([])
        else:
            click.echo("no merge in progress")
        return
    if as_json:
        emit_json([{**c.to_dict(), "resolved": c.id in state.resolutions, **_decided(c, state.resolutions)}
                   for c in state.conflicts])
        return
    left = len(state.pending())
    click.echo(f"merge of {state.theirs_name}: {left:,} of {plural(len(state.conflicts), 'conflict')} pending"
               + ("; conclude it with `attgit merge --continue`" if not left else ""))
    print_conflicts(state.pending(), merge_kind=state.kind)
    for conflict in state.conflicts:
        if conflict.id in state.resolutions:
            _print_decision(conflict, state.resolutions[conflict.id], state.kind)


def _decided(conflict, resolutions: dict) -> dict:
    """How a resolved conflict was decided (``decision``: ours, theirs or
    fields) and the record chosen (``chosen``; None: deleted), for --json."""
    if conflict.id not in resolutions:
        return {}
    chosen = resolutions[conflict.id]
    return {"decision": _decision(conflict, chosen), "chosen": chosen}


def _decision(conflict, chosen) -> str:
    if chosen == conflict.theirs:
        return "theirs"
    if chosen == conflict.ours:
        return "ours"
    return "fields"


def _print_decision(conflict, chosen, merge_kind: str) -> None:
    """A resolved conflict: the decision and the value each disputed field
    now takes (git's `git diff` after a resolution, in one line).  The side
    is named as the list names it ("file (theirs)" for an import), with the
    flag's word that chose it."""
    from attgit.merge.conflict import side_names

    decision = _decision(conflict, chosen)
    said = getattr(side_names(merge_kind), decision, decision)
    if said != decision:
        decision = f"{said} ({decision})"
    if chosen is None:
        value = "the record is deleted"
    else:
        value = ", ".join(f"{f}={chosen.get(f)!r}" for f in conflict.fields) or "the record is kept"
    click.echo(f"resolved {conflict.id} {rec.describe_key(tuple(conflict.key))}: {decision} -> {value}")


@cli.command()
@click.argument("conflict_id", required=False)
@click.option("--ours", is_flag=True, help="Keep the database's version.")
@click.option("--theirs", is_flag=True, help="Take the incoming version.")
@click.option("--field", "fields", multiple=True, metavar="NAME=ours|theirs|VALUE", help="Decide one field.")
@click.option("--all-ours", is_flag=True, help="Every pending conflict: ours.")
@click.option("--all-theirs", is_flag=True, help="Every pending conflict: theirs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def resolve(app: App, conflict_id, ours, theirs, fields, all_ours, all_theirs, as_json):
    """Resolve conflicts; the merge is concluded when none is left.  Each
    decision is written to the audit log (BackupLog), as the web page does.

    Example: attgit resolve 3fa2c1 --field status=theirs --field in_time=09:15
    """
    from attgit.errors import NoMergeInProgress
    from attgit.ops.manual import conclude
    from attgit.ops.mergestate import MergeState

    side = _one_side("--ours", ours, "--theirs", theirs)
    all_side = _one_side("--all-ours", all_ours, "--all-theirs", all_theirs)
    with app.writing("resolve"):
        state = MergeState.load(app.repo)
        if state is None:
            raise NoMergeInProgress()
        chosen = _chosen(state, conflict_id, all_side)
        choice = all_side or _choice(side, fields)
        for conflict in chosen:
            state.resolve(conflict.id, choice)
        state.save(app.repo)
        left = len(state.pending())
        _log_decision(app, chosen, choice, left, state.theirs_name, bulk=bool(all_side))
        if not left and not as_json:
            click.echo("resolved; 0 conflicts left: concluding the merge (as `attgit merge --continue` does)")
        commit = None if left else conclude(app.repo, app.backend.db, app.author)
    if commit:
        app.log("merge", commit=commit, source=state.theirs_name, conflicts=len(state.conflicts))
    if as_json:
        emit_json({"resolved": [c.id for c in chosen], "choice": choice, "left": left, "commit": commit,
                   "concluded": commit is not None})
    elif commit:
        click.echo(f"all conflicts resolved: [main {commit[:10]}] merge of {state.theirs_name} concluded")
    else:
        click.echo(f"resolved; {plural(left, 'conflict')} left")


def _log_decision(app: App, chosen: list, choice, left: int, source: str, bulk: bool) -> None:
    """One audit row per decision, in the web page's words: a conflict and
    its choice, or for --all-ours/--all-theirs the side and how many."""
    if bulk:
        app.log("resolve", choice=choice, resolved=len(chosen), left=left, source=source)
    else:
        app.log("resolve", conflict=chosen[0].id, choice=choice, left=left, source=source)


def _one_side(ours_flag: str, ours: bool, theirs_flag: str, theirs: bool):
    """"ours", "theirs" or None; both at once is a usage error, never a
    silent choice of the last one given."""
    if ours and theirs:
        raise click.UsageError(f"give {ours_flag} or {theirs_flag}, not both")
    return "ours" if ours else "theirs" if theirs else None


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
