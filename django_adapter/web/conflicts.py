"""The conflicts page: settle a manual merge's conflicts, then conclude or abort.

A restore (or a pull) with the ``manual`` strategy applies everything that
merged cleanly, keeps the database's version of each conflicting record
and leaves the conflicts in :class:`attgit.ops.mergestate.MergeState`.  A
real merge can leave thousands, so the page opens with a summary (per
company, per field, per kind, as bars), filters by company, field and kind,
and shows a page of conflicts at a time.  A person picks, per record or per
field, the database's version ("ours"), the incoming one ("theirs") or types
a value; or settles every conflict the filter shows at once -- a job
(:mod:`.jobs`) with progress, written to the audit log as ONE row.  Then the
merge is concluded (one commit, :func:`attgit.ops.manual.conclude`) or
aborted (:func:`attgit.ops.manual.abort`), both as jobs too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from attgit.errors import AttgitError, ConflictsPending, NotFound, UsageError
from attgit.format import records as rec
from attgit.merge.conflict import KINDS
from attgit.ops.manual import abort, conclude
from attgit.ops.mergestate import MergeState
from attgit.ops.reconcile import exclusive
from attgit.words import plural

from ..audit import log_operation
from ..models import Job
from ..repository import open_as, open_repository
from ..workingcopy import connect
from . import confirm, display, errors, jobs
from .access import root_required

PAGE_SIZE = 20
RESOLVED_LISTED = 50
#: Bars of the per-company summary (the rest are counted in one line).
COMPANY_BARS = 12
SIDES = ("ours", "theirs")
SIDE_WORDS = {"ours": "kept the database's version", "theirs": "took the incoming version"}


@dataclass(frozen=True)
class Filter:
    """Which conflicts the page (and a bulk resolution) is about; empty = all."""

    company: str = ""
    field: str = ""
    kind: str = ""

    @classmethod
    def of(cls, query) -> "Filter":
        """From a query string or form; values that cannot be are refused."""
        company = query.get("company", "").strip()
        field, kind = query.get("field", "").strip(), query.get("kind", "").strip()
        if field and field not in rec.VALUE_FIELDS:
            raise UsageError(f"no field {field!r} to filter on (one of {', '.join(rec.VALUE_FIELDS)})")
        if kind and kind not in KINDS:
            raise UsageError(f"no kind of conflict {kind!r} (one of {', '.join(KINDS)})")
        return cls(company, field, kind)

    def __bool__(self) -> bool:
        return bool(self.company or self.field or self.kind)

    def matches(self, conflict) -> bool:
        return ((not self.company or conflict.key[1] == self.company)
                and (not self.field or self.field in conflict.fields)
                and (not self.kind or conflict.kind == self.kind))

    def query(self, **more) -> str:
        values = {k: v for k, v in {**asdict(self), **more}.items() if v}
        return urlencode(values)

    def describe(self) -> str:
        parts = [f"company {self.company}" if self.company else "",
                 f"field {display.LABELS.get(self.field, self.field)}" if self.field else "",
                 display.KIND_WORDS.get(self.kind, self.kind)]
        return ", ".join(p for p in parts if p)


def summary(pending: list, merge_kind: str = "") -> dict:
    """Counts of the pending conflicts by company, field and kind, as bars."""
    companies = Counter(c.key[1] for c in pending)
    fields = Counter(f for c in pending for f in c.fields)
    kinds = Counter(c.kind for c in pending)
    shown = companies.most_common(COMPANY_BARS)
    return {
        "companies": _bars(shown, lambda v: v), "more_companies": len(companies) - len(shown),
        "fields": _bars(fields.most_common(), lambda v: display.LABELS.get(v, v)),
        "kinds": _bars(kinds.most_common(), lambda v: display.kind_words(v, merge_kind)),
    }


def _bars(counts: list, label) -> list:
    top = max((n for _, n in counts), default=0) or 1
    return [{"value": value, "label": label(value), "count": n, "percent": round(100.0 * n / top, 1)}
            for value, n in counts]


_loaded: dict = {}


def merge_state(repo) -> MergeState | None:
    """The merge in progress, to READ: loading thousands of conflicts checks
    every record in them (seconds at 5,000), so this process keeps the last
    one loaded while its file is unchanged (same size and modification
    time).  Code that changes the state loads its own copy under the locks."""
    path = MergeState.path(repo)
    try:
        stat = path.stat()
    except FileNotFoundError:
        _loaded.clear()
        return None
    stamp = (str(path), stat.st_mtime_ns, stat.st_size)
    if _loaded.get("stamp") != stamp:
        _loaded.clear()
        _loaded.update(stamp=stamp, state=MergeState.load(repo))
    return _loaded["state"]


@root_required
@require_GET
def conflicts_view(request):
    """The merge in progress: a summary, then the pending conflicts the
    filter selects (a page at a time), then resolved ones."""
    state = merge_state(open_repository())
    context = {"state": state, "columns": display.COLUMNS}
    if state is None:
        return render(request, "attendance/conflicts.html", context)
    try:
        chosen = Filter.of(request.GET)
    except UsageError as exc:
        errors.say(request, exc)
        chosen = Filter()
    pending = state.pending()
    shown = [c for c in pending if chosen.matches(c)] if chosen else pending
    page = Paginator(shown, PAGE_SIZE).get_page(request.GET.get("page"))
    resolved = [c for c in state.conflicts if c.id in state.resolutions]
    context.update(
        page=page, pending=[display.conflict_view(c, merge_kind=state.kind) for c in page], filter=chosen,
        shown_count=len(shown), summary=summary(pending, state.kind), resolved_count=len(resolved),
        pending_count=len(pending),
        resolved=[display.conflict_view(c, state.resolutions[c.id]) for c in resolved[:RESOLVED_LISTED]],
        companies=sorted({c.key[1] for c in state.conflicts}), fields=display.COLUMNS,
        kinds=[(k, display.kind_words(k, state.kind)) for k in KINDS if any(c.kind == k for c in state.conflicts)],
        page_query=chosen.query(),
        tokens=_bulk_tokens(open_repository(), shown, chosen),
    )
    return render(request, "attendance/conflicts.html", context)


@root_required
@require_POST
def resolve_conflict_view(request):
    """Record how one conflict is resolved; or start the job that resolves
    every pending conflict the filter selects."""
    try:
        chosen = Filter.of(request.POST)
    except UsageError as exc:
        errors.say(request, exc)
        return redirect("attgit:conflicts")
    page = request.POST.get("page", "")
    back = reverse("attgit:conflicts") + "?" + chosen.query(page=page if page.isdigit() else "")
    try:
        if request.POST.get("all") in SIDES:
            job = _start_bulk(request, request.POST["all"], chosen)
            return redirect("attgit:job_progress", job.pk)
        done = _resolve_one(request)
    except AttgitError as exc:
        errors.say(request, exc)
    else:
        messages.success(request, done)
    return redirect(back)


def _bulk_tokens(repo, shown: list, chosen: Filter) -> dict:
    """The signed token of each bulk button: its side, the filter, and the
    conflicts the page counted (:mod:`.confirm`)."""
    seen = confirm.conflicts_state(repo, shown)
    return {side: confirm.sign("resolve", {"side": side, "filter": asdict(chosen)}, seen) for side in SIDES}


def _start_bulk(request, side: str, chosen: Filter) -> Job:
    """Resolve what the page showed: the same side and filter (the token),
    and the same pending conflicts -- none resolved or added since."""
    repo = open_repository()
    state = merge_state(repo)
    if state is None:
        raise NotFound("no merge is in progress: there is nothing to resolve")
    selected = [c for c in state.pending() if chosen.matches(c)]
    if not selected:
        raise NotFound("no pending conflict matches the filter: nothing to resolve")
    expected = confirm.verify(request.POST.get("token", ""), "resolve", {"side": side, "filter": asdict(chosen)})
    confirm.check_state(expected, confirm.conflicts_state(repo, selected))
    return jobs.start(request, Job.RESOLVE, {"side": side, "filter": asdict(chosen), "count": len(selected),
                                             "source": state.theirs_name, "expect": expected})


def _resolve_one(request) -> str:
    repo, db = open_repository(), connect()
    with exclusive(repo, db, jobs.LOCK_WAIT):
        state = _merge_in_progress(repo)
        conflict_id = request.POST.get("conflict", "").strip()
        if not conflict_id:
            raise UsageError("say which conflict to resolve")
        conflict = state.find(conflict_id)
        choice = _choice(request.POST, conflict)
        state.resolve(conflict.id, choice)
        state.save(repo)
    log_operation("resolve", request.user, conflict=conflict.id, choice=choice, source=state.theirs_name,
                  record=rec.describe_key(tuple(conflict.key)))  # a record's history finds it by its key
    left = len(state.pending())
    what = f"Conflict {conflict.id} resolved"
    return f"{what}; {left:,} left." if left else f"{what}; none left: conclude the merge to finish it."


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
            raise ConflictsPending(f"{plural(len(state.pending()), 'conflict')} still to resolve before the merge "
                                   "can be concluded")
        job = jobs.start(request, kind, {"source": state.theirs_name, "conflicts": len(state.conflicts),
                                         "merge_kind": state.kind})
    except AttgitError as exc:
        errors.say(request, exc)
        return redirect("attgit:conflicts")
    return redirect("attgit:job_progress", job.pk)


# --- the jobs -----------------------------------------------------------------------

def run_resolve(job: Job, progress: jobs.Progress) -> dict:
    """Resolve every pending conflict the job's filter selects with one side;
    one audit row for the whole action."""
    side, chosen = job.params["side"], Filter(**job.params.get("filter", {}))
    repo = open_repository()
    state = _merge_in_progress(repo)
    selected = [c for c in state.pending() if chosen.matches(c)]
    if "expect" in job.params and not job.params.get("confirmed"):
        confirm.check_state(job.params["expect"], confirm.conflicts_state(repo, selected))
        jobs.mark_confirmed(job)
    report = progress.counter("Resolving conflicts")
    for done, conflict in enumerate(selected, 1):
        state.resolutions[conflict.id] = conflict.resolve(side)
        report(done, len(selected))
    progress.phase("Saving the resolutions")
    state.save(repo)
    left = len(state.pending())
    log_operation("resolve", job.user, choice=side, resolved=len(selected), left=left, filter=asdict(chosen),
                  source=state.theirs_name, job=str(job.pk))
    return {"resolved": len(selected), "left": left, "side": side, "side_words": SIDE_WORDS[side],
            "filter": chosen.describe(), "source": state.theirs_name}


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
