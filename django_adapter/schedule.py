"""Scheduled snapshots, backup files and database checks: the
``ATTGIT_SCHEDULE`` setting, and the runs a scheduler (``manage.py
attgit_scheduler``, no cron needed) or cron (``manage.py
attgit_scheduled``) starts.

The setting names when each is due, in the site's time zone::

    ATTGIT_SCHEDULE = {
        "snapshot": "daily 02:00",        # a commit of the database
        "backup": "weekly sun 03:00",     # a full backup file (optional)
        "verify": "daily 03:00",          # a database check (optional)
        "keep": {"last": 8, "days": 90},  # which scheduled backup files stay
    }

    "daily" / "daily HH:MM"            once a day (at midnight / at that time)
    "weekly" / "weekly DAY [HH:MM]"    once a week (Sunday midnight / that day)
    "hourly" / "hourly :MM"            every hour, on the hour / at MM past
    "every N minutes|hours"            from midnight, N dividing a day
    "M H DOM MON DOW"                  a cron expression (parsed by cronsim)

Each due time is a *slot*: a run claims it by inserting a
:class:`~django_adapter.models.ScheduleSlot` row, unique per (kind, slot),
before it acts.  So any number of schedulers, restarted at any time, and a
cron line that runs more often than the schedule, act once per due time;
a time missed while nothing ran is caught up once (the latest one), and a
failed run gives its slot back to be retried at the next look.

Each run that acts is one BackupLog row (operation ``scheduled``), success
or failure; the commit it makes has type ``scheduled``.  A database that
did not change makes no commit (the run is logged as "nothing to commit").
A scheduled backup file is named ``scheduled_full_<UTC time>.json`` in the
backup storage (:mod:`django_adapter.storage`); after each one the ``keep``
rule removes the scheduled files it no longer keeps (never other files).

A scheduled database check (``verify``) compares every row with main, as
``attgit verify --database`` does, and commits what the change log missed
as a ``repair``.  Its audit row is operation ``verify_database`` (with
``scheduled``): a miss is a failed row naming the companies and the repair,
which the history page shows, and the run's status is ``repaired``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Optional

from cronsim import CronSim, CronSimError
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from attgit.errors import AttgitError, ConfigError
from attgit.ops.commit import snapshot_database
from attgit.ops.reconcile import exclusive

from . import backups, storage
from .audit import log_operation
from .models import BackupLog, ScheduleSlot
from .repository import open_as, resolve_actor
from .workingcopy import connect

OPERATION = "scheduled"
VERIFY = "verify_database"  # a database check's audit operation, as `attgit verify --database` writes it
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


@dataclass(frozen=True)
class CronSchedule:
    """Due times of a cron expression (cronsim), in the site's time zone:
    weekly schedules, bare "daily", and any cron line."""

    text: str
    expression: str

    def last_time(self, now: dt.datetime) -> dt.datetime:
        """The latest due time at or before ``now`` (cronsim's reverse walk
        starts strictly before its start, hence the microsecond)."""
        start = timezone.localtime(now) + dt.timedelta(microseconds=1)
        return next(CronSim(self.expression, start, reverse=True))

    def next_time(self, now: dt.datetime) -> dt.datetime:
        """The first due time after ``now``."""
        return next(CronSim(self.expression, timezone.localtime(now)))

    def due(self, now: dt.datetime, last_run: Optional[dt.datetime]) -> bool:
        return last_run is None or last_run < self.last_time(now)


_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_WEEKLY = re.compile(r"weekly(?:\s+([a-z]+))?(?:\s+(\d{1,2}):([0-5]\d))?")


def _as_cron(cleaned: str) -> Optional[str]:
    """The cron expression a "daily", "weekly ..." or cron text means (None:
    not one of those)."""
    if cleaned == "daily":
        return "0 0 * * *"
    weekly = _WEEKLY.fullmatch(cleaned)
    if weekly:
        day, hour, minute = weekly[1] or "sun", int(weekly[2] or 0), weekly[3] or "0"
        number = next((n for name, n in _DAYS.items() if day.startswith(name) and
                       day in (name, name + "day", {"tue": "tuesday", "wed": "wednesday", "thu": "thursday",
                                                    "sat": "saturday"}.get(name))), None)
        return None if number is None or hour > 23 else f"{int(minute)} {hour} * * {number}"
    if len(cleaned.split()) == 5:
        return cleaned
    return None


def parse_schedule(text: str, key: str = "snapshot"):
    """``text`` as a Schedule (or CronSchedule); ConfigError naming the
    setting when it is not one."""
    cleaned = " ".join(str(text).lower().split())
    for pattern, build in _FORMS:
        match = pattern.fullmatch(cleaned)
        if match:
            kind, period, offset = build(match)
            if not 0 < period <= _DAY or not 0 <= offset < min(period, _DAY) or (kind == "every" and _DAY % period):
                break
            return Schedule(cleaned, period, offset)
    expression = _as_cron(cleaned)
    if expression is not None:
        try:
            next(CronSim(expression, dt.datetime(2000, 1, 1)))
        except (CronSimError, StopIteration):
            pass
        else:
            return CronSchedule(cleaned, expression)
    raise ConfigError(f"ATTGIT_SCHEDULE[{key!r}] = {text!r} is not a schedule: use 'daily', 'daily HH:MM', "
                      "'weekly', 'weekly DAY HH:MM', 'hourly', 'hourly :MM', 'every N minutes|hours' "
                      "(N dividing a day) or a cron expression such as '0 2 * * 1-5'")


#: What a schedule can run: a snapshot (a commit), a backup file or a
#: database check; what a person calls each.
KINDS = ("snapshot", "backup", "verify")
NAMES = {"snapshot": "snapshots", "backup": "backup files", "verify": "database checks"}


def configured_schedule(kind: str = "snapshot"):
    """The ``kind`` entry of ATTGIT_SCHEDULE, or None when there is none."""
    entry = (getattr(settings, "ATTGIT_SCHEDULE", None) or {}).get(kind)
    return parse_schedule(entry, kind) if entry else None


def claim(kind: str, slot: dt.datetime, using: str = "default") -> Optional[ScheduleSlot]:
    """Claim a due time for one run: the row, or None when another run (in
    this process or any other, now or before a restart) has it."""
    try:
        with transaction.atomic(using=using):
            return ScheduleSlot.objects.using(using).create(kind=kind, slot=slot)
    except IntegrityError:
        return None


def finish(claimed: Optional[ScheduleSlot], result: Optional[dict]) -> None:
    """Record a claimed run's result; a failed run (None) gives its slot back."""
    if claimed is None:
        return
    if result is None:
        claimed.delete()
        return
    claimed.status, claimed.finished_at, claimed.result = ScheduleSlot.DONE, timezone.now(), result
    claimed.save(update_fields=["status", "finished_at", "result"])


def last_run(using: str = "default", kind: str = "snapshot") -> Optional[dt.datetime]:
    """When the last successful scheduled run of ``kind`` ran (its ``at``
    detail, the time it judged due-ness by; else when it was logged)."""
    if kind == "verify":
        return last_check(using)
    rows = BackupLog.objects.using(using).filter(operation=OPERATION, success=True)
    rows = rows.filter(details__kind=kind) if kind != "snapshot" else rows.exclude(details__kind="backup")
    return _last_at(rows)


def last_check(using: str = "default") -> Optional[dt.datetime]:
    """When the last scheduled database check ran through: finding a
    difference is its job, not a reason to run again, so a miss counts;
    a check that could not run (no ``at``) does not."""
    return _last_at(BackupLog.objects.using(using).filter(operation=VERIFY, details__scheduled=True,
                                                         details__has_key="at"))


def _last_at(rows) -> Optional[dt.datetime]:
    """The newest audit row's ``at`` detail (else when it was logged)."""
    row = rows.order_by("-created_at", "-id").values_list("created_at", "details").first()
    if row is None:
        return None
    created_at, details = row
    at = (details or {}).get("at")
    return dt.datetime.fromisoformat(at) if at else created_at


@dataclass
class ScheduledRun:
    """What a run did: ``status`` is committed, nothing, written (a backup
    file), ok (a database check that found nothing missed), repaired (one
    that did: committed as a repair), not-due, or failed."""

    status: str
    schedule: str
    commit: Optional[str] = None
    companies: int = 0
    records: int = 0
    next_time: Optional[dt.datetime] = None
    file: Optional[str] = None  # a scheduled backup file's name in the storage
    removed: list = field(default_factory=list)  # files the keep rule deleted
    error: str = ""
    parent: Optional[str] = None  # the commit the database already matched (nothing to commit)
    missed: str = ""  # a database check's differences the change log missed, per company

    def slot_result(self) -> dict:
        """What the schedule page shows of this run (its slot's ``result``)."""
        if self.status in ("ok", "repaired"):
            return {"status": self.status, "commit": self.commit, "missed": self.missed}
        return {"status": self.status, "commit": self.commit, "records": self.records, "file": self.file,
                "removed": self.removed}


def run_scheduled(who=None, *, force: bool = False, now: Optional[dt.datetime] = None,
                  wait: float = 60.0, kind: str = "snapshot") -> ScheduledRun:
    """Run the ``kind`` of ATTGIT_SCHEDULE (a snapshot, a backup file or a
    database check) if its due time is not claimed yet (or ``force``: now,
    claiming nothing).

    ``who`` acts as in :func:`django_adapter.repository.open_as` (None: the
    operator, or ``$ATTGIT_USER``).  The hook for a task queue's periodic job.
    """
    schedule = configured_schedule(kind)
    if schedule is None and not force:
        raise ConfigError(f"no scheduled {NAMES[kind]}: set ATTGIT_SCHEDULE = {{{kind!r}: 'daily 02:00'}} "
                          "(or run with --force)")
    now = now or timezone.now()
    text = schedule.text if schedule else "forced"
    upcoming = schedule.next_time(now) if schedule else None
    claimed = None
    if schedule is not None and not force:
        if not schedule.due(now, last_run(kind=kind)):
            return ScheduledRun("not-due", text, next_time=upcoming)
        claimed = claim(kind, schedule.last_time(now))
        if claimed is None:
            return ScheduledRun("not-due", text, next_time=upcoming)
    try:
        run = _run(kind, resolve_actor(who), text, now, wait)
    except BaseException:
        finish(claimed, None)
        raise
    run.next_time = upcoming
    finish(claimed, run.slot_result())
    return run


def run_due(who=None, now: Optional[dt.datetime] = None, wait: float = 60.0) -> list:
    """Every configured kind's run that is due now (what a scheduler calls
    each minute); a failure is logged and does not stop the other kinds."""
    runs = []
    for kind in KINDS:
        if configured_schedule(kind) is None:
            continue
        try:
            runs.append(run_scheduled(who, now=now, wait=wait, kind=kind))
        except AttgitError as exc:
            runs.append(ScheduledRun("failed", kind, error=str(exc)))
    return runs


def _run(kind: str, actor, text: str, now: dt.datetime, wait: float) -> ScheduledRun:
    """One run, logged (operation ``scheduled``) either way."""
    if kind == "verify":
        return _verify(actor, text, now, wait)
    try:
        run = _backup(actor, now) if kind == "backup" else _commit(actor, text, wait)
    except AttgitError as exc:
        log_operation(OPERATION, actor, success=False, error=str(exc), schedule=text, kind=kind)
        raise
    run.schedule = text
    log_operation(OPERATION, actor, commit=run.commit or run.parent or "", companies=run.companies, records=run.records,
                  schedule=text, status=run.status, at=now, kind=kind,
                  **({"filename": run.file, "removed": run.removed} if kind == "backup" else {}))
    return run


def _commit(actor, text: str, wait: float) -> ScheduledRun:
    opened = open_as(actor)
    db = connect()
    with exclusive(opened.repo, db, wait):
        result = snapshot_database(opened.repo, db, opened.author, message=f"Scheduled snapshot ({text})",
                                   kind=OPERATION)
    return ScheduledRun("committed" if result.commit else "nothing", text, result.commit or None,
                        result.companies, result.records, parent=result.parent or None)


def _backup(actor, now: dt.datetime) -> ScheduledRun:
    """A full backup file, kept in the backup storage; then the keep rule."""
    path = storage.backup_dir() / f"{SCHEDULED_PREFIX}{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}.json"
    summary = backups.create_backup(path, "full", None, actor.user, using="default")
    name = storage.store(path)
    return ScheduledRun("written", "", None, summary.companies, summary.records, file=name,
                        removed=apply_retention(now))


def _verify(actor, text: str, now: dt.datetime, wait: float) -> ScheduledRun:
    """The database check, logged as ``verify_database`` either way; a miss
    is a failed row (the history page shows it) naming the repair."""
    try:
        check = _check(open_as(actor), wait)
    except AttgitError as exc:
        log_operation(VERIFY, actor, success=False, error=str(exc), schedule=text, scheduled=True)
        raise
    error = f"change log missed: {check.describe()}; committed as repair {check.repaired}" if check.missed else ""
    log_operation(VERIFY, actor, success=check.ok, error=error, commit=check.repaired or "", schedule=text,
                  scheduled=True, at=now, status="ok" if check.ok else "repaired")
    return ScheduledRun("ok" if check.ok else "repaired", text, check.repaired, error=error, missed=check.describe())


def _check(opened, wait: float):
    from attgit.ops.verify import repair_database, verify_database

    db = connect()
    with exclusive(opened.repo, db, wait):
        check = verify_database(opened.repo, db)
        if not check.ok:
            repair_database(opened.repo, db, opened.author, check)
        return check


#: The names of scheduled backup files: the keep rule touches no other file.
SCHEDULED_PREFIX = "scheduled_full_"
_STAMP = re.compile(r"(\d{8}T\d{6}Z)")


def retention() -> dict:
    """ATTGIT_SCHEDULE["keep"]: {"last": N} and/or {"days": D} (both: a file
    stays if either keeps it); {} keeps everything."""
    keep = (getattr(settings, "ATTGIT_SCHEDULE", None) or {}).get("keep") or {}
    if not isinstance(keep, dict) or set(keep) - {"last", "days"} or any(
            type(v) is not int or v < 1 for v in keep.values()):
        raise ConfigError(f"ATTGIT_SCHEDULE['keep'] = {keep!r} is not a keep rule: use {{'last': N}}, "
                          "{'days': D} or both, with whole numbers of at least 1")
    return keep


def apply_retention(now: Optional[dt.datetime] = None) -> list:
    """Delete the scheduled backup files the keep rule no longer keeps;
    the names deleted, oldest first."""
    keep = retention()
    if not keep:
        return []
    now = now or timezone.now()
    files = storage.names(SCHEDULED_PREFIX)  # sorted: the UTC stamp sorts by time
    kept = set(files[-keep["last"]:]) if "last" in keep else set()
    if "days" in keep:
        cutoff = now - dt.timedelta(days=keep["days"])
        kept |= {n for n in files if (_made_at(n) or now) >= cutoff}
    removed = [n for n in files if n not in kept]
    for name in removed:
        storage.delete(name)
    return removed


def _made_at(name: str) -> Optional[dt.datetime]:
    match = _STAMP.search(name)
    if not match:
        return None
    return dt.datetime.strptime(match[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)


def overview(now: Optional[dt.datetime] = None) -> list:
    """What the schedule page shows: per configured kind, its text, next
    due time and the last runs (slots) with their results."""
    now = now or timezone.now()
    rows = []
    for kind in KINDS:
        schedule = configured_schedule(kind)
        if schedule is None:
            continue
        rows.append({"kind": kind, "schedule": schedule.text, "next": schedule.next_time(now),
                     "last_due": schedule.last_time(now),
                     "slots": list(ScheduleSlot.objects.filter(kind=kind)[:10])})
    return rows


def failures(limit: int = 5) -> list:
    """The latest failed scheduled runs' audit rows, a database check that
    found edits the change log missed among them."""
    from django.db.models import Q

    rows = BackupLog.objects.filter(Q(operation=OPERATION) | Q(operation=VERIFY, details__scheduled=True))
    return list(rows.filter(success=False)[:limit])
