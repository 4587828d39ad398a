"""Long operations run outside the request: a thread per job, progress in a file.

A page that starts a job (a backup, a restore, concluding or aborting a
merge) takes attgit's two locks in the request -- so "another operation is
running" is said at once, on that page -- records a :class:`Job`, hands the
locks to a worker thread and redirects to the job's page.  That page polls
:func:`job_status` (a little JSON) and shows a progress bar, then the
summary.  A million-record restore never holds a request open.

The worker has its own database connection: it writes the Job row when it
starts and when it ends, and closes its connections when done.  Progress
cannot go in the Job row meanwhile: the apply is ONE transaction, which on
SQLite holds the database's write lock until it commits.  So the worker
writes progress to ``<ATTGIT_JOB_DIR>/<job id>.json`` (atomically, a few
times a second) and :func:`job_status` reads both.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Optional

import orjson
from django.conf import settings
from django.contrib import messages
from django.db import OperationalError, connections
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from attgit.errors import AttgitError
from attgit.ops.reconcile import exclusive

from ..audit import log_operation
from ..models import Job
from ..repository import open_repository
from ..workingcopy import connect
from .access import root_required
from .errors import describe, status_for

logger = logging.getLogger("django_adapter.web")

#: What each kind of job runs: ``runner(job, progress) -> result dict``.
RUNNERS = {
    Job.BACKUP: "django_adapter.web.backup.run_backup",
    Job.PREVIEW: "django_adapter.web.preview.run_preview",
    Job.IMPORT: "django_adapter.web.restore.run_import",
    Job.CHECKOUT: "django_adapter.web.restore.run_checkout",
    Job.CONCLUDE: "django_adapter.web.conflicts.run_conclude",
    Job.ABORT: "django_adapter.web.conflicts.run_abort",
}
#: Seconds a page waits for a lock another writer holds before saying so.
LOCK_WAIT = 1.0
#: Previews are worked out again when asked for again; old ones go.
KEEP_PREVIEWS = dt.timedelta(days=1)


# --- starting a job ------------------------------------------------------------

def start(request, kind: str, params: dict) -> Job:
    """Take both locks, record the job and run it in the background.

    Raises attgit's Locked (or whatever reconcile raises) before any job
    exists when the locks cannot be had.
    """
    held, notes = contextlib.ExitStack(), []
    held.enter_context(exclusive(open_repository(), connect(), LOCK_WAIT, notes))
    for note in notes:  # what reconcile tidied up after a crash
        messages.info(request, f"attgit {note}.")
    try:
        Job.objects.filter(kind=Job.PREVIEW, created_at__lt=timezone.now() - KEEP_PREVIEWS).delete()
        job = Job.objects.create(kind=kind, user=request.user, params=params)
        Progress(job.pk).update("Waiting to start", force=True)
        spawn(functools.partial(run, job.pk, held))
    except BaseException:
        held.close()
        raise
    return job


def spawn(work: Callable[[], None]) -> None:
    """Run ``work`` in a thread of its own (tests may run it inline)."""
    threading.Thread(target=_in_own_thread, args=(work,), name="attgit-job", daemon=True).start()


def _in_own_thread(work: Callable[[], None]) -> None:
    try:
        work()
    finally:
        connections.close_all()  # this thread's connections only


def run(job_id, held: contextlib.ExitStack) -> None:
    """The worker: run the job's runner with the locks held, then record
    the outcome (after letting the locks go, so the next page can write)."""
    try:
        job = retrying(lambda: Job.objects.select_related("user").get(pk=job_id))
    except BaseException:
        held.close()
        raise
    progress = Progress(job.pk)
    try:
        with held:
            _save(job, status=Job.RUNNING, started_at=timezone.now(), pid=os.getpid())
            result = import_string(RUNNERS[job.kind])(job, progress)
    except AttgitError as exc:
        _failed(job, describe(exc), status_for(exc))
    except Exception as exc:  # noqa: BLE001 - a worker must always record its end
        logger.exception("attgit job %s (%s) failed", job.pk, job.kind)
        _failed(job, f"internal error: {type(exc).__name__}: {exc}", 500)
    else:
        _save(job, status=Job.DONE, result=result, finished_at=timezone.now())
    finally:
        progress.remove()


def _failed(job: Job, error: str, http_status: int = 500) -> None:
    _save(job, status=Job.FAILED, error=error, result={"http_status": http_status}, finished_at=timezone.now())
    operation = operation_of(job)
    if operation:
        with contextlib.suppress(Exception):
            log_operation(operation, job.user, success=False, error=error, job=str(job.pk),
                          filename=job.params.get("name", ""))


def operation_of(job: Job) -> Optional[str]:
    """The audit log's name for what a job does (a preview changes nothing: None)."""
    if job.kind == Job.BACKUP:
        return f"backup_{job.params.get('type', 'full')}"
    return {Job.IMPORT: "restore", Job.CHECKOUT: "checkout", Job.PREVIEW: None}.get(job.kind, "merge")


def _save(job: Job, **fields) -> None:
    """Write fields of the Job row."""
    for name, value in fields.items():
        setattr(job, name, value)
    retrying(lambda: Job.objects.filter(pk=job.pk).update(**fields))


def retrying(query: Callable, attempts: int = 50):
    """Run a short query, again while the database says it is locked.

    A file database waits by itself (``timeout``); an in-memory SQLite
    shared between threads (the live-server tests) answers "locked" at once
    while another connection writes the same table.
    """
    for attempt in range(attempts):
        try:
            return query()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


# --- progress --------------------------------------------------------------------

def job_dir() -> Path:
    folder = getattr(settings, "ATTGIT_JOB_DIR", None)
    path = Path(folder) if folder else Path(settings.ATTGIT_BACKUP_DIR).parent / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Progress:
    """A running job's phase and counts, in a small file any process can read."""

    INTERVAL = 0.2  # seconds between writes

    def __init__(self, job_id):
        self.path = job_dir() / f"{job_id}.json"
        self._written = 0.0

    def update(self, phase: str, done: int = 0, total: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < self.INTERVAL and done != total:
            return
        self._written = now
        partial = self.path.with_suffix(f".{threading.get_ident()}.tmp")
        partial.write_bytes(orjson.dumps({"phase": phase, "done": done, "total": total}))
        os.replace(partial, self.path)

    def phase(self, label: str) -> None:
        """A step whose size is unknown (the bar moves without a percentage)."""
        self.update(label, force=True)

    def counter(self, label: str) -> Callable[[int, int], None]:
        """A progress(done, total) callback for attgit's functions."""
        return lambda done, total: self.update(label, done, total)

    def read(self) -> Optional[dict]:
        try:
            return orjson.loads(self.path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


# --- the pages -------------------------------------------------------------------

def state_of(job: Job) -> dict:
    """What the progress bar shows: status, phase, counts, percentage."""
    _notice_a_lost_worker(job)
    progress = (Progress(job.pk).read() or {}) if not job.finished else {}
    done, total = progress.get("done", 0), progress.get("total", 0)
    if job.status == Job.DONE:
        percent = 100.0
    else:
        percent = round(100.0 * done / total, 1) if total else None
    phase = progress.get("phase") or {Job.QUEUED: "Waiting to start", Job.RUNNING: "Working",
                                      Job.DONE: "Done", Job.FAILED: "Failed"}[job.status]
    return {
        "id": str(job.pk), "kind": job.kind, "status": job.status, "finished": job.finished,
        "phase": phase, "done": done, "total": total, "percent": percent, "error": job.error,
        "url": url_of(job),
    }


def url_of(job: Job) -> str:
    """Where a job's progress and then its outcome are shown: a preview's on
    the preview page, every other's on its own page."""
    if job.kind == Job.PREVIEW:
        return f"{reverse('preview_restore')}?{urlencode({**job.params, 'job': job.pk})}"
    return reverse("job_progress", args=[job.pk])


def _notice_a_lost_worker(job: Job) -> None:
    """A job whose server process died can never finish: say so."""
    if job.finished or not job.pid or job.pid == os.getpid() or _alive(job.pid):
        return
    _save(job, status=Job.FAILED, finished_at=timezone.now(),
          error="the server process running this job stopped before it finished; the database holds "
                "either all of the change or none of it, and the next operation tidies up")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@root_required
@require_GET
@never_cache
def job_status(request, job_id):
    """The job's state as JSON, for the progress page's script."""
    try:
        job = retrying(lambda: get_object_or_404(Job, pk=job_id), attempts=5)
        return JsonResponse(state_of(job))
    except OperationalError:  # the database is busy: the script asks again
        return JsonResponse({"status": "busy", "finished": False}, status=503)


@root_required
@require_GET
def job_page(request, job_id):
    """A running job's progress bar; a finished job's summary."""
    job = retrying(lambda: get_object_or_404(Job.objects.select_related("user"), pk=job_id))
    return render(request, "attendance/job.html", {"job": job, "state": state_of(job)})
