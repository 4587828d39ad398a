"""attgit's errors as a person sees them on a page: a message and a status.

Bad input of any kind (a hostile file, an unknown commit, a typed value
that is not valid) and a held lock are the user's to act on, so they are
shown as page messages with a 4xx status -- never a traceback, never a 500.
"""

from __future__ import annotations

from django.contrib import messages

from attgit.errors import AttgitError, ConflictsPending, Locked, NotFound, ValidationError, problem_lines
from attgit.format.backup import for_upload
from attgit.ops.mergestate import ExportWhileMerging

#: HTTP status of each kind of error, the first match wins.
_STATUS = (
    (ValidationError, 400),
    (NotFound, 404),
    (Locked, 409),
    (ConflictsPending, 409),
)

LOCKED = "Another backup, restore or sync is running right now; wait for it to finish and try again."
MERGING = ("A merge is waiting for its conflicts to be resolved: resolve them and conclude it, "
           "or abort it, on the Conflicts page first.")


def status_for(exc: AttgitError) -> int:
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), 400)


def describe(exc: AttgitError) -> str:
    """The sentence to show: the library's own message, in the web's words
    where the library speaks of command-line options or of a file (an
    upload here), then each problem of a file that has several, one a line."""
    text = str(exc)
    if isinstance(exc, Locked):
        return f"{LOCKED} ({text.replace(' (or pass --wait SECONDS)', '')})"
    if isinstance(exc, ExportWhileMerging):
        return text  # the same words as backup_data and attgit export
    if isinstance(exc, ConflictsPending) and "attgit merge --abort" in text:
        return MERGING
    return "\n".join([for_upload(text), *(for_upload(line) for line in problem_lines(exc))])


def say(request, exc: AttgitError) -> int:
    """Queue ``exc`` as an error message; return the status to answer with."""
    messages.error(request, describe(exc))
    return status_for(exc)
