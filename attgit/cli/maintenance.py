"""Repository maintenance by hand: ``attgit gc``."""

from __future__ import annotations

import click

from attgit.cli.app import App, cli, emit_json, pass_app


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_app
def gc(app: App, as_json):
    """Pack the repository with git's own garbage collection.

    attgit packs on its own after commits when loose objects pile up; this
    runs a full `git gc` now (unreachable objects older than two weeks go).
    Other attgit commands may run meanwhile.

    Example: attgit gc
    """
    from attgit.repo.maintenance import gc as run

    app.say_where()
    result = run(app.repo.path, app.wait)
    app.log_quietly("gc", before=result.before.total_bytes, after=result.after.total_bytes)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"packed {app.repo.path}: {result.before.total_bytes / 1e6:.1f} MB -> "
                   f"{result.after.total_bytes / 1e6:.1f} MB ({result.after.packs} pack(s), "
                   f"{result.after.loose_objects} loose objects) in {result.seconds:.1f} s")
