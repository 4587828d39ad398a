"""A confirm applies exactly what was previewed: one signed token.

A preview (of a restore, of the admin's sync, a bulk resolution on the
conflicts page) is worked out for some choices -- the strategy, the
selection (companies, dates), the uploaded file -- against the database and
the repository as they were then.  The page that shows it carries a token,
signed with the site's SECRET_KEY (:mod:`django.core.signing`), holding
those choices, the file's checksum and that state.  The confirm sends the
choices again, as the form holds them now, with the token; the server:

* refuses a token it did not sign, or one older than :data:`MAX_AGE`;
* refuses choices that differ from the token's ("you changed the strategy:
  preview again") -- a person who picked "Database wins" after the preview
  never gets "backup wins" applied;
* refuses when the database or the repository moved since the preview
  (another restore, an edit, a commit): what was shown is no longer what
  would happen.

Each refusal changes nothing.  The job that applies checks the state again
once it holds the locks (:func:`check_state`), since another writer may
have gone first between the click and the worker picking the job up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

from django.core import signing

from attgit.errors import Rejected, UsageError

from ..models import AttendanceRecord
from ..workingcopy import connect

SALT = "django_adapter.web.confirm"
#: A preview older than this is worked out again before it is applied.
MAX_AGE = 24 * 3600

#: Words for each choice, in "you changed the ...: preview again".
CHOICE_WORDS = {
    "strategy": "the strategy", "companies": "the companies", "date_from": "the first date",
    "date_to": "the last date", "source": "what to restore", "side": "the side to keep",
    "filter": "the filter", "remote": "the remote", "theirs": "the remote's commit",
}


class PreviewOutdated(Rejected):
    """The confirm does not match its preview (changed choice, moved state,
    a token that is not ours); nothing was done."""


REFUSED_KEY = "attgit_confirm_refused"


def tell_on_preview(request, exc: PreviewOutdated) -> None:
    """Keep why an Apply was refused until the new preview shows (a new
    preview passes through its progress page first, which would otherwise
    show the message and drop it)."""
    request.session[REFUSED_KEY] = str(exc)


def said_on_preview(request) -> None:
    """The refusal kept by :func:`tell_on_preview`, as a message of the page being shown."""
    from django.contrib import messages

    text = request.session.pop(REFUSED_KEY, None)
    if text:
        messages.error(request, text)


def sign(kind: str, choices: dict, state: dict) -> str:
    """The token of a preview of ``kind`` made for ``choices`` against ``state``."""
    return signing.dumps({"kind": kind, "choices": _plain(choices), "state": state}, salt=SALT, compress=True)


def verify(token: str, kind: str, choices: dict) -> dict:
    """The state the token's preview saw, once the token is ours, of this
    kind, recent, and made for exactly ``choices``; else PreviewOutdated."""
    try:
        payload = signing.loads(token or "", salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise PreviewOutdated("the preview is more than a day old: preview again") from None
    except signing.BadSignature:
        raise PreviewOutdated("this confirmation does not come from a preview of this site "
                              "(missing or altered token): preview again") from None
    if payload.get("kind") != kind:
        raise PreviewOutdated(f"this confirmation belongs to another kind of preview "
                              f"({payload.get('kind')!r}, not {kind!r}): preview again")
    changed = [name for name in sorted(set(payload["choices"]) | set(_plain(choices)))
               if payload["choices"].get(name) != _plain(choices).get(name)]
    if changed:
        words = " and ".join(CHOICE_WORDS.get(name, name) for name in changed)
        raise PreviewOutdated(f"you changed {words} since the preview: preview again "
                              "(nothing was applied)")
    return payload["state"]


def check_state(expected: dict, now: Optional[dict] = None) -> None:
    """Refuse (PreviewOutdated) when the database or the repository is no
    longer as the preview saw it."""
    now = now if now is not None else state()
    moved = [WHAT[name] for name in WHAT if expected.get(name) != now.get(name)]
    if moved:
        raise PreviewOutdated(f"{' and '.join(moved)} changed since the preview, so it no longer shows "
                              "what would happen: nothing was applied; preview again")


WHAT = {"head": "the repository", "merge": "the merge in progress", "database": "the database",
        "file": "the uploaded file", "selected": "the conflicts it would resolve"}


def state(repo=None, file: Optional[Path] = None) -> dict:
    """The database's and the repository's state now, cheaply:

    * ``head``: main's commit id;
    * ``merge``: whether a manual merge waits, and which;
    * ``database``: a fingerprint of the change log's high-water mark and
      size, the commit the database last matched (SyncState) and the number
      of records -- any write to the attendance tables moves the log (its
      triggers), a commit consumes it and moves the SyncState;
    * ``file``: the SHA-256 of the uploaded file, when there is one.
    """
    from attgit.ops.mergestate import MergeState

    from ..repository import open_repository

    repo = repo or open_repository()
    head = repo.head()
    merge_path = MergeState.path(repo)
    out = {"head": str(head) if head else "", "database": database_fingerprint(),
           "merge": _merge_stamp(merge_path)}
    if file is not None:
        out["file"] = file_checksum(file)
    return out


def conflicts_state(repo, conflicts) -> dict:
    """What a bulk resolution was shown: main's commit and exactly which
    pending conflicts it would resolve (a hash of their ids)."""
    head = repo.head()
    ids = "\n".join(sorted(c.id for c in conflicts))
    return {"head": str(head) if head else "", "selected": hashlib.sha256(ids.encode()).hexdigest()[:16]}


def database_fingerprint(using: str = "default") -> str:
    """A short hash of what moves whenever the attendance data does."""
    db = connect(using)
    synced = db.state()
    with db.connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0), COUNT(*) FROM {db._log_table()}")
        high, size = cursor.fetchone()
    records = AttendanceRecord.objects.using(using).count()
    text = f"{synced.commit or ''}:{synced.watermark}:{high}:{size}:{records}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_checksum(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _merge_stamp(path: Path) -> str:
    """Which merge waits (its file's content hash), or "" when none does."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except FileNotFoundError:
        return ""


def _plain(choices: dict) -> dict:
    """Choices as JSON keeps them (sets sorted, empty values dropped), so a
    form's value and the token's compare equal when a person left them be."""
    out: dict[str, Any] = {}
    for name, value in choices.items():
        if isinstance(value, (set, frozenset, list, tuple)):
            value = sorted(str(v) for v in value)
        elif value is not None and not isinstance(value, (str, int, dict)):
            value = str(value)
        if value not in (None, "", [], {}):
            out[name] = value
    return out


def selection_of(data: dict, available: Optional[list] = None) -> dict:
    """The selection a form sends: ``companies`` (a list, every one of them
    among ``available`` when given), ``date_from``, ``date_to`` (YYYY-MM-DD);
    checked as the command line's --company/--from/--to are
    (:class:`attgit.ops.restore.Selection`)."""
    from attgit.ops.restore import Selection

    companies = sorted({c for c in data.get("companies") or [] if c})
    if available is not None:
        unknown = [c for c in companies if c not in available]
        if unknown:
            raise UsageError(f"no company {unknown[0]!r} in the file (it holds: {', '.join(available[:20])})")
    date_from, date_to = data.get("date_from") or None, data.get("date_to") or None
    Selection(set(companies) or None, date_from, date_to)  # validates the dates and their order
    return {"companies": companies, "date_from": date_from or "", "date_to": date_to or ""}


def as_selection(chosen: dict):
    """The :class:`attgit.ops.restore.Selection` of a checked selection dict."""
    from attgit.ops.restore import Selection

    chosen = chosen or {}
    return Selection(set(chosen.get("companies") or []) or None, chosen.get("date_from") or None,
                     chosen.get("date_to") or None)
