"""Restore: upload a backup file or pick a snapshot, then apply it.

``restore/`` takes the file (within the upload limit, kept under a random
id) or a commit and sends the browser to ``restore/preview/``
(:mod:`.preview`); ``restore/apply/`` takes the preview's one form -- the
strategy, the selection and the preview's signed token (:mod:`.confirm`)
-- and either previews again ("Update the preview") or, when what is sent
is exactly what was previewed and nothing moved since, starts the restore
as a job (:mod:`.jobs`) and sends the browser to its progress page, which
ends on the summary.

A file is restored with :func:`attgit.ops.restore.import_backup` (a two-way
merge that never deletes), a snapshot with :func:`attgit.ops.restore.checkout`.
Both commit the database first, so either can be undone from the history.
"""

from __future__ import annotations

from typing import Optional

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from attgit.errors import AttgitError, NotFound, ValidationError
from attgit.format.backup import read_backup
from attgit.merge.strategy import parse_strategy
from attgit.ops.mergestate import MergeState
from attgit.ops.restore import checkout, import_backup

from ..audit import log_operation
from ..backups import read_options
from ..models import Job, Upload
from ..repository import open_as, open_repository
from ..workingcopy import connect
from . import confirm, errors, jobs, uploads
from .access import root_required
from .forms import STRATEGY_NAMES, SourceForm, UploadForm, errors_of

COMMITS_LISTED = 50


def default_strategy() -> str:
    return parse_strategy(getattr(settings, "ATTGIT_DEFAULT_STRATEGY", "theirs"))


# --- restore/ : choose what to restore ----------------------------------------------------

@csrf_exempt  # checked by _receive_upload, once the size limit has been applied (see uploads)
@root_required
@require_http_methods(["GET", "POST"])
def restore_data_view(request):
    """The upload form and the list of snapshots; a POST uploads a file."""
    if request.method == "POST":
        refused = uploads.refuse_oversize(request)
        if refused is not None:
            errors.say(request, refused)
            return restore_page(request, 413)
        handler = uploads.limit_uploads(request)
        return _receive_upload(request, handler)
    return restore_page(request)


@csrf_protect
def _receive_upload(request, handler: uploads.LimitedUploadHandler):
    form = UploadForm(request.POST, request.FILES)
    if handler.exceeded_at:
        errors.say(request, uploads.too_large(handler.exceeded_at))
        return restore_page(request, 413)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return restore_page(request, 400, form)
    try:
        upload = uploads.store(form.cleaned_data["backup_file"], request.user)
    except ValidationError as exc:
        errors.say(request, exc)
        return restore_page(request, 413)
    if form.cleaned_data.get("passphrase"):
        return _preview_with_passphrase(request, upload, form.cleaned_data["passphrase"])
    return redirect(f"{reverse('attgit:preview_restore')}?{urlencode({'upload': upload.pk})}")


def _preview_with_passphrase(request, upload, passphrase: str, choices: Optional[dict] = None):
    """Start the preview job here, the passphrase in its parameters (a
    POST's, never a URL's; the job wipes it when it takes it), of the
    ``choices`` (strategy, selection) or the defaults."""
    params = {"strategy": default_strategy(), "selection": confirm.selection_of({}), **(choices or {})}
    try:
        job = jobs.start(request, Job.PREVIEW, {**params, "upload": upload.pk, jobs.PASSPHRASE: passphrase})
    except AttgitError as exc:
        return restore_page(request, errors.say(request, exc))
    return redirect(jobs.url_of(job))


def restore_page(request, status: int = 200, form=None):
    confirm.said_on_preview(request)
    repo = open_repository()
    return render(request, "attendance/restore.html", {
        "form": form or UploadForm(),
        "commits": list(repo.log(limit=COMMITS_LISTED)),
        "merging": MergeState.load(repo) is not None,
        "limit_mb": uploads.limit() / 2**20,
    }, status=status)


# --- restore/apply/ -----------------------------------------------------------------------

@root_required
@require_POST
def apply_restore_view(request):
    """Preview the form's choices again, or apply them: only when they are
    the previewed ones (the token) and nothing moved since; then start the
    restore in the background and go to its progress page."""
    form = SourceForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return restore_page(request, 400)
    strategy = form.cleaned_data["strategy"] or default_strategy()
    try:
        selection = confirm.selection_of(form.selection_data(request.POST))
    except AttgitError as exc:
        return restore_page(request, errors.say(request, exc))
    params = _source_params(form.cleaned_data, strategy, selection)
    passphrase = request.POST.get("passphrase") if params.get("upload") else None
    if request.POST.get("action") == "preview":
        if passphrase:  # a new preview job takes it by POST, never in a URL
            return _preview_with_passphrase(request, uploads.get(params["upload"]), passphrase, params)
        return redirect(preview_url(params))
    if MergeState.load(open_repository()) is not None:
        messages.error(request, errors.MERGING)
        return redirect("attgit:conflicts")
    try:
        params["expect"] = _confirmed(form.cleaned_data["token"], params)
        job = _start_restore(request, {**params, **({jobs.PASSPHRASE: passphrase} if passphrase else {})})
    except confirm.PreviewOutdated as exc:
        confirm.tell_on_preview(request, exc)
        return redirect(preview_url(params))
    except AttgitError as exc:
        errors.say(request, exc)
        return redirect(preview_url(params))
    return redirect("attgit:job_progress", job.pk)


def _source_params(source: dict, strategy: str, selection: dict) -> dict:
    if source["upload"]:
        return {"upload": source["upload"], "strategy": strategy, "selection": selection}
    return {"commit": source["commit"], "selection": selection}


def choices_of(params: dict) -> dict:
    """What a person chose for a restore, as its token holds it."""
    if params.get("upload"):
        return {"source": params["upload"], "strategy": params.get("strategy", ""),
                **(params.get("selection") or {})}
    return {"source": params.get("commit", ""), **(params.get("selection") or {})}  # no strategy: no conflicts


def preview_url(params: dict) -> str:
    """The preview page of these choices (a new preview unless ``job`` names one)."""
    query = {k: params[k] for k in ("upload", "commit", "strategy", "job") if params.get(k)}
    selection = params.get("selection") or {}
    query.update({k: selection[k] for k in ("date_from", "date_to") if selection.get(k)})
    if selection.get("companies"):
        query["companies"] = selection["companies"]
    return f"{reverse('attgit:preview_restore')}?{urlencode(query, doseq=True)}"


def _confirmed(token: str, params: dict) -> dict:
    """The state the preview saw, once the token says these are the
    previewed choices and the database, repository and file are as then."""
    if params.get("upload"):
        path = uploads.path_of(uploads.get(params["upload"]))
    else:
        path = None
    expected = confirm.verify(token, "restore", choices_of(params))
    confirm.check_state(expected, confirm.state(file=path))
    return expected


def _start_restore(request, params: dict) -> Job:
    if params.get("upload"):
        upload = uploads.get(params["upload"])
        return jobs.start(request, Job.IMPORT, {**params, "upload": upload.pk, "name": upload.original_name})
    commit = str(open_repository().resolve(params["commit"]))
    if not commit.startswith(params["commit"]):
        raise confirm.PreviewOutdated("the snapshot is not the one previewed: preview again")
    return jobs.start(request, Job.CHECKOUT, {**params, "commit": commit})


# --- the jobs -----------------------------------------------------------------------------

def run_import(job: Job, progress: jobs.Progress) -> dict:
    """Merge the kept upload into the database; return the summary."""
    upload = job_upload(job)
    name, strategy = job.params["name"], job.params["strategy"]
    passphrase = jobs.take_passphrase(job)
    opened, db = open_as(job.user), connect()
    repo = opened.repo
    selection = job.params.get("selection") or {}
    _still_as_previewed(job, confirm.state(repo, file=uploads.path_of(upload)))
    with read_backup(uploads.path_of(upload), max_bytes=uploads.limit(), **read_options(passphrase),
                     progress=progress.counter("Checking the file")) as backup:
        progress.phase("Comparing with the database")
        result = import_backup(repo, db, opened.author, backup, name, strategy=strategy,
                               selection=confirm.as_selection(selection),
                               comparing=progress.counter("Comparing with the database"),
                               progress=progress.counter("Writing records"))
        companies = len(backup.companies())
    c = result.counts
    summary = {"status": result.status, "commit": result.commit, "pre_commit": result.pre_commit, "name": name,
               "strategy": STRATEGY_NAMES.get(strategy, strategy), "added": c.get("added", 0),
               "updated": c.get("updated", 0), "skipped": c.get("skipped", 0), "conflicts": len(result.conflicts),
               "pending": c.get("pending", 0), "records": c.get("records_in_file", 0),
               "companies_created": c.get("companies_created", 0), "selection": selection}
    summary.update(_per_record(summary, strategy))
    log_operation("restore", job.user, commit=result.commit or "", filename=name, companies=companies,
                  selection=selection, file_sha256=(job.params.get("expect") or {}).get("file", ""),
                  records=summary["records"],
                  added=summary["added"], updated=summary["updated"], skipped=summary["skipped"],
                  conflicts=summary["conflicts"], strategy=strategy, status=result.status, job=str(job.pk),
                  pending=summary["pending"], **({"warnings": result.warnings} if result.warnings else {}))
    uploads.discard(upload)
    return summary


def _per_record(summary: dict, strategy: str) -> dict:
    """The summary's counts once per record: added, updated, kept (differed,
    the database's version kept), waiting (manual conflicts) and identical
    add up to the records restored (the merge counts a differing record as
    a conflict too, and a kept or waiting one as skipped)."""
    kept = summary["conflicts"] if strategy == "ours" else 0
    waiting = summary["pending"]
    return {"kept": kept, "waiting": waiting, "identical": max(summary["skipped"] - kept - waiting, 0)}


def job_upload(job: Job):
    upload = Upload.objects.filter(pk=job.params["upload"]).first()
    if upload is None or not uploads.path_of(upload).is_file():
        raise NotFound("the uploaded file is no longer on the server: upload it again")
    return upload


def run_checkout(job: Job, progress: jobs.Progress) -> dict:
    """Make the database equal to the chosen snapshot; return the summary."""
    commit = job.params["commit"]
    opened, db = open_as(job.user), connect()
    repo = opened.repo
    selection = job.params.get("selection") or {}
    _still_as_previewed(job, confirm.state(repo))
    progress.phase("Comparing with the database")
    result = checkout(repo, db, opened.author, commit, selection=confirm.as_selection(selection),
                      progress=progress.counter("Writing records"))
    c = result.counts
    summary = {"status": result.status, "commit": result.commit, "pre_commit": result.pre_commit,
               "source": commit, "added": c.get("inserts", 0), "updated": c.get("updates", 0),
               "deleted": c.get("deletes", 0), "companies_created": c.get("companies_created", 0),
               "companies_dropped": c.get("companies_dropped", 0), "selection": selection}
    log_operation("checkout", job.user, commit=result.commit or "", source=commit, added=summary["added"],
                  selection=selection,
                  updated=summary["updated"], deleted=summary["deleted"], status=result.status, job=str(job.pk))
    return summary


def _still_as_previewed(job: Job, now: dict) -> None:
    """Under the worker's locks, before anything is written: refuse when
    the database, repository or file moved since the preview this job
    applies (another writer may have gone first since the click).  A retry
    of a job that got past this check is not checked again."""
    if "expect" not in job.params or job.params.get("confirmed"):
        return
    confirm.check_state(job.params["expect"], now)
    # A retry of this job (after a crash) applies the same confirmed choices: what this job
    # itself did before it stopped (its snapshot of the database) is no reason to refuse.
    jobs.mark_confirmed(job)
