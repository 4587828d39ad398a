"""The restore preview: what a restore would do, before anything is written.

Counts to add / update / skip / conflicts, a table of the records that
change with their changed fields highlighted, and the conflicts with base,
ours and theirs side by side; the person picks a strategy and a selection
(companies of the file, a date range), previews again, and applies
(:mod:`.restore`) with a signed token of what was previewed
(:mod:`.confirm`).

Working that out reads the whole file (or snapshot) and compares it with
the database -- as long as the restore itself, for a million records -- so
it is a job too (:mod:`.jobs`): ``restore/preview/`` without ``job`` starts
one and comes back with its id, shows its progress while it runs, then the
preview it left in the job's result.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from attgit.errors import AttgitError, ValidationError
from attgit.format.backup import read_backup
from attgit.format.backup.crypto import PassphraseError
from attgit.ops.restore import checkout, import_backup

from ..audit import log_operation
from ..backups import read_options
from ..models import Job, Upload
from ..repository import open_as, open_repository
from ..workingcopy import connect
from . import confirm, display, errors, jobs, uploads
from .access import root_required
from .forms import STRATEGY_CHOICES, STRATEGY_NAMES, SourceForm, errors_of
from .restore import choices_of, default_strategy, job_upload, restore_page

#: Rows of changes and conflicts a preview shows (the counts cover all).
PREVIEW_ROWS = 200
PREVIEW_CONFLICTS = 50


@root_required
@require_http_methods(["GET", "POST"])
def preview_restore_view(request):
    """What the restore would do; nothing is written.  A POST previews a
    passphrase-encrypted upload again (another strategy): the passphrase
    comes in the body, never the URL."""
    if request.method == "POST":
        return _preview_again_with_passphrase(request)
    form = SourceForm(request.GET)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return restore_page(request, 400)
    strategy = form.cleaned_data["strategy"] or default_strategy()
    try:
        selection = confirm.selection_of(form.selection_data(request.GET))
    except AttgitError as exc:
        return restore_page(request, errors.say(request, exc))
    job = _preview_job(request.GET.get("job"), form.cleaned_data, strategy, selection)
    if job is None:
        return _start_preview(request, form.cleaned_data, strategy, selection)
    state = jobs.state_of(job)
    if not job.finished or job.status == Job.INTERRUPTED:
        return render(request, "attendance/job.html", {"job": job, "state": state})
    if job.status == Job.FAILED:
        messages.error(request, job.error)
        return restore_page(request, job.result.get("http_status", 400))
    return _show_preview(request, job)


def _preview_again_with_passphrase(request):
    form = SourceForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["upload"] or not request.POST.get("passphrase"):
        messages.error(request, errors_of(form) if not form.is_valid() else "Give the file's passphrase.")
        return restore_page(request, 400)
    strategy = form.cleaned_data["strategy"] or default_strategy()
    try:
        selection = confirm.selection_of(form.selection_data(request.POST))
        params = {"upload": uploads.get(form.cleaned_data["upload"]).pk, "strategy": strategy,
                  "selection": selection, jobs.PASSPHRASE: request.POST["passphrase"]}
        job = jobs.start(request, Job.PREVIEW, params)
    except AttgitError as exc:
        return restore_page(request, errors.say(request, exc))
    return redirect(jobs.url_of(job))


def _preview_job(job_id, source: dict, strategy: str, selection: dict):
    """The preview job named in the URL, if it is one for this source,
    strategy and selection."""
    try:
        job = Job.objects.filter(pk=uuid.UUID(job_id or ""), kind=Job.PREVIEW).first()
    except ValueError:
        return None
    if job is None or job.params.get("strategy") != strategy or job.params.get("selection") != selection:
        return None
    if source["upload"]:
        return job if job.params.get("upload") == source["upload"] else None
    return job if job.params.get("commit", "").startswith(source["commit"]) else None


def _start_preview(request, source: dict, strategy: str, selection: dict):
    try:
        if source["upload"]:
            params = {"upload": uploads.get(source["upload"]).pk}
        else:
            params = {"commit": str(open_repository().resolve(source["commit"]))}
        params["strategy"] = strategy
        params["selection"] = selection
        job = jobs.start(request, Job.PREVIEW, params)
    except AttgitError as exc:
        return restore_page(request, errors.say(request, exc))
    return redirect(jobs.url_of(job))


def _show_preview(request, job: Job):
    confirm.said_on_preview(request)
    params, result = job.params, job.result
    selection = params.get("selection") or confirm.selection_of({})
    context = {**result, "job": job, "strategy": params["strategy"], "columns": display.COLUMNS,
               "strategies": STRATEGY_CHOICES, "preview_rows": PREVIEW_ROWS,
               "strategy_name": STRATEGY_NAMES[params["strategy"]], "selection": selection,
               "nothing_to_do": nothing_to_do(result["counts"], params["strategy"]),
               "per_record": per_record(result["counts"], params["strategy"]) if result["kind"] == "file" else None,
               "token": confirm.sign("restore", choices_of(params), result.get("state", {}))}
    if result["kind"] == "file":
        context["upload"] = Upload.objects.filter(pk=params["upload"]).first()
        if context["upload"] is None:
            messages.error(request, "That upload has been applied or has expired: upload the file again.")
            return restore_page(request, 404)
        context["made_at"] = _moment(result["metadata"].get("created_at"))
    else:
        context["info"] = open_repository().info(params["commit"])
    return render(request, "attendance/restore_preview.html", context)


#: What happens to a record of the file that differs from the database's, per strategy.
DIFFER_WORDS = {"theirs": "differ: the file's version is taken", "ours": "differ: the database's version is kept",
                "manual": "differ: they wait for you to decide"}


def per_record(counts: dict, strategy: str) -> dict:
    """One count per record of the file, adding up to the records in it:
    to add, differing (taken, kept or waiting, by the strategy), identical.
    (The merge counts a differing record both as a conflict and as an
    update or a skip; a person should read each record once.)"""
    total, add, differ = counts.get("total") or 0, counts.get("add") or 0, counts.get("conflicts") or 0
    updates_beyond = max((counts.get("update") or 0) - (differ if strategy == "theirs" else 0), 0)
    differ += updates_beyond
    return {"add": add, "differ": differ, "differ_words": DIFFER_WORDS[strategy],
            "identical": max(total - add - differ, 0), "total": total}


def nothing_to_do(counts: dict, strategy: str) -> bool:
    """True when applying would change nothing: no record to add, update or
    delete, and no conflict -- or only conflicts that keep the database's side."""
    changes = sum(counts.get(k) or 0 for k in ("add", "update", "delete"))
    return changes == 0 and (not counts.get("conflicts") or strategy == "ours")


def _moment(text):
    try:
        return dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def run_preview(job: Job, progress: jobs.Progress) -> dict:
    """Work out what the restore would do (the preview job); write nothing."""
    if job.params.get("upload"):
        return _preview_file(job, progress)
    return _preview_commit(job, progress)


METADATA_SHOWN = ("created_at", "created_by", "backup_type", "since", "total_companies",
                  "total_attendance_records")


def _preview_file(job: Job, progress: jobs.Progress) -> dict:
    upload = job_upload(job)
    passphrase = jobs.take_passphrase(job)
    seen = confirm.state(file=uploads.path_of(upload))  # before reading: what this preview is of
    try:
        backup = read_backup(uploads.path_of(upload), max_bytes=uploads.limit(), **read_options(passphrase),
                             progress=progress.counter("Checking the file"))
    except ValidationError as exc:
        if not isinstance(exc, PassphraseError):  # the file may be fine: kept for another passphrase
            uploads.discard(upload)
        log_operation("restore", job.user, success=False, error=str(exc), filename=upload.original_name)
        raise
    with backup:
        confirm.selection_of(job.params.get("selection") or {}, list(backup.companies()))
        progress.phase("Comparing with the database")
        opened = open_as(job.user)
        result = import_backup(opened.repo, connect(), opened.author, backup, upload.original_name,
                               strategy=job.params["strategy"], preview=True,
                               selection=confirm.as_selection(job.params.get("selection")),
                               comparing=progress.counter("Comparing with the database"))
        metadata = {k: backup.metadata.get(k) for k in METADATA_SHOWN}
        warnings = list(result.warnings)
        available = list(backup.companies())
    c = result.counts
    return {
        "kind": "file", "metadata": metadata, "warnings": warnings, "passphrase": passphrase is not None,
        "state": seen, "available": available,
        "rows": [row.to_dict() for row in display.import_rows(result, job.params["strategy"], PREVIEW_ROWS)],
        "counts": {"add": c.get("added", 0), "update": c.get("updated", 0), "skip": c.get("skipped", 0),
                   "conflicts": len(result.conflicts), "delete": 0, "total": c.get("records_in_file", 0)},
        "conflicts": [display.conflict_view(x, merge_kind="import").to_dict()
                      for x in result.conflicts[:PREVIEW_CONFLICTS]],
        "conflict_count": len(result.conflicts),
    }


def _sample_row(kind: str, item) -> display.Row:
    """A row of the checkout's own sample of its changes (no second diff)."""
    if kind == "add":
        return display.new_row("add", item)
    if kind == "delete":
        return display.old_row("delete", item)
    return display.change_row("update", item.old, item.new)


def _preview_commit(job: Job, progress: jobs.Progress) -> dict:
    opened, db, target = open_as(job.user), connect(), job.params["commit"]
    repo = opened.repo
    seen = confirm.state(repo)
    progress.phase("Comparing with the database")
    result = checkout(repo, db, opened.author, target, preview=True,
                      selection=confirm.as_selection(job.params.get("selection")))
    rows = [_sample_row(kind, item) for kind, item in result.samples[:PREVIEW_ROWS]]
    c = result.counts
    return {
        "kind": "commit", "rows": [row.to_dict() for row in rows], "state": seen,
        "available": list(repo.snapshot(target).companies()),
        "counts": {"add": c.get("inserts", 0), "update": c.get("updates", 0), "delete": c.get("deletes", 0),
                   "skip": None, "conflicts": 0, "total": c.get("total", 0)},
        "conflicts": [], "conflict_count": 0,
    }
