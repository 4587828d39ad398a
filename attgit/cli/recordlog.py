"""`attgit log --company` and `attgit log --record`: one company's commits
and one record's timeline, printed (the `log` command calls these; the
library is :mod:`attgit.ops.history`).

Example: attgit log --record "E001@ABC Corp@2025-11-20"
"""

from __future__ import annotations

from typing import Optional

import click

from attgit.cli.app import App, emit_json
from attgit.format import records as rec
from attgit.words import plural


def print_history(app: App, rev: Optional[str], company: Optional[str], record: Optional[str],
                  date: Optional[str], limit: Optional[int], as_json: bool) -> None:
    """One record's timeline when a record is named, else one company's commits."""
    from attgit.errors import UsageError

    if record is None:
        if date is not None:
            raise UsageError("--date names a record's day: give --record EP_NO (and --company) too")
        print_company_log(app, rev, company or "", limit, as_json)
    else:
        print_timeline(app, rev, record, company, date, limit, as_json)


def print_company_log(app: App, rev, company: str, limit, as_json: bool) -> None:
    """One line a commit: when, who, the kind, what happened to the file
    and its size, the company's records added (+), changed (~) and deleted
    (-) and its total, then all the commit's records."""
    from attgit.ops.history import company_log

    commits = company_log(app.repo, company, rev, limit)
    if as_json:
        emit_json({"company": company, "commits": [c.to_dict() for c in commits]})
        return
    if not commits and limit != 0:  # -n 0 asks for nothing
        click.echo(f"no commit changed {company!r}")
    for c in commits:
        n, total = c.counts, c.info.count("Records")
        counts = f"+{n.added:,} ~{n.changed:,} -{n.deleted:,}  {plural(n.records, 'record')}" + (
            f" of {total:,}" if total is not None else "")
        click.echo(f"{click.style(c.info.short, fg='yellow')} {c.info.time:%Y-%m-%d %H:%M} {_actor(c.info):12} "
                   f"{_kind(c.info):10} {c.change:8} {_size(c.size):>9}  {counts}  {c.info.summary}")


def print_timeline(app: App, rev, record: str, company, date, limit, as_json: bool) -> None:
    from attgit.ops.history import parse_key, record_timeline

    key = parse_key(record, company, date)
    events = record_timeline(app.repo, key, rev)[:limit]
    if as_json:
        emit_json({"key": dict(zip(("ep_no", "company", "date"), key)), "events": [e.to_dict() for e in events]})
        return
    if limit == 0:  # -n 0 asks for nothing (the key was still checked)
        return
    click.echo(click.style(f"History of {rec.describe_key(key)}", bold=True))
    for event in events:
        click.echo(_event_lines(event))


def _event_lines(event) -> str:
    info = event.info
    colour = {"added": "green", "deleted": "red", "changed": "yellow"}.get(event.action, "cyan")
    lines = [f"{click.style(info.short, fg='yellow')} {info.time:%Y-%m-%d %H:%M:%S %z}  "
             f"{click.style(event.action, fg=colour)} by {_actor(info)}  ({event.kind}: {info.summary})"]
    lines += [f"    {c.field}: {_value(c.old)} -> {_value(c.new)}" for c in event.changes]
    if event.resolution is not None:
        lines += _resolution_lines(event.resolution)
    return "\n".join(lines)


def _resolution_lines(res) -> list:
    out = [f"    conflict {res.conflict} ({res.kind}) settled by {res.by}:"]
    for name, side in res.chosen.items():
        if name == "record":
            out.append(f"      the record: took {side} (ours {'deleted' if res.ours is None else 'kept'} it, theirs "
                       f"{'deleted' if res.theirs is None else 'kept'} it)")
        else:
            out.append(f"      {name}: ours {_value(res.ours[name])}, theirs {_value(res.theirs[name])} -> took {side}")
    return out


def _actor(info) -> str:
    from attgit.ops.history import actor

    return actor(info)


def _kind(info) -> str:
    from attgit.ops.history import commit_kind

    return commit_kind(info)


def _value(value) -> str:
    return "(none)" if value is None else repr(value)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} KB" if n >= 1e3 else f"{n} B"
