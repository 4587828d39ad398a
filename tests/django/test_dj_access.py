"""Who may do what (issue 12.4 and the root hook of 12.5): the commands act
as a named root user or as the operator at the shell, refuse anybody else
with exit code 13, and log every operation with who did it."""

from __future__ import annotations

import io

import orjson
import pytest
from dj_helpers import manage_attgit as attgit
from django.contrib.auth.models import AnonymousUser, Permission
from django.core.management import CommandError, call_command

from attgit.errors import ConfigError, ExitCode, PermissionDenied
from attgit.repo.repository import Repository
from django_adapter.access import acting, is_root
from django_adapter.models import AttendanceRecord, BackupLog, Company, User

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def site(settings, tmp_path, monkeypatch):
    """A repository of its own, the operator logged in as ``ops``, no ATTGIT_USER."""
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    settings.ATTGIT_BACKUP_DIR = str(tmp_path / "backups")
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "ops")
    monkeypatch.delenv("ATTGIT_USER", raising=False)
    return tmp_path


@pytest.fixture
def people():
    company = Company.objects.create(name="ABC Corp")
    AttendanceRecord.objects.create(ep_no="E1", company=company, date="2025-11-20", status="P")
    make = User.objects.create_user
    return {
        "boss": make("boss", role=User.ROOT, email="boss@example.com"),
        "admin": make("admin", is_superuser=True),
        "clerk": make("clerk", role=User.COMPANY, company=company),
        "gone": make("gone", role=User.ROOT, is_active=False),
        "auditor": _with_root_permission(make("auditor", role=User.COMPANY)),
    }


def _with_root_permission(user):
    user.user_permissions.add(Permission.objects.get(codename="backup_restore", content_type__app_label="attendance"))
    return User.objects.get(pk=user.pk)  # a fresh object: no cached permissions


def refused(command, *args) -> CommandError:
    with pytest.raises(CommandError) as info:
        call_command(command, *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.returncode == ExitCode.PERMISSION_DENIED == 13, info.value
    assert "Only root users can perform backup/restore operations" in str(info.value)
    return info.value


# --- the hook ----------------------------------------------------------------------------------

def test_root_is_a_superuser_a_root_role_or_the_permission(people):
    assert [name for name, user in people.items() if is_root(user)] == ["boss", "admin", "auditor"]
    assert not is_root(AnonymousUser()) and not is_root(None)


def test_the_hook_is_a_setting_naming_a_callable(people, settings):
    settings.ATTGIT_IS_ROOT = "operator.not_"  # nobody is root
    assert not any(is_root(user) for user in people.values())
    settings.ATTGIT_IS_ROOT = "django_adapter.access.default_is_root"
    assert is_root(people["boss"]) and not is_root(people["clerk"])
    settings.ATTGIT_IS_ROOT = "operator.truth"
    assert is_root(people["clerk"]) and not is_root(people["gone"])  # inactive users never are
    settings.ATTGIT_IS_ROOT = "no.such.hook"
    with pytest.raises(ConfigError, match="ATTGIT_IS_ROOT setting names 'no.such.hook'"):
        is_root(people["boss"])


# --- backup_data / restore_data --------------------------------------------------------------------

@pytest.mark.parametrize("name,why", [("clerk", "is not a root user"), ("nosuchuser", "there is no user"),
                                      ("gone", "is not active")])
def test_backup_data_refuses_a_user_who_is_not_an_active_root(people, site, name, why):
    error = refused("backup_data", "--output", str(site / "b.json"), "--user", name)
    assert why in str(error) and repr(name) in str(error)
    assert not (site / "b.json").exists()
    [log] = BackupLog.objects.all()
    assert (log.operation, log.success, log.actor, log.user) == ("backup_full", False, name, None)
    assert log.details["refused"] is True


def test_attgit_user_in_the_environment_is_checked_too(people, site, monkeypatch):
    monkeypatch.setenv("ATTGIT_USER", "clerk")
    refused("backup_data", "--output", str(site / "b.json"))
    refused("restore_data", "--input", str(site / "b.json"))
    monkeypatch.setenv("ATTGIT_USER", "auditor")  # root by the permission
    call_command("backup_data", "--output", str(site / "b.json"), stdout=io.StringIO())
    assert BackupLog.objects.filter(success=True).get().user == people["auditor"]


def test_restore_data_refuses_an_unknown_user_and_changes_nothing(people, site):
    call_command("backup_data", "--output", str(site / "b.json"), "--user", "boss", stdout=io.StringIO())
    AttendanceRecord.objects.update(status="A")
    refused("restore_data", "--input", str(site / "b.json"), "--user", "nosuchuser")
    assert list(AttendanceRecord.objects.values_list("status", flat=True)) == ["A"]
    assert not (site / "repo.git").exists()
    log = BackupLog.objects.get(operation="restore")
    assert (log.success, log.actor, log.user) == (False, "nosuchuser", None)


def test_a_root_user_restores_and_the_log_names_them_with_counts(people, site):
    call_command("backup_data", "--output", str(site / "b.json"), "--user", "admin", stdout=io.StringIO())
    AttendanceRecord.objects.update(status="A")
    call_command("restore_data", "--input", str(site / "b.json"), "--user", "boss", stdout=io.StringIO())
    assert list(AttendanceRecord.objects.values_list("status", flat=True)) == ["P"]
    log = BackupLog.objects.get(operation="restore")
    assert (log.user, log.actor, log.companies_count, log.records_count, log.records_updated) == (
        people["boss"], "boss", 1, 1, 1)
    info = Repository.open(site / "repo.git").info("HEAD")
    assert (info.author, info.email) == ("boss", "boss@example.com")


def test_no_user_acts_for_the_operator_even_with_no_accounts(site):
    """A fresh environment with no users can still back up (and clone)."""
    Company.objects.create(name="Solo")
    call_command("backup_data", "--output", str(site / "b.json"), stdout=io.StringIO())
    log = BackupLog.objects.get()
    assert (log.success, log.actor, log.user, log.companies_count) == (True, "ops", None, 1)
    assert orjson.loads((site / "b.json").read_bytes())["metadata"]["created_by"] == "ops"


def test_the_operator_is_linked_to_a_root_account_of_the_same_name(site):
    ops = User.objects.create_user("ops", role=User.ROOT)
    assert acting().user == ops
    call_command("backup_data", "--output", str(site / "b.json"), stdout=io.StringIO())
    assert BackupLog.objects.get().user == ops
    ops.role = User.COMPANY
    ops.save()
    with pytest.raises(PermissionDenied, match="your login 'ops'"):  # a company account is refused (20.7)
        acting()


# --- the attgit command (through the Django backend) --------------------------------------------


def test_attgit_acts_as_the_named_root_user(people, site):
    attgit("init")
    attgit("--user", "boss", "commit", "-m", "by boss")
    info = Repository.open(site / "repo.git").info("HEAD")
    assert (info.author, info.email) == ("boss", "boss@example.com")
    log = BackupLog.objects.get(operation="commit")
    assert (log.user, log.actor) == (people["boss"], "boss")


@pytest.mark.parametrize("command", [["status"], ["commit"], ["log"], ["init"]])
def test_attgit_refuses_a_user_who_is_not_root_before_doing_anything(people, site, command, monkeypatch):
    monkeypatch.setenv("ATTGIT_USER", "clerk")
    refused("attgit", *command)
    assert not (site / "repo.git").exists()
    log = BackupLog.objects.get()
    assert (log.success, log.actor, log.user) == (False, "clerk", None)
    refused("attgit", "--user", "nosuchuser", *command)


def test_attgit_without_a_user_acts_for_the_operator(site):
    attgit("init")
    AttendanceRecord.objects.create(ep_no="E9", company=Company.objects.create(name="Z"), date="2025-01-02",
                                    status="P")
    attgit("commit")
    assert Repository.open(site / "repo.git").info("HEAD").author == "ops"
    log = BackupLog.objects.get(operation="commit")
    assert (log.actor, log.user, log.success) == ("ops", None, True)


def test_attgit_import_logs_companies_too(people, site):
    call_command("backup_data", "--output", str(site / "b.json"), "--user", "boss", stdout=io.StringIO())
    attgit("init")
    attgit("--user", "admin", "import", str(site / "b.json"))
    log = BackupLog.objects.get(operation="import")
    assert (log.user, log.companies_count, log.records_count) == (people["admin"], 1, 1)
