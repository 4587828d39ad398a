"""Roles at the shell (issue 20.7): without --user a command acts for the
shell's login; a login that names a user of the site who is not an active
root is refused (exit 13) before anything happens; a login that names no
user acts as the operator.  ``attgit resolve`` logs each decision, and
export, push, clone, remote and resolve speak JSON."""

from __future__ import annotations

import io
import json

import orjson
import pytest
from dj_helpers import attgit
from django.core.management import CommandError, call_command

from attgit.errors import ExitCode
from attgit.format import records as rec
from attgit.format.backup import write_backup
from attgit.ops.mergestate import MergeState
from attgit.repo.repository import Repository
from django_adapter.models import AttendanceRecord, BackupLog, ChangeLog, Company, SyncState, User
from django_adapter.services import RestoreService

pytestmark = pytest.mark.django_db(transaction=True)

DENIED = "Only root users can perform backup/restore operations"


@pytest.fixture(autouse=True)
def site(settings, tmp_path, monkeypatch):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    monkeypatch.delenv("ATTGIT_USER", raising=False)
    login_as(monkeypatch, "ops")
    return tmp_path


def login_as(monkeypatch, name: str) -> None:
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(variable, name)


@pytest.fixture
def people():
    company = Company.objects.create(name="ABC Corp")
    AttendanceRecord.objects.create(ep_no="E1", company=company, date="2025-11-20", status="P")
    make = User.objects.create_user
    return {"boss": make("boss", role=User.ROOT), "acmeuser": make("acmeuser", role=User.COMPANY, company=company),
            "gone": make("gone", role=User.ROOT, is_active=False)}


def test_a_login_naming_a_root_user_acts_as_that_user(people, site, monkeypatch):
    login_as(monkeypatch, "boss")
    made = json.loads(attgit("export", str(site / "b.json"), "--json"))
    assert (made["records"], made["companies"], made["metadata"]["created_by"]) == (1, 1, "boss")
    assert orjson.loads((site / "b.json").read_bytes())["metadata"]["created_by"] == "boss"
    log = BackupLog.objects.get(operation="backup_full")
    assert (log.user, log.actor, log.success) == (people["boss"], "boss", True)


@pytest.mark.parametrize("login, why", [("acmeuser", "not a root user"), ("gone", "not active")])
def test_a_login_naming_a_user_who_is_not_an_active_root_is_refused(people, site, monkeypatch, login, why):
    login_as(monkeypatch, login)
    out = attgit("export", str(site / "b.json"), code=ExitCode.PERMISSION_DENIED)
    assert DENIED in out and f"your login {login!r}" in out and why in out and "--user" in out
    assert not (site / "b.json").exists()
    refusal = BackupLog.objects.get()
    assert (refusal.success, refusal.actor, refusal.user, refusal.details.get("refused")) == (
        False, login, None, True)
    attgit("status", code=ExitCode.PERMISSION_DENIED)
    with pytest.raises(CommandError) as info:
        call_command("backup_data", "--output", str(site / "c.json"), stdout=io.StringIO())
    assert info.value.returncode == ExitCode.PERMISSION_DENIED and DENIED in str(info.value)
    assert not (site / "c.json").exists() and not (site / "repo.git").exists()


def test_a_named_root_user_acts_whatever_the_login(people, site, monkeypatch):
    login_as(monkeypatch, "acmeuser")
    attgit("--user", "boss", "export", str(site / "b.json"))
    assert BackupLog.objects.get(operation="backup_full").user == people["boss"]


def test_a_login_naming_no_user_acts_as_the_operator(people, site):
    made = json.loads(attgit("export", str(site / "b.json"), "--json"))
    assert made["metadata"]["created_by"] == "ops"
    log = BackupLog.objects.get(operation="backup_full")
    assert (log.user, log.actor) == (None, "ops")


def test_help_is_shown_to_anybody(people, monkeypatch):
    login_as(monkeypatch, "acmeuser")
    assert "Write the database as a JSON backup file" in attgit("export", "--help")


# --- resolve: each decision in BackupLog, and --json ---------------------------------------------

def _waiting_conflicts(site) -> list:
    """Two records restored under the manual strategy over different data:
    two conflicts wait."""
    a = Company.objects.create(name="A")
    for ep_no in ("E1", "E2"):
        AttendanceRecord.objects.create(ep_no=ep_no, company=a, date="2025-01-02", status="P")
    theirs = [rec.normalise({"ep_no": e, "company": "A", "date": "2025-01-02", "status": "A"}) for e in ("E1", "E2")]
    with open(site / "theirs.json", "wb") as out:
        write_backup(out, ["A"], theirs, backup_type="full", created_by="test")
    assert RestoreService().restore_backup(site / "theirs.json", merge_strategy="manual")["pending"] == 2
    return [c.id for c in MergeState.load(Repository.open(site / "repo.git")).pending()]


def test_resolve_logs_each_decision_and_speaks_json(site):
    first, second = _waiting_conflicts(site)
    one = json.loads(attgit("resolve", first, "--theirs", "--json"))
    assert (one["resolved"], one["choice"], one["left"], one["concluded"]) == ([first], "theirs", 1, False)
    log = BackupLog.objects.get(operation="resolve")
    assert (log.actor, log.success, log.details["conflict"], log.details["choice"], log.details["left"]) == (
        "ops", True, first, "theirs", 1)

    rest = json.loads(attgit("resolve", "--all-ours", "--json"))
    assert (rest["resolved"], rest["left"], rest["concluded"]) == ([second], 0, True)
    bulk = BackupLog.objects.filter(operation="resolve").order_by("-pk").first()
    assert (bulk.details["choice"], bulk.details["resolved"], bulk.details["left"]) == ("ours", 1, 0)
    assert BackupLog.objects.get(operation="merge").commit == rest["commit"]
    statuses = dict(AttendanceRecord.objects.values_list("ep_no", "status"))
    assert statuses == {"E1": "A", "E2": "P"}


def test_resolve_by_field_logs_the_fields_chosen(site):
    first, _ = _waiting_conflicts(site)
    attgit("resolve", first, "--field", "status=HD")
    assert BackupLog.objects.get(operation="resolve").details["choice"] == {"status": "HD"}


# --- --json on remote, push and clone ------------------------------------------------------------

def test_remote_push_and_clone_speak_json(people, site, tmp_path_factory):
    hub = tmp_path_factory.mktemp("hub") / "hub.git"
    Repository.init(hub)
    attgit("init")
    attgit("commit", "-m", "first")
    added = json.loads(attgit("remote", "add", "hub", str(hub), "--json"))
    assert added == {"action": "add", "name": "hub", "url": str(hub)}
    assert json.loads(attgit("remote", "--json")) == [{"name": "hub", "url": str(hub)}]
    pushed = json.loads(attgit("push", "--json"))
    head = Repository.open(site / "repo.git").info("HEAD").id
    assert (pushed["name"], pushed["pushed"], pushed["previous"], pushed["up_to_date"]) == ("hub", head, None, False)
    assert json.loads(attgit("push", "--json"))["up_to_date"] is True
    assert json.loads(attgit("remote", "remove", "hub", "--json")) == {"action": "remove", "name": "hub"}

    for model in (AttendanceRecord, Company, SyncState, ChangeLog):  # a new environment's empty database
        model.objects.all().delete()
    out = attgit("--repo", str(site / "clone.git"), "clone", str(hub), "--json")
    cloned = json.loads(out[out.index("{"):])  # after the note on stderr (CliRunner shows both)
    assert (cloned["commit"], cloned["records"], cloned["remote"], cloned["url"]) == (head, 1, "origin", str(hub))
    assert AttendanceRecord.objects.count() == 1
