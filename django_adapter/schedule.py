"""Scheduled snapshots: the ``ATTGIT_SCHEDULE`` setting, and the run that
cron (or a task queue's periodic job) starts.

The setting names when a snapshot is due, in the site's time zone::

    ATTGIT_SCHEDULE = {"snapshot": "daily 02:00"}

    "daily HH:MM"        once a day at that time
    "hourly"             every hour on the hour ("hourly :15": at a quarter past)
    "every N minutes"    from midnight, every N minutes ("every N hours" too)

Something must call :func:`run_scheduled` often enough to notice a due
time: ``manage.py attgit_scheduled`` from cron, every few minutes (see the
README), or a task queue's periodic job calling :func:`run_scheduled`
directly.  It snapshots only when a scheduled time has passed since the
last successful scheduled snapshot, so a cron line that runs more often
than the schedule, twice at once, or after the machine slept does the
right thing: one snapshot per due time, a missed time caught up once.

Each run that acts is one BackupLog row (operation ``scheduled``), success
or failure; the commit it makes has type ``scheduled``.  A database that
did not change makes no commit (the run is logged as "nothing to commit").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional

from django.conf import settings
from django.utils import timezone

from attgit.errors import AttgitError, ConfigError
from attgit.ops.commit import snapshot_database
from attgit.ops.reconcile import exclusive

from .audit import log_operation
from .models import BackupLog
from .repository import open_as, resolve_actor
from .workingcopy import connect

OPERATION = "scheduled"
_DAY = 24 * 60
_FORMS = (
    (re.compile(r"daily\s+(\d{1,2}):([0-5]\d)"), lambda m: ("daily", _DAY, int(m[1]) * 60 + int(m[2]))),
    (re.compile(r"hourly(?:\s+:?(\d{1,2}))?"), lambda m: ("hourly", 60, int(m[1] or 0))),
    (re.compile(r"every\s+(\d+)\s+(minute|hour)s?"), lambda m: ("every", int(m[1]) * (60 if m[2] == "hour" else 1), 0)),
)


@dataclass(frozen=True)
class Schedule:
    """Due times: every ``period`` minutes from ``offset`` minutes past
    each midnight (site time), within that day."""

    text: str
    period: int
    offset: int

    def last_time(self, now: dt.datetime) -> dt.datetime:
        """The latest due time at or before ``now``."""
        local = timezone.localtime(now)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        minutes = (local - midnight).total_seconds() // 60
        if minutes < self.offset:  # before today's first: yesterday's last
            yesterday = midnight - dt.timedelta(days=1)
            return yesterday + dt.timedelta(minutes=self.offset + (_DAY - 1 - self.offset) // self.period * self.period)
        return midnight + dt.timedelta(minutes=self.offset + (minutes - self.offset) // self.period * self.period)

    def next_time(self, now: dt.datetime) -> dt.datetime:
        """The first due time after ``now``."""
        candidate = self.last_time(now) + dt.timedelta(minutes=self.period)
        local = timezone.localtime(now)
        tomorrow = local.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
        return min(candidate, tomorrow + dt.timedelta(minutes=self.offset))

    def due(self, now: dt.datetime, last_run: Optional[dt.datetime]) -> bool:
        return last_run is None or last_run < self.last_time(now)


def parse_schedule(text: str, entry: str = "snapshot") -> Schedule:
    """``text`` as a Schedule; ConfigError naming the setting when it is not one."""
    cleaned = " ".join(str(text).lower().split())
    for pattern, build in _FORMS:
        match = pattern.fullmatch(cleaned)
        if match:
            kind, period, offset = build(match)
            if not 0 < period <= _DAY or not 0 <= offset < min(period, _DAY) or (kind == "every" and _DAY % period):
                break
            return Schedule(cleaned, period, offset)
    raise ConfigError(f"ATTGIT_SCHEDULE[{entry!r}] = {text!r} is not a schedule: use 'daily HH:MM', "
                      "'hourly', 'hourly :MM', or 'every N minutes|hours' (N dividing a day)")


def configured_schedule(entry: str = "snapshot") -> Optional[Schedule]:
    """The ``entry`` of ATTGIT_SCHEDULE (``snapshot``, or ``verify`` for the
    database check), or None when there is none."""
    text = (getattr(settings, "ATTGIT_SCHEDULE", None) or {}).get(entry)
    return parse_schedule(text, entry) if text else None


def last_run(using: str = "default", operation: str = OPERATION) -> Optional[dt.datetime]:
    """When the last scheduled run of ``operation`` ran (its ``at`` detail,
    the time it judged due-ness by; else when it was logged): a snapshot
    counts when it succeeded; a database check whenever it ran through
    (finding a difference is its job, not a reason to run again)."""
    rows = BackupLog.objects.using(using).filter(operation=operation)
    rows = rows.filter(success=True) if operation == OPERATION else rows.filter(details__scheduled=True)
    row = rows.order_by("-created_at", "-id").values_list("created_at", "details").first()
    if row is None:
        return None
    created_at, details = row
    at = (details or {}).get("at")
    return dt.datetime.fromisoformat(at) if at else created_at


@dataclass
class ScheduledRun:
    """What a run did: ``status`` is committed, nothing, or not-due."""

    status: str
    schedule: str
    commit: Optional[str] = None
    companies: int = 0
    records: int = 0
    next_time: Optional[dt.datetime] = None


def run_scheduled(who=None, *, force: bool = False, now: Optional[dt.datetime] = None,
                  wait: float = 60.0) -> ScheduledRun:
    """Snapshot the database if a scheduled time is due (or ``force``).

    ``who`` acts as in :func:`django_adapter.repository.open_as` (None: the
    operator, or ``$ATTGIT_USER``).  The hook for a task queue's periodic job.
    """
    schedule = configured_schedule()
    if schedule is None and not force:
        raise ConfigError("no scheduled snapshots: set ATTGIT_SCHEDULE = {'snapshot': 'daily 02:00'} "
                          "(or run with --force)")
    now = now or timezone.now()
    text = schedule.text if schedule else "forced"
    upcoming = schedule.next_time(now) if schedule else None
    if schedule is not None and not force and not schedule.due(now, last_run()):
        return ScheduledRun("not-due", text, next_time=upcoming)
    actor = resolve_actor(who)
    try:
        result = _snapshot(open_as(actor), text, wait)
    except AttgitError as exc:
        log_operation(OPERATION, actor, success=False, error=str(exc), schedule=text)
        raise
    run = ScheduledRun("committed" if result.commit else "nothing", text, result.commit, result.companies,
                       result.records, upcoming)
    log_operation(OPERATION, actor, commit=result.commit or result.parent or "", companies=run.companies,
                  records=run.records, schedule=text, status=run.status, at=now)
    return run


def _snapshot(opened, text: str, wait: float):
    db = connect()
    with exclusive(opened.repo, db, wait):
        return snapshot_database(opened.repo, db, opened.author, message=f"Scheduled snapshot ({text})",
                                 kind=OPERATION)


# --- the scheduled database check (issue 18.1) -------------------------------

VERIFY = "verify_database"


@dataclass
class ScheduledCheck:
    """What a scheduled database check did: ``status`` is ok, repaired
    (the change log missed edits: committed as a repair) or not-due."""

    status: str
    schedule: str
    missed: str = ""
    commit: Optional[str] = None
    next_time: Optional[dt.datetime] = None


def run_scheduled_verify(who=None, *, force: bool = False, now: Optional[dt.datetime] = None,
                         wait: float = 60.0) -> ScheduledCheck:
    """Compare every row with main when ``ATTGIT_SCHEDULE['verify']`` is due
    (or ``force``), and commit what the change log missed as a repair.  A
    miss is loud: a failed audit row (the history page shows it) naming the
    companies and the repair commit, and the status ``repaired``."""
    schedule = configured_schedule("verify")
    now = now or timezone.now()
    text = schedule.text if schedule else "forced"
    upcoming = schedule.next_time(now) if schedule else None
    if schedule is None and not force:
        raise ConfigError("no scheduled database check: set ATTGIT_SCHEDULE = {'verify': 'daily 03:00'}")
    if schedule is not None and not force and not schedule.due(now, last_run(operation=VERIFY)):
        return ScheduledCheck("not-due", text, next_time=upcoming)
    actor = resolve_actor(who)
    try:
        check = _check(open_as(actor), wait)
    except AttgitError as exc:
        log_operation(VERIFY, actor, success=False, error=str(exc), schedule=text, scheduled=True, at=now)
        raise
    error = f"change log missed: {check.describe()}; committed as repair {check.repaired}" if check.missed else ""
    log_operation(VERIFY, actor, success=check.ok, error=error, commit=check.repaired or "", schedule=text,
                  scheduled=True, at=now)
    return ScheduledCheck("ok" if check.ok else "repaired", text, check.describe(), check.repaired, upcoming)


def _check(opened, wait: float):
    from attgit.ops.verify import repair_database, verify_database

    db = connect()
    with exclusive(opened.repo, db, wait):
        check = verify_database(opened.repo, db)
        if not check.ok:
            repair_database(opened.repo, db, opened.author, check)
        return check
