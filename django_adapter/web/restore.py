"""Restore: upload a backup file or pick a snapshot, then apply it.

``restore/`` takes the file (within the upload limit, kept under a random
id) or a commit and sends the browser to ``restore/preview/``
(:mod:`.preview`); ``restore/apply/`` starts the restore as a job
(:mod:`.jobs`) and sends the browser to its progress page, which ends on
the summary.

A file is restored with :func:`attgit.ops.restore.import_backup` (a two-way
merge that never deletes), a snapshot with :func:`attgit.ops.restore.checkout`.
Both commit the database first, so either can be undone from the history.
"""

from __future__ import annotations

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
from . import errors, jobs, uploads
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


def _preview_with_passphrase(request, upload, passphrase: str):
    """Start the preview job here, the passphrase in its parameters (a
    POST's, never a URL's; the job wipes it when it takes it)."""
    try:
        job = jobs.start(request, Job.PREVIEW, {"upload": upload.pk, "strategy": default_strategy(),
                                                jobs.PASSPHRASE: passphrase})
    except AttgitError as exc:
        return restore_page(request, errors.say(request, exc))
    return redirect(jobs.url_of(job))


def restore_page(request, status: int = 200, form=None):
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
    """Start the restore in the background; go to its progress page."""
    form = SourceForm(request.POST)
    if not form.is_valid():
        messages.error(request, errors_of(form))
        return restore_page(request, 400)
    strategy = form.cleaned_data["strategy"] or default_strategy()
    if MergeState.load(open_repository()) is not None:
        messages.error(request, errors.MERGING)
        return redirect("attgit:conflicts")
    if form.cleaned_data["upload"]:
        upload = uploads.get(form.cleaned_data["upload"])
        kind, params = Job.IMPORT, {"upload": upload.pk, "name": upload.original_name, "strategy": strategy}
        if request.POST.get("passphrase"):
            params[jobs.PASSPHRASE] = request.POST["passphrase"]
        back = {"upload": upload.pk, "strategy": strategy}
    else:
        kind, params = Job.CHECKOUT, {"commit": form.cleaned_data["commit"]}
        back = {"commit": form.cleaned_data["commit"]}
    try:
        if kind == Job.CHECKOUT:
            params["commit"] = str(open_repository().resolve(params["commit"]))
        job = jobs.start(request, kind, params)
    except AttgitError as exc:
        errors.say(request, exc)
        return redirect(f"{reverse('attgit:preview_restore')}?{urlencode(back)}")
    return redirect("attgit:job_progress", job.pk)


# --- the jobs -----------------------------------------------------------------------------

def run_import(job: Job, progress: jobs.Progress) -> dict:
    """Merge the kept upload into the database; return the summary."""
    upload = job_upload(job)
    name, strategy = job.params["name"], job.params["strategy"]
    passphrase = jobs.take_passphrase(job)
    opened, db = open_as(job.user), connect()
    repo = opened.repo
    with read_backup(uploads.path_of(upload), max_bytes=uploads.limit(), **read_options(passphrase),
                     progress=progress.counter("Checking the file")) as backup:
        progress.phase("Comparing with the database")
        result = import_backup(repo, db, opened.author, backup, name, strategy=strategy,
                               progress=progress.counter("Writing records"))
        companies = len(backup.companies())
    c = result.counts
    summary = {"status": result.status, "commit": result.commit, "pre_commit": result.pre_commit, "name": name,
               "strategy": STRATEGY_NAMES.get(strategy, strategy), "added": c.get("added", 0),
               "updated": c.get("updated", 0), "skipped": c.get("skipped", 0), "conflicts": len(result.conflicts),
               "pending": c.get("pending", 0), "records": c.get("records_in_file", 0),
               "companies_created": c.get("companies_created", 0)}
    log_operation("restore", job.user, commit=result.commit or "", filename=name, companies=companies,
                  records=summary["records"],
                  added=summary["added"], updated=summary["updated"], skipped=summary["skipped"],
                  conflicts=summary["conflicts"], strategy=strategy, status=result.status, job=str(job.pk),
                  pending=summary["pending"], **({"warnings": result.warnings} if result.warnings else {}))
    uploads.discard(upload)
    return summary


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
    progress.phase("Comparing with the database")
    result = checkout(repo, db, opened.author, commit, progress=progress.counter("Writing records"))
    c = result.counts
    summary = {"status": result.status, "commit": result.commit, "pre_commit": result.pre_commit,
               "source": commit, "added": c.get("inserts", 0), "updated": c.get("updates", 0),
               "deleted": c.get("deletes", 0), "companies_created": c.get("companies_created", 0),
               "companies_dropped": c.get("companies_dropped", 0)}
    log_operation("checkout", job.user, commit=result.commit or "", source=commit, added=summary["added"],
                  updated=summary["updated"], deleted=summary["deleted"], status=result.status, job=str(job.pk))
    return summary
