"""The conflicts page: settle a manual merge's conflicts, then conclude or abort.

A restore (or a pull) with the ``manual`` strategy applies everything that
merged cleanly, keeps the database's version of each conflicting record
and leaves the conflicts in :class:`attgit.ops.mergestate.MergeState`.  Here a
person picks, per record or per field, the database's version ("ours"),
the incoming one ("theirs") or types a value; then concludes the merge
(one commit, :func:`attgit.ops.manual.conclude`) or aborts it
(:func:`attgit.ops.manual.abort`), both as jobs.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from attgit.errors import AttgitError, ConflictsPending, NotFound, UsageError
from attgit.ops.manual import abort, conclude
from attgit.ops.mergestate import MergeState
from attgit.ops.reconcile import exclusive

from ..audit import log_operation
from ..models import Job
from ..repository import open_as, open_repository
from ..workingcopy import connect
from . import display, errors, jobs
from .access import root_required

PAGE_SIZE = 20
RESOLVED_LISTED = 50
SIDES = ("ours", "theirs")


@root_required
@require_GET
def conflicts_view(request):
    """The merge in progress: pending conflicts (a page at a time), resolved ones."""
    state = MergeState.load(open_repository())
    context = {"state": state, "columns": display.COLUMNS}
    if state is not None:
        page = Paginator(state.pending(), PAGE_SIZE).get_page(request.GET.get("page"))
        resolved = [c for c in state.conflicts if c.id in state.resolutions]
        context.update(
            page=page, pending=[display.conflict_view(c) for c in page],
            resolved=[display.conflict_view(c, state.resolutions[c.id]) for c in resolved[:RESOLVED_LISTED]],
            resolved_count=len(resolved), pending_count=len(state.pending()),
        )
    return render(request, "attendance/conflicts.html", context)


@root_required
@require_POST
def resolve_conflict_view(request):
    """Record how one conflict (or every pending one) is resolved."""
    back = reverse("conflicts") + (f"?page={request.POST['page']}" if request.POST.get("page", "").isdigit() else "")
    try:
        done = _resolve(request)
    except AttgitError as exc:
        errors.say(request, exc)
    else:
        messages.success(request, done)
    return redirect(back)


def _resolve(request) -> str:
    repo, db = open_repository(), connect()
    with exclusive(repo, db, jobs.LOCK_WAIT):
        state = _merge_in_progress(repo)
        if request.POST.get("all") in SIDES:
            side = request.POST["all"]
            chosen = [(c, side) for c in state.pending()]
        else:
            conflict_id = request.POST.get("conflict", "").strip()
            if not conflict_id:
                raise UsageError("say which conflict to resolve")
            conflict = state.find(conflict_id)
            chosen = [(conflict, _choice(request.POST, conflict))]
        for conflict, choice in chosen:
            state.resolve(conflict.id, choice)
        state.save(repo)
    for conflict, choice in chosen:
        log_operation("resolve", request.user, conflict=conflict.id, choice=choice, source=state.theirs_name)
    left = len(state.pending())
    what = f"{len(chosen)} conflicts resolved" if len(chosen) != 1 else f"Conflict {chosen[0][0].id} resolved"
    return f"{what}; {left} left." if left else f"{what}; none left: conclude the merge to finish it."


def _choice(post, conflict):
    """"ours" / "theirs" for the whole record, or {field: ours|theirs|value}."""
    side = post.get("side")
    if side in SIDES:
        return side
    if side != "fields":
        raise UsageError("say how to resolve the conflict: ours, theirs, or field by field")
    choice = {}
    for name in conflict.fields:
        pick = post.get(f"pick_{name}", "ours")
        if pick == "value":
            choice[name] = post.get(f"value_{name}", "").strip()
        elif pick in SIDES:
            choice[name] = pick
        else:
            raise UsageError(f"field {name}: choose ours, theirs or a value")
    return choice


def _merge_in_progress(repo) -> MergeState:
    state = MergeState.load(repo)
    if state is None:
        raise NotFound("no merge is in progress: there is nothing to resolve")
    return state


@root_required
@require_POST
def conclude_merge_view(request):
    """Finish the merge once every conflict is resolved (a job)."""
    return _start(request, Job.CONCLUDE, need_resolved=True)


@root_required
@require_POST
def abort_merge_view(request):
    """Undo the merge: the database goes back to before it began (a job)."""
    return _start(request, Job.ABORT, need_resolved=False)


def _start(request, kind: str, need_resolved: bool):
    try:
        state = _merge_in_progress(open_repository())
        if need_resolved and state.pending():
            raise ConflictsPending(f"{len(state.pending())} conflict(s) still to resolve before the merge "
                                   "can be concluded")
        job = jobs.start(request, kind, {"source": state.theirs_name, "conflicts": len(state.conflicts),
                                         "merge_kind": state.kind})
    except AttgitError as exc:
        errors.say(request, exc)
        return redirect("conflicts")
    return redirect("job_progress", job.pk)


# --- the jobs -----------------------------------------------------------------------

def run_conclude(job: Job, progress: jobs.Progress) -> dict:
    progress.phase("Concluding the merge")
    opened = open_as(job.user)
    commit = conclude(opened.repo, connect(), opened.author, progress.counter("Writing records"))
    log_operation("merge", job.user, commit=commit, source=job.params.get("source", ""),
                  conflicts=job.params.get("conflicts", 0), status="concluded", job=str(job.pk))
    return {"commit": commit, "status": "concluded", "source": job.params.get("source", ""),
            "conflicts": job.params.get("conflicts", 0)}


def run_abort(job: Job, progress: jobs.Progress) -> dict:
    progress.phase("Undoing the merge")
    opened = open_as(job.user)
    commit = abort(opened.repo, connect(), opened.author, progress.counter("Writing records"))
    log_operation("merge", job.user, commit=commit, source=job.params.get("source", ""), status="aborted",
                  job=str(job.pk))
    return {"commit": commit, "status": "aborted", "source": job.params.get("source", "")}
