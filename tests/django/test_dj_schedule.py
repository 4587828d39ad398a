"""Scheduled snapshots (issue 12.8): the ATTGIT_SCHEDULE setting, due
times, and `manage.py attgit_scheduled` as cron runs it, each run logged."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from attgit.errors import ConfigError, ExitCode
from attgit.repo.repository import Repository
from django_adapter.models import AttendanceRecord, BackupLog, Company
from django_adapter.schedule import parse_schedule, run_scheduled

UTC = dt.timezone.utc


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the setting ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,period,offset", [
    ("daily 02:00", 1440, 120), ("Daily  23:59", 1440, 1439), ("hourly", 60, 0), ("hourly :15", 60, 15),
    ("every 15 minutes", 15, 0), ("every 1 minute", 1, 0), ("every 6 hours", 360, 0),
])
def test_schedules_parse(text, period, offset):
    schedule = parse_schedule(text)
    assert (schedule.period, schedule.offset) == (period, offset)


@pytest.mark.parametrize("text", ["daily 24:00", "daily 02:60", "hourly :60", "every 7 minutes",
                                  "every 0 minutes", "every 25 hours", "weekly funday", "weekly mon 25:00",
                                  "weekly mon 02:61", "61 * * * *", "0 2 * * 8", "* * * *", "nightly", ""])
def test_a_bad_schedule_names_the_setting(text):
    with pytest.raises(ConfigError, match=r"ATTGIT_SCHEDULE\['snapshot'\]"):
        parse_schedule(text)


@pytest.mark.parametrize("text,now,last,next_", [
    ("daily 02:00", "2025-11-20T01:00", "2025-11-19T02:00", "2025-11-20T02:00"),
    ("daily 02:00", "2025-11-20T02:00", "2025-11-20T02:00", "2025-11-21T02:00"),
    ("daily 02:00", "2025-11-20T13:37", "2025-11-20T02:00", "2025-11-21T02:00"),
    ("hourly :15", "2025-11-20T00:10", "2025-11-19T23:15", "2025-11-20T00:15"),
    ("every 15 minutes", "2025-11-20T10:29", "2025-11-20T10:15", "2025-11-20T10:30"),
    ("every 6 hours", "2025-11-20T23:59", "2025-11-20T18:00", "2025-11-21T00:00"),
])
def test_last_and_next_due_times(settings, text, now, last, next_):
    settings.TIME_ZONE = "UTC"
    schedule = parse_schedule(text)
    assert schedule.last_time(at(now)) == at(last)
    assert schedule.next_time(at(now)) == at(next_)


@given(st.sampled_from(["daily 02:00", "hourly", "hourly :45", "every 5 minutes", "every 3 hours"]),
       st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 1, 1)))
def test_due_times_bracket_now_in_the_site_time_zone(text, naive):
    """In a time zone with daylight saving time, the last due time is at or
    before now and the next one after it, within one period."""
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    from django.utils import timezone

    with timezone.override(zone):
        now = naive.replace(tzinfo=UTC)
        schedule = parse_schedule(text)
        last, upcoming = schedule.last_time(now), schedule.next_time(now)
        assert last <= now < upcoming
        assert schedule.due(now, None) and schedule.due(now, last - dt.timedelta(seconds=1))
        assert not schedule.due(now, last)


# --- the command ------------------------------------------------------------------------------

transactional = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(settings, tmp_path, monkeypatch):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    settings.ATTGIT_SCHEDULE = {"snapshot": "daily 02:00"}
    settings.TIME_ZONE = "UTC"
    monkeypatch.delenv("ATTGIT_USER", raising=False)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "cron")
    company = Company.objects.create(name="ABC Corp")
    AttendanceRecord.objects.create(ep_no="E1", company=company, date="2025-11-20", status="P")
    return tmp_path / "repo.git"


def scheduled(*args) -> str:
    out = io.StringIO()
    call_command("attgit_scheduled", *args, stdout=out)
    return out.getvalue()


@transactional
def test_cron_runs_commit_once_per_due_time_and_each_run_is_logged(site):
    out = scheduled()
    assert out.startswith("scheduled snapshot ") and "1 company, 1 record; next due" in out, out
    repo = Repository.open(site)
    info = repo.info("HEAD")
    assert (info.type, info.author) == ("scheduled", "cron")
    assert info.summary == "Scheduled snapshot (daily 02:00)"
    assert scheduled().startswith("not due (daily 02:00); next due ")
    [log] = BackupLog.objects.all()
    assert (log.operation, log.success, log.commit, log.actor, log.records_count, log.companies_count) == (
        "scheduled", True, info.id, "cron", 1, 1)
    assert log.details["schedule"] == "daily 02:00" and log.details["status"] == "committed"

    record = AttendanceRecord.objects.get()
    record.status = "A"
    record.save()
    assert "not due" in scheduled()
    tomorrow = log.created_at + dt.timedelta(days=1)
    run = run_scheduled(now=tomorrow)
    assert run.status == "committed" and repo.info("HEAD").parents == [info.id]
    assert run_scheduled(now=tomorrow).status == "not-due"
    assert run_scheduled(now=tomorrow, force=True).status == "nothing"
    assert [r.details["status"] for r in BackupLog.objects.order_by("id")] == ["committed", "committed", "nothing"]


@transactional
def test_no_schedule_is_a_config_error_unless_forced(site, settings):
    settings.ATTGIT_SCHEDULE = {}
    with pytest.raises(CommandError, match="no scheduled snapshots") as info:
        scheduled()
    assert info.value.returncode == ExitCode.CONFIG
    assert not BackupLog.objects.exists()
    assert "scheduled snapshot" in scheduled("--force")
    settings.ATTGIT_SCHEDULE = {"snapshot": "nightly"}
    with pytest.raises(CommandError, match="'nightly' is not a schedule"):
        scheduled()


@transactional
def test_a_scheduled_run_as_a_user_must_be_root(site):
    from django_adapter.models import User

    User.objects.create_user("clerk", role=User.COMPANY)
    with pytest.raises(CommandError) as info:
        scheduled("--user", "clerk")
    assert info.value.returncode == ExitCode.PERMISSION_DENIED
    assert not site.exists()
    boss = User.objects.create_user("boss", role=User.ROOT)
    scheduled("--user", "boss")
    assert BackupLog.objects.get(success=True).user == boss


@transactional
def test_a_failed_run_is_logged_and_retried_next_time(site, settings):
    settings.ATTGIT_REPO = str(site.parent / "file")
    (site.parent / "file").write_text("not a repository")
    with pytest.raises(CommandError):
        scheduled()
    [failed] = BackupLog.objects.all()
    assert (failed.operation, failed.success) == ("scheduled", False) and failed.error_message
    settings.ATTGIT_REPO = str(site)
    assert scheduled().startswith("scheduled snapshot ")


# --- the scheduled database check (issue 18.1) ------------------------------------------------

@transactional
def test_the_scheduled_database_check_finds_and_repairs_what_the_log_missed(site, settings):
    from django.db import connection

    settings.ATTGIT_SCHEDULE = {"snapshot": "daily 02:00", "verify": "daily 03:00"}
    out = scheduled()
    assert "scheduled snapshot " in out and "database check: ok, the change log missed nothing" in out, out
    assert "database check not due (daily 03:00)" in scheduled()
    with connection.cursor() as cursor:  # rows deleted with the log's entries: unseen by the log
        cursor.execute("DELETE FROM attendance_attendancerecord")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM attendance_changelog")  # the guard logs "everything" for this
    from django_adapter.workingcopy import DjangoWorkingCopy

    assert DjangoWorkingCopy().changes().everything
    with connection.cursor() as cursor:  # and someone removes that too, marking it as attgit does
        cursor.execute("INSERT INTO attendance_syncstate (name, \"commit\", watermark, updated_at, capture) "
                       "VALUES ('attgit.consuming', NULL, 0, CURRENT_TIMESTAMP, '')")
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('attgit.consuming', 'on', false)")
        cursor.execute("DELETE FROM attendance_changelog")
        cursor.execute("DELETE FROM attendance_syncstate WHERE name = 'attgit.consuming'")
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('attgit.consuming', 'off', false)")
    head = Repository.open(site).head()
    tomorrow = BackupLog.objects.latest("id").created_at + dt.timedelta(days=1, hours=2)
    check = run_scheduled(kind="verify", now=tomorrow)
    assert check.status == "repaired" and "ABC Corp: 0 added, 0 changed, 1 deleted" in check.missed
    repo = Repository.open(site)
    assert repo.info("HEAD").type == "repair" and repo.info("HEAD").parents == [str(head)]
    log = BackupLog.objects.filter(operation="verify_database").latest("id")
    assert not log.success and log.commit == str(repo.head()) and "change log missed" in log.error_message
    assert run_scheduled(kind="verify", now=tomorrow).status == "not-due"
    assert run_scheduled(kind="verify", now=tomorrow, force=True).status == "ok"


@transactional
def test_cron_runs_the_database_check_alone_with_kind_verify(site, settings):
    with pytest.raises(CommandError, match=r"no scheduled database checks: set ATTGIT_SCHEDULE = \{'verify'"):
        scheduled("--kind", "verify")
    settings.ATTGIT_SCHEDULE = {"verify": "daily 03:00"}
    assert scheduled("--kind", "verify").startswith("database check: ok, the change log missed nothing")
    assert "database check not due (daily 03:00)" in scheduled("--kind", "verify")
    [log] = BackupLog.objects.all()
    assert (log.operation, log.success, log.details["scheduled"]) == ("verify_database", True, True)
