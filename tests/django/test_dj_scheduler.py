"""Schedules without cron (issue 20.4): weekly and cron expressions, a due
time claimed once in the database (across schedulers and restarts), the
long-running ``attgit_scheduler``, scheduled backup files and their keep
rule, the scheduled database check (issue 18.1), and the root pages that
show it all."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
import zoneinfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from helpers import unlogged_edit  # tests/helpers.py (tests/ is on the path: see conftest.py)
from hypothesis import given
from hypothesis import strategies as st

from attgit.errors import AttgitError, ConfigError
from attgit.format.backup import read_backup
from django_adapter import schedule, storage
from django_adapter.models import AttendanceRecord, BackupLog, Company, ScheduleSlot, User
from django_adapter.schedule import apply_retention, parse_schedule, run_due, run_scheduled

UTC = dt.timezone.utc
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the forms --------------------------------------------------------------------------------

@pytest.mark.parametrize("text,now,last,next_", [
    ("weekly", "2025-11-20T10:00", "2025-11-16T00:00", "2025-11-23T00:00"),  # Thursday; Sundays
    ("weekly mon 03:30", "2025-11-20T10:00", "2025-11-17T03:30", "2025-11-24T03:30"),
    ("Weekly  Sunday 02:00", "2025-11-16T02:00", "2025-11-16T02:00", "2025-11-23T02:00"),
    ("daily", "2025-11-20T10:00", "2025-11-20T00:00", "2025-11-21T00:00"),
    ("0 2 * * 1-5", "2025-11-22T12:00", "2025-11-21T02:00", "2025-11-24T02:00"),  # Saturday
    ("*/20 9-17 * * *", "2025-11-20T09:41", "2025-11-20T09:40", "2025-11-20T10:00"),
])
def test_weekly_daily_and_cron_expressions(settings, text, now, last, next_):
    settings.TIME_ZONE = "UTC"
    parsed = parse_schedule(text)
    assert parsed.last_time(at(now)) == at(last)
    assert parsed.next_time(at(now)) == at(next_)


def test_a_bad_backup_schedule_names_its_key():
    with pytest.raises(ConfigError, match=r"ATTGIT_SCHEDULE\['backup'\] = 'weekly funday'.*cron expression"):
        parse_schedule("weekly funday", "backup")


@given(st.sampled_from(["weekly", "weekly fri 23:30", "daily", "30 2 * * *", "0 */6 * * 1-5", "15 1 1 * *"]),
       st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 1, 1)))
def test_cron_due_times_bracket_now_across_daylight_saving(text, naive):
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        now = naive.replace(tzinfo=UTC)
        parsed = parse_schedule(text)
        last, upcoming = parsed.last_time(now), parsed.next_time(now)
        assert last <= now < upcoming
        assert not parsed.due(now, last) and parsed.due(now, last - dt.timedelta(seconds=1))


# --- one run per due time ---------------------------------------------------------------------

transactional = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(settings, tmp_path, monkeypatch):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    settings.ATTGIT_BACKUP_DIR = str(tmp_path / "backups")
    settings.ATTGIT_SCHEDULE = {"snapshot": "weekly mon 02:00", "backup": "daily 03:00", "keep": {"last": 2}}
    settings.TIME_ZONE = "UTC"
    monkeypatch.delenv("ATTGIT_USER", raising=False)
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "scheduler")
    company = Company.objects.create(name="ABC Corp")
    AttendanceRecord.objects.create(ep_no="E1", company=company, date="2025-11-20", status="P")
    return tmp_path


@transactional
def test_a_slot_is_claimed_once(site):
    slot = at("2025-11-17T02:00")
    first = schedule.claim("snapshot", slot)
    assert first is not None and schedule.claim("snapshot", slot) is None
    assert schedule.claim("backup", slot) is not None  # another kind, its own slot
    schedule.finish(first, None)  # a failure gives the slot back
    assert schedule.claim("snapshot", slot) is not None


@transactional
def test_each_due_time_runs_once_and_the_result_is_kept(site):
    monday = at("2025-11-17T02:30")
    runs = {r.schedule: r for r in run_due(now=monday)}
    assert runs["weekly mon 02:00"].status == "committed" and runs["daily 03:00"].status == "written"
    assert [r.status for r in run_due(now=monday + dt.timedelta(hours=1))] == ["not-due", "written"]
    assert [r.status for r in run_due(now=monday + dt.timedelta(hours=1, minutes=5))] == ["not-due", "not-due"]
    slots = {(s.kind, s.slot): s for s in ScheduleSlot.objects.all()}
    assert set(slots) == {("snapshot", at("2025-11-17T02:00")), ("backup", at("2025-11-16T03:00")),
                          ("backup", at("2025-11-17T03:00"))}
    assert slots[("snapshot", at("2025-11-17T02:00"))].result["status"] == "committed"
    assert all(s.status == ScheduleSlot.DONE and s.finished_at for s in slots.values())
    logged = BackupLog.objects.filter(operation="scheduled").count()
    assert logged == 3


@transactional
def test_a_restarted_scheduler_does_not_run_a_slot_again(site):
    """The slot row outlives the process: a second command (a restart, or
    another machine) finds the due time taken."""
    for _ in range(2):
        call_command("attgit_scheduler", "--once", stdout=io.StringIO())
    assert ScheduleSlot.objects.filter(kind="snapshot").count() == 1
    assert ScheduleSlot.objects.filter(kind="backup").count() == 1
    assert len(storage.names("scheduled_full_")) == 1


@transactional
def test_scheduled_backup_files_are_kept_by_the_rule(site, settings):
    days = [at(f"2025-11-{d}T03:10") for d in (17, 18, 19, 20)]
    written = [run_scheduled(now=d, kind="backup") for d in days]
    assert [r.status for r in written] == ["written"] * 4
    assert written[2].removed == [written[0].file] and written[3].removed == [written[1].file]
    assert storage.names("scheduled_full_") == [written[2].file, written[3].file]
    with read_backup(storage.backup_dir() / written[3].file) as backup:
        assert backup.total_records == 1
    other = storage.backup_dir() / "backup_full_20250101T000000Z.json"
    other.write_bytes(b"{}")
    settings.ATTGIT_SCHEDULE = {**settings.ATTGIT_SCHEDULE, "keep": {"days": 1}}
    assert apply_retention(at("2025-11-21T03:00")) == [written[2].file]
    assert other.exists(), "the keep rule touches only scheduled files"
    settings.ATTGIT_SCHEDULE = {**settings.ATTGIT_SCHEDULE, "keep": {"last": 0}}
    with pytest.raises(ConfigError, match="keep"):
        apply_retention()


@transactional
def test_a_failed_run_gives_its_slot_back(site, settings):
    settings.ATTGIT_REPO = str(site / "file")
    (site / "file").write_text("not a repository")
    with pytest.raises(AttgitError):
        run_scheduled(now=at("2025-11-17T02:30"))
    assert not ScheduleSlot.objects.filter(kind="snapshot").exists()
    settings.ATTGIT_REPO = str(site / "repo.git")
    assert run_scheduled(now=at("2025-11-17T02:30")).status == "committed"


@transactional
def test_the_scheduler_refuses_nothing_to_schedule(site, settings):
    settings.ATTGIT_SCHEDULE = {}
    with pytest.raises(CommandError, match="nothing to schedule"):
        call_command("attgit_scheduler", "--once", stdout=io.StringIO())


# --- two real scheduler processes at once -----------------------------------------------------

@pytest.fixture
def worker(site, settings, transactional_db):
    """The environment of a process of the site on the test database and
    folders (named ``worker`` so that the session keeps SQLite's test
    database in a file another process can open: tests/conftest.py)."""
    from django.db import connection
    from integration.envs import site_environ
    from jobworker import database_url

    return site_environ(ATTGIT_VAR_DIR=str(site / "var"), ATTGIT_REPO=settings.ATTGIT_REPO,
                        ATTGIT_BACKUP_DIR=settings.ATTGIT_BACKUP_DIR, DJANGO_DEBUG="0",
                        ATTGIT_SNAPSHOT_SCHEDULE="hourly", ATTGIT_BACKUP_SCHEDULE="hourly",
                        ATTGIT_VERIFY_SCHEDULE="hourly",
                        LOGNAME="scheduler", USER="scheduler", **database_url(connection.settings_dict))


@transactional
def test_two_scheduler_processes_run_a_due_time_once(site, worker):
    """Two long-running schedulers on one database, started together,
    then stopped with SIGTERM: one snapshot, one backup file, one database
    check.  The repository is there already (as on a running site): this
    is about the claims, not about two first uses making it at once."""
    from django_adapter.repository import open_repository

    open_repository()
    processes = [subprocess.Popen([sys.executable, "manage.py", "attgit_scheduler", "--interval", "0.2"],
                                  cwd=EXAMPLES, env=worker, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ScheduleSlot.objects.filter(status="done").count() < 3:
            time.sleep(0.2)
        time.sleep(1)  # both have looked again, several times
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
    outputs = [p.communicate(timeout=30)[0].decode() for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert ScheduleSlot.objects.filter(kind="snapshot").count() == 1, outputs
    assert ScheduleSlot.objects.filter(kind="backup").count() == 1, outputs
    assert ScheduleSlot.objects.get(kind="verify").result["status"] == "ok", outputs
    assert BackupLog.objects.filter(operation="scheduled", success=True).count() == 2, outputs
    assert BackupLog.objects.filter(operation="verify_database", details__scheduled=True).count() == 1, outputs
    assert len(storage.names("scheduled_full_")) == 1


# --- the scheduled database check (issue 18.1) ------------------------------------------------

@transactional
def test_the_scheduler_runs_a_database_check_alone_once_per_due_time(site, settings):
    """'verify' is a schedule of its own: the scheduler starts with it
    alone, and a restarted scheduler finds its due time taken."""
    settings.ATTGIT_SCHEDULE = {"verify": "hourly :05"}
    for _ in range(2):
        out = io.StringIO()
        call_command("attgit_scheduler", "--once", stdout=out)
    [slot] = ScheduleSlot.objects.all()
    assert (slot.kind, slot.status, slot.result["status"]) == ("verify", ScheduleSlot.DONE, "ok")
    [log] = BackupLog.objects.all()
    assert (log.operation, log.success, log.details["scheduled"], log.details["schedule"]) == (
        "verify_database", True, True, "hourly :05")


@transactional
def test_a_database_check_claimed_by_another_scheduler_is_not_run_again(site, settings):
    settings.ATTGIT_SCHEDULE = {"verify": "daily 03:00"}
    now = at("2025-11-17T03:30")
    assert schedule.claim("verify", at("2025-11-17T03:00")) is not None  # another worker, still running
    assert [r.status for r in run_due(now=now)] == ["not-due"]
    assert not BackupLog.objects.exists()


@transactional
def test_a_failed_database_check_gives_its_slot_back(site, settings):
    settings.ATTGIT_SCHEDULE = {"verify": "daily 03:00"}
    settings.ATTGIT_REPO = str(site / "file")
    (site / "file").write_text("not a repository")
    now = at("2025-11-17T03:30")
    [failed] = run_due(now=now)
    assert failed.status == "failed" and not ScheduleSlot.objects.exists()
    assert not BackupLog.objects.get().success
    settings.ATTGIT_REPO = str(site / "repo.git")
    assert [r.status for r in run_due(now=now)] == ["ok"]
    assert ScheduleSlot.objects.get().result["status"] == "ok"


@pytest.fixture
def missed(site, settings):
    """A snapshot, an edit the change log cannot see, then one look of
    the scheduler: its database check finds the edit and commits it."""
    settings.ATTGIT_SCHEDULE = {"snapshot": "weekly mon 02:00", "verify": "daily 03:00"}
    assert [r.status for r in run_due(now=at("2025-11-17T02:30"))] == ["committed", "ok"]
    unlogged_edit(AttendanceRecord.objects.get().id)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("attgit_scheduler", "--once", stdout=out, stderr=err)
    return info.value, out.getvalue(), err.getvalue()


@transactional
def test_a_scheduled_check_that_finds_missed_edits_is_loud_and_repairs_them(missed):
    from attgit.errors import ExitCode
    from attgit.repo.repository import Repository
    from django_adapter.repository import open_repository

    error, out, err = missed
    assert error.returncode == ExitCode.INTEGRITY, (out, err)
    said = "change log missed: ABC Corp: 0 added, 1 changed, 0 deleted; committed as repair"
    assert said in str(error) and said in err, (out, err)
    repo: Repository = open_repository()
    assert repo.info("HEAD").type == "repair"
    slot = ScheduleSlot.objects.filter(kind="verify").first()
    assert slot.result == {"status": "repaired", "commit": str(repo.head()),
                           "missed": "ABC Corp: 0 added, 1 changed, 0 deleted"}
    log = BackupLog.objects.filter(operation="verify_database").latest("id")
    assert not log.success and log.commit == str(repo.head()) and said in log.error_message


@transactional
def test_a_check_that_found_missed_edits_shows_as_failed_on_the_history_and_schedule_pages(missed, client):
    log = BackupLog.objects.filter(operation="verify_database", success=False).get()
    client.force_login(User.objects.create_user("boss", role=User.ROOT))
    history = client.get("/history/")
    assert history.status_code == 200
    row = history.content.decode().split(f'id="audit-{log.pk}"')[1].split("</tr>")[0]
    assert "Database check" in row and "failed" in row and "change log missed: ABC Corp" in row, row
    assert f"<code>{log.commit[:10]}</code>" in row
    page = client.get("/schedule/")
    html = page.content.decode()
    assert [s["kind"] for s in page.context["schedules"]] == ["snapshot", "verify"]
    assert "Database check" in html and "daily 03:00" in html
    assert '<span class="tag tag-delete">repaired</span>' in html
    assert "the change log missed ABC Corp: 0 added, 1 changed, 0 deleted" in html
    assert log in page.context["failures"]


# --- the page ---------------------------------------------------------------------------------

@transactional
def test_the_schedule_page_lists_schedules_next_runs_and_results(site, client):
    run_due(now=at("2025-11-17T03:30"))
    User.objects.create_user("clerk", role=User.COMPANY)
    client.force_login(User.objects.get(username="clerk"))
    assert client.get("/schedule/").status_code == 403
    client.force_login(User.objects.create_user("boss", role=User.ROOT))
    response = client.get("/schedule/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "weekly mon 02:00" in html and "daily 03:00" in html and "keep the last 2" in html
    assert [row["kind"] for row in response.context["schedules"]] == ["snapshot", "backup"]
    assert response.context["schedules"][0]["next"] > timezone.now()
    assert "committed" in html and "scheduled_full_20251117T033000Z.json" in html


