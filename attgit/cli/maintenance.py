"""Repository maintenance by hand: ``attgit gc``."""

from __future__ import annotations

import click

from attgit.cli.app import App, cli, emit_json, pass_app
from attgit.words import plural, size


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
        click.echo(f"packed {app.repo.path} in {result.seconds:.1f} s: {_store(result.before)} -> "
                   f"{_store(result.after)}{_why_larger(result.before, result.after)}")


def _store(usage) -> str:
    """The object store's size and what holds it: "54.1 kB (1 pack, 0 loose objects)"."""
    return f"{size(usage.total_bytes)} ({plural(usage.packs, 'pack')}, {plural(usage.loose_objects, 'loose object')})"


def _why_larger(before, after) -> str:
    """Why a repository grew when packed: it happens to small ones, and a
    bare "0.1 MB -> 0.2 MB" reads like a fault."""
    if after.total_bytes <= before.total_bytes:
        return ""
    return (f"; {size(after.total_bytes - before.total_bytes)} larger: the pack is compressed at a faster level than "
            "loose objects, and it saves most where many daily versions of a company file are stored as small "
            "deltas, as history grows")
