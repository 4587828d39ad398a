"""Long operations run outside the request, by a background worker.

A page that starts a job (a backup, a restore or its preview, settling
conflicts, concluding or aborting a merge, the admin's sync) first makes
sure attgit's two locks are free -- so "another operation is running" is
said at once, on that page, and a crash's leftovers are tidied -- then
records a :class:`Job`, enqueues :func:`django_adapter.tasks.run_job` on
Django's tasks framework and redirects to the job's page.  A worker process
(``manage.py db_worker``) takes the locks and runs the job; the page polls
:func:`job_status` (a little JSON) and shows a progress bar, then the
summary.  Restarting or recycling the web server does not touch a job.

Progress cannot go in the Job row while a job runs: the apply is ONE
transaction, which on SQLite holds the database's write lock until it
commits.  So the worker writes progress to ``<ATTGIT_JOB_DIR>/<job id>.json``
(atomically, a few times a second), and a heartbeat thread touches that
file every :data:`HEARTBEAT` seconds.  A job still ``running`` whose worker
is gone -- its process no longer exists on this machine, or its file has not
been touched for ``ATTGIT_JOB_HEARTBEAT_TIMEOUT`` seconds (30 by default; the
worker may be on another machine sharing the folder) -- is marked
``interrupted`` by the next look at it, and its page offers a retry.  The
database then holds all of the change or none of it (one transaction), and
the next operation reconciles the repository with it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

import orjson
from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.db import OperationalError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from attgit.errors import AttgitError
from attgit.fsutil import process_alive
from attgit.ops.reconcile import exclusive

from ..audit import log_operation
from ..backups import backup_folder
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
    Job.RESOLVE: "django_adapter.web.conflicts.run_resolve",
    Job.SYNC_PREVIEW: "django_adapter.sync.run_sync_preview",
    Job.SYNC: "django_adapter.sync.run_sync",
}
#: Seconds a page waits for a lock another writer holds before saying so.
LOCK_WAIT = 1.0
#: Seconds between two heartbeats of a running job.
HEARTBEAT = 2.0
#: A queued job not picked up after this many seconds says a worker is needed.
QUEUE_PATIENCE = 5.0
#: Previews are worked out again when asked for again; old ones go.
KEEP_PREVIEWS = dt.timedelta(days=1)
INTERRUPTED = ("the background worker running this job stopped before it finished (it was killed or its "
               "machine restarted); the database holds either all of the change or none of it, and the next "
               "operation tidies up. Retry it to run it again.")


def heartbeat_timeout() -> float:
    return float(getattr(settings, "ATTGIT_JOB_HEARTBEAT_TIMEOUT", 30))


def worker_lock_wait() -> float:
    return float(getattr(settings, "ATTGIT_JOB_LOCK_WAIT", 60))


# --- starting a job ------------------------------------------------------------

def start(request, kind: str, params: dict, retry_of: Optional[Job] = None) -> Job:
    """Check the locks are free, record the job and hand it to the task queue.

    Raises attgit's Locked (or whatever reconcile raises) before any job
    exists when the locks cannot be had.
    """
    notes: list = []
    with exclusive(open_repository(), connect(), LOCK_WAIT, notes):
        pass
    for note in notes:  # what reconcile tidied up after a crash
        messages.info(request, f"attgit {note}.")
    Job.objects.filter(kind__in=(Job.PREVIEW, Job.SYNC_PREVIEW),
                       created_at__lt=timezone.now() - KEEP_PREVIEWS).delete()
    job = Job.objects.create(kind=kind, user=request.user, params=params, retry_of=retry_of)
    Progress(job.pk).update("Waiting to start", force=True)
    enqueue(job)
    job.refresh_from_db()
    return job


def enqueue(job: Job) -> None:
    """Put the job on the task queue (a backend that runs tasks at once runs it here)."""
    from ..tasks import run_job

    result = run_job.enqueue(str(job.pk))
    Job.objects.filter(pk=job.pk).update(task_id=str(result.id)[:64])


def run(job_id) -> None:
    """The worker's side: take both locks, run the job's runner with a
    heartbeat going, then record the outcome (after letting the locks go,
    so the next page can write)."""
    job = retrying(lambda: Job.objects.select_related("user").get(pk=job_id))
    if job.status != Job.QUEUED:  # already run, or given up on meanwhile
        logger.warning("attgit job %s is %s, not queued: not run again", job.pk, job.status)
        return
    progress = Progress(job.pk)
    try:
        with Heartbeat(progress):
            progress.phase("Waiting for other operations to finish")
            if not _start(job):  # given up on meanwhile (see notice_a_lost_worker)
                logger.warning("attgit job %s is no longer queued: not run", job.pk)
                return
            with exclusive(open_repository(), connect(), worker_lock_wait()):
                result = import_string(RUNNERS[job.kind])(job, progress)
    except AttgitError as exc:
        _failed(job, describe(exc), status_for(exc))
    except Exception as exc:  # noqa: BLE001 - a worker must always record its end
        logger.exception("attgit job %s (%s) failed", job.pk, job.kind)
        _failed(job, f"internal error: {type(exc).__name__}: {exc}", 500)
    else:
        _save(job, status=Job.DONE, result=result, finished_at=timezone.now())
    finally:
        wipe_passphrase(job)
        progress.remove()


#: The job parameter a passphrase travels in, from the page to the worker.
PASSPHRASE = "passphrase"


def take_passphrase(job: Job) -> Optional[str]:
    """The passphrase the page handed this job, wiped from the Job row at
    once (before the job reads anything): it lives on only in the worker's
    memory for the job's length.  Never logged, never in a result."""
    passphrase = job.params.get(PASSPHRASE)
    wipe_passphrase(job)
    return passphrase or None


def wipe_passphrase(job: Job) -> None:
    """Remove the passphrase from the job's parameters, in memory and in its row."""
    if PASSPHRASE in job.params:
        job.params = {k: v for k, v in job.params.items() if k != PASSPHRASE}
        retrying(lambda: Job.objects.filter(pk=job.pk).update(params=job.params))


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
    return {Job.IMPORT: "restore", Job.CHECKOUT: "checkout", Job.PREVIEW: None, Job.SYNC_PREVIEW: None,
            Job.RESOLVE: "resolve", Job.SYNC: "sync"}.get(job.kind, "merge")


def mark_confirmed(job: Job) -> None:
    """Note in the job's parameters that its confirmed preview still held
    when it began (a retry copies the parameters, so it is not refused for
    what this job itself did before it stopped)."""
    _save(job, params={**job.params, "confirmed": True})


def _start(job: Job) -> bool:
    """Mark the job running, only if it is still queued: a job another look
    marked interrupted (its task claimed too long ago) is not run after all."""
    fields = {"status": Job.RUNNING, "started_at": timezone.now(), "pid": os.getpid()}
    if not retrying(lambda: Job.objects.filter(pk=job.pk, status=Job.QUEUED).update(**fields)):
        return False
    for name, value in fields.items():
        setattr(job, name, value)
    return True


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


# --- progress and heartbeat -----------------------------------------------------------

def job_dir() -> Path:
    folder = getattr(settings, "ATTGIT_JOB_DIR", None)
    path = Path(folder) if folder else backup_folder().parent / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


class Progress:
    """A running job's phase and counts, and who runs it (host and process),
    in a small file any process can read; its modification time is the
    job's heartbeat."""

    INTERVAL = 0.2  # seconds between writes

    def __init__(self, job_id):
        self.path = job_dir() / f"{job_id}.json"
        self._written = 0.0
        self._state = {"phase": "", "done": 0, "total": 0}
        self._facts: dict = {}
        self._lock = threading.Lock()

    def note(self, **facts) -> None:
        """Record facts a lost job's judge needs (the backup file it claimed),
        written now and with every later update."""
        self._facts.update(facts)
        self._write()

    def update(self, phase: str, done: int = 0, total: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < self.INTERVAL and done != total:
            return
        self._written = now
        self._state = {"phase": phase, "done": done, "total": total}
        self._write()

    def _write(self) -> None:
        data = {**self._facts, **self._state, "host": socket.gethostname(), "pid": os.getpid()}
        with self._lock:
            partial = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            partial.write_bytes(orjson.dumps(data))
            os.replace(partial, self.path)

    def beat(self) -> None:
        """Say the worker is alive: touch the file (write it if it went)."""
        try:
            os.utime(self.path)
        except FileNotFoundError:
            self._write()

    def phase(self, label: str) -> None:
        """A step whose size is unknown (the bar moves without a percentage)."""
        self.update(label, force=True)

    def counter(self, label: str) -> Callable[[int, int], None]:
        """A progress(done, total) callback for attgit's functions."""
        return lambda done, total: self.update(label, done, total)

    def read(self) -> Optional[dict]:
        try:
            data = orjson.loads(self.path.read_bytes())
            data["beat"] = self.path.stat().st_mtime
            return data
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class Heartbeat:
    """While in effect, a thread beats the job's progress file every HEARTBEAT seconds."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="attgit-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            with contextlib.suppress(OSError):
                self.progress.beat()

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# --- the pages -------------------------------------------------------------------

def state_of(job: Job) -> dict:
    """What the progress bar shows: status, phase, counts, percentage."""
    notice_a_lost_worker(job)
    progress = (Progress(job.pk).read() or {}) if not job.finished else {}
    done, total = progress.get("done", 0), progress.get("total", 0)
    if job.status == Job.DONE:
        percent = 100.0
    else:
        percent = round(100.0 * done / total, 1) if total else None
    phase = progress.get("phase") or {Job.QUEUED: "Waiting to start", Job.RUNNING: "Working", Job.DONE: "Done",
                                      Job.FAILED: "Failed", Job.INTERRUPTED: "Interrupted"}[job.status]
    if job.status == Job.QUEUED and timezone.now() - job.created_at > dt.timedelta(seconds=QUEUE_PATIENCE):
        phase = "Waiting for a background worker (manage.py db_worker)"
    return {
        "id": str(job.pk), "kind": job.kind, "status": job.status, "finished": job.finished,
        "phase": phase, "done": done, "total": total, "percent": percent, "error": job.error,
        "url": url_of(job),
    }


def url_of(job: Job) -> str:
    """Where a job's progress and then its outcome are shown: a preview's on
    the page that asked for it, every other's on its own page."""
    if job.kind == Job.PREVIEW:
        from .restore import preview_url

        return preview_url({**job.params, "job": str(job.pk)})
    if job.kind == Job.SYNC_PREVIEW:
        return reverse("admin:attendance_remote_sync", args=[job.params["remote_id"]]) + f"?job={job.pk}"
    return reverse("attgit:job_progress", args=[job.pk])


def notice_a_lost_worker(job: Job) -> bool:
    """A job whose worker died can never finish: mark it interrupted.

    Dead means: a running job's process is gone (when it ran on this
    machine), or its heartbeat is older than ATTGIT_JOB_HEARTBEAT_TIMEOUT;
    or a queued job's task was claimed by a worker longer ago than that (the
    worker died between taking the task from the queue and starting the
    job: the queue would show the task running for ever, and no other worker
    takes it).  The update only applies to a row still in the state it was
    judged in, so a job that just started or finished is left alone.
    """
    if not (_worker_gone(job) if job.status == Job.RUNNING else
            job.status == Job.QUEUED and _claimed_and_abandoned(job)):
        return False
    now, judged = timezone.now(), job.status
    if not retrying(lambda: Job.objects.filter(pk=job.pk, status=judged)
                    .update(status=Job.INTERRUPTED, error=INTERRUPTED, finished_at=now)):
        job.refresh_from_db()
        return False
    job.status, job.error, job.finished_at = Job.INTERRUPTED, INTERRUPTED, now
    wipe_passphrase(job)  # a worker killed before its job took it
    which = _what_it_left(job)
    if which:
        job.error = f"{INTERRUPTED} {which}"
        retrying(lambda: Job.objects.filter(pk=job.pk).update(error=job.error))
    Progress(job.pk).remove()
    sweep_job_dir()
    _task_failed(job)
    operation = operation_of(job)
    if operation:
        with contextlib.suppress(Exception):
            log_operation(operation, job.user, success=False, error=INTERRUPTED, job=str(job.pk),
                          filename=job.params.get("name", ""), status="interrupted")
    return True


def _what_it_left(job: Job) -> str:
    """Which of "all" or "none" a lost job left, in a sentence (or "" when
    it cannot be told).  A restore or sync applies in one transaction that
    also records, in the database, the commit the database now matches:
    when that commit is the job's own kind and no older than the job, the
    change is in; else none of it is.  A bulk resolution saves its merge
    state in one rename: all or none of the conflicts it counted are
    resolved.  A backup file appears only when complete."""
    try:
        return _LEFT.get(job.kind, lambda job: "")(job)
    except Exception:  # noqa: BLE001 - a page must show even when this cannot be told
        logger.exception("attgit: could not tell what lost job %s left", job.pk)
        return ""


def _applied(job: Job, types: tuple) -> bool:
    repo, db = open_repository(), connect()
    commit = db.state().commit
    if not commit or not repo.contains(commit):
        return False
    if job.kind == Job.SYNC and commit == job.params.get("theirs"):
        return True  # a fast-forward: the database took the remote's commit itself
    info = repo.info(commit)
    started = (job.started_at or job.created_at).timestamp()
    return info.type in types and info.time.timestamp() >= int(started)


def _restore_left(job: Job) -> str:
    types = {Job.IMPORT: ("import", "merge-wip"), Job.CHECKOUT: ("checkout",),
             Job.SYNC: ("merge", "merge-wip")}[job.kind]
    if _applied(job, types):
        return "It had finished writing: the database holds ALL of the change (nothing to retry)."
    return "The database holds NONE of the change: it is as it was before; retry to apply it."


def _resolve_left(job: Job) -> str:
    from attgit.ops.mergestate import MergeState

    state = MergeState.load(open_repository())
    pending = len(state.pending()) if state else 0
    if state is not None and pending >= job.params.get("count", 0) and pending:
        return "NONE of the resolutions was saved: the conflicts still wait; retry to resolve them."
    return "ALL of its resolutions were saved."


def _backup_left(job: Job) -> str:
    from ..models import BackupLog

    made = BackupLog.objects.filter(success=True, details__job=str(job.pk)).first()
    if made is not None:
        return (f"It had finished: the backup file {Path(made.filename).name} was written whole and logged "
                "(nothing to retry).")
    whole = _unlogged_backup(job)
    if whole is not None:
        return (f"It had finished: the backup file {whole.name} was written whole and logged now (the worker "
                "stopped before it logged the file; nothing to retry).")
    return "No backup file was written (a file appears only when complete); retry to make one."


def _unlogged_backup(job: Job) -> Optional[Path]:
    """The file a lost backup job claimed, when it is complete (renamed into
    place, so no longer a claim) but the worker stopped before logging it:
    logged here, so that every backup file has its row and the page tells
    the truth."""
    from ..backups import is_claim
    from ..storage import store

    claimed = (Progress(job.pk).read() or {}).get("file")
    path = Path(claimed) if claimed else None
    if path is None or not path.is_file() or is_claim(path):
        return None
    store(path)
    log_operation(f"backup_{job.params.get('type', 'full')}", job.user, filename=str(path), job=str(job.pk),
                  logged_by="the judge of the lost job")
    return path


_LEFT = {Job.IMPORT: _restore_left, Job.CHECKOUT: _restore_left, Job.SYNC: _restore_left,
         Job.RESOLVE: _resolve_left, Job.BACKUP: _backup_left}


def _worker_gone(job: Job) -> bool:
    progress = Progress(job.pk).read()
    if progress is not None and progress.get("host") == socket.gethostname() and progress.get("pid"):
        if not process_alive(progress["pid"]):
            return True
    last = progress["beat"] if progress else (job.started_at or job.created_at).timestamp()
    return time.time() - last > heartbeat_timeout()


def _claimed_and_abandoned(job: Job) -> bool:
    """The task queue's row says a worker took the task more than the
    heartbeat timeout ago, and the job never started (django-tasks-db's
    worker ids name no process, so time is the only sign)."""
    running = _running_task(job)
    taken_before = timezone.now() - dt.timedelta(seconds=heartbeat_timeout())
    return running is not None and running.filter(started_at__lt=taken_before).exists()


def _running_task(job: Job):
    """The task queue's row of the job while it says "running" (a queryset),
    or None when the job's task is not on django-tasks-db's queue."""
    if not job.task_id or not apps.is_installed("django_tasks_db"):
        return None
    try:
        uuid.UUID(job.task_id)
    except ValueError:  # queued on another backend (its ids are not the database queue's)
        return None
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(pk=job.task_id, status="RUNNING")


def sweep_job_dir() -> None:
    """Remove progress files a killed worker was writing (``*.<pid>.<thread>.tmp``
    of a process that is gone)."""
    for partial in job_dir().glob("*.tmp"):
        parts = partial.name.split(".")
        if len(parts) >= 4 and parts[-3].isdigit() and not process_alive(int(parts[-3])):
            partial.unlink(missing_ok=True)


def _task_failed(job: Job) -> None:
    """The task queue's own row of a lost job says it failed too (it would say running forever)."""
    running = _running_task(job)
    if running is None:
        return
    with contextlib.suppress(Exception):
        running.update(
            status="FAILED", finished_at=timezone.now(), exception_class_path="django_adapter.WorkerLost",
            traceback=INTERRUPTED)


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
    state = state_of(job)
    return render(request, "attendance/job.html", {"job": job, "state": state,
                                                   "retry": job.retries.order_by("-created_at").first()})


@root_required
@require_POST
def retry_job_view(request, job_id):
    """Run an interrupted (or failed) job again, with the same parameters."""
    job = get_object_or_404(Job, pk=job_id)
    state_of(job)
    if job.status not in (Job.INTERRUPTED, Job.FAILED):
        messages.error(request, "Only an interrupted or failed job can be retried.")
        return redirect(url_of(job))
    try:
        again = start(request, job.kind, job.params, retry_of=job)
    except AttgitError as exc:
        messages.error(request, describe(exc))
        return redirect(url_of(job))
    return redirect(url_of(again))
