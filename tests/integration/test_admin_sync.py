"""The Django side of sync: the admin's "Sync from remote" action on the
Remote model (root users only) -- a preview page with counts, conflicts
and a confirm button, then the sync as a background job, never a merge
inside a request -- and ``manage.py attgit``.

Upstream is another environment: a real repository whose database is an
in-memory working copy, pushing to a real bare hub; the site's own
database is the test database, its repository the ATTGIT_REPO setting.
"""

from __future__ import annotations

import io
import os
import sys

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from attgit.errors import ExitCode
from attgit.ops.commit import snapshot_database
from attgit.ops.mergestate import MergeState
from attgit.repo import transport
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from ..helpers import AUTHOR, fsck, record
from .conftest import free_port
from .envs import EXAMPLES, new_hub, run

CHANGELIST = "admin:attendance_remote_changelist"
KEY = ("E1", "ABC Corp", "2025-11-20")


class Upstream:
    """Another environment that publishes to a hub."""

    def __init__(self, root):
        self.hub = new_hub(root)
        self.repo = Repository.init(root / "upstream.git")
        self.db = MemoryWorkingCopy.from_records(
            [record("E1"), record("E2"), record("E1", company="Zeta", status="A", in_time=None, out_time=None)])
        transport.add_remote(self.repo, "hub", str(self.hub))

    def publish(self) -> None:
        snapshot_database(self.repo, self.db, AUTHOR)
        transport.push(self.repo, "hub")

    def row(self, key=KEY) -> dict:
        return self.db.data[key[1]][key]


@pytest.fixture
def upstream(tmp_path):
    up = Upstream(tmp_path)
    up.publish()
    return up


@pytest.fixture
def site_repo(settings, tmp_path, monkeypatch):
    """The site's repository: ATTGIT_REPO (created by the first sync)."""
    monkeypatch.delenv("ATTGIT_REPO", raising=False)
    settings.ATTGIT_REPO = str(tmp_path / "site.git")
    return tmp_path / "site.git"


@pytest.fixture
def root_user(django_user_model):
    """Root as seed_demo makes it: role root, staff and superuser."""
    return django_user_model.objects.create_user("boss", "boss@example.com", "pw", role="root", is_staff=True,
                                                 is_superuser=True)


@pytest.fixture(autouse=True)
def inline_jobs(settings):
    """Background jobs run inside the request that starts them (the tasks
    framework's immediate backend); tests/web/test_worker.py runs the real worker."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def preview(client, *remotes):
    """The admin action on the selected remotes: the preview page (after its job)."""
    return client.post(reverse(CHANGELIST), {"action": "sync_from_remote",
                                             "_selected_action": [r.pk for r in remotes]}, follow=True)


def sync(client, *remotes):
    """Preview, then confirm: [(level, message)] of the sync job's outcome
    (or of the messages the preview ended on)."""
    from django_adapter.models import Job

    shown = preview(client, *remotes)
    if "preview" not in (shown.context or {}):
        return messages_of(shown)
    if shown.context["up_to_date"]:
        return [("success", f"Sync from {remotes[0].name}: already up to date.")]
    confirmed = client.post(shown.request["PATH_INFO"], sync_form(shown))
    assert confirmed.status_code == 302 and "/jobs/" in confirmed["Location"], confirmed
    job = Job.objects.get(pk=confirmed["Location"].rstrip("/").split("/")[-1])
    assert job.kind == Job.SYNC and job.finished
    if job.status != Job.DONE:
        return [("error", f"Sync from {remotes[0].name} failed: {job.error}")]
    page = client.get(confirmed["Location"])
    assert job.result["message"] in page.content.decode().replace("&#x27;", "'")
    return [(job.result["level"], job.result["message"])]


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def database():
    from django_adapter.workingcopy import connect

    return {(r["ep_no"], r["company"], r["date"]): r for r in connect().all_records()}


def sync_logs():
    from django_adapter.models import BackupLog

    return list(BackupLog.objects.filter(operation="sync").order_by("id"))


# --- the admin action -------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_root_syncs_a_remote_into_the_database(client, root_user, upstream, site_repo):
    from django_adapter.models import Remote

    prod = Remote.objects.create(name="prod", url=str(upstream.hub))
    client.force_login(root_user)
    shown = preview(client, prod)
    assert shown.status_code == 200 and shown.context["preview"]["counts"] == \
        {"add": 3, "update": 0, "delete": 0, "conflicts": 0}
    assert 'id="confirm-sync"' in shown.content.decode()
    assert database() == {} and sync_logs() == []  # the preview merged nothing
    [(level, text)] = sync(client, prod)
    assert level == "success" and text.startswith("Synced from prod (fast-forward): 3 added, 0 updated, 0 deleted, "
                                                  "no conflicts; main at "), text
    assert database() == {k: r for c in upstream.db.data.values() for k, r in c.items()}
    site = Repository.open(site_repo)
    assert site.head() == upstream.repo.head() and site.git.remotes["prod"].url == str(upstream.hub)
    [log] = sync_logs()
    assert (log.user, log.success, log.records_added, log.commit) == (root_user, True, 3, str(site.head()))
    assert log.details["job"]
    assert log.details["remote"] == "prod" and log.details["status"] == "fast-forward"

    upstream.row()["status"] = "L"
    del upstream.db.data["Zeta"][("E1", "Zeta", "2025-11-20")]
    upstream.publish()
    [(level, text)] = sync(client, prod)
    assert level == "success" and "1 updated, 1 deleted, no conflicts" in text, text
    assert database()[KEY]["status"] == "L" and len(database()) == 2
    shown = preview(client, prod)
    assert shown.context["up_to_date"] and 'id="up-to-date"' in shown.content.decode()
    assert 'id="confirm-sync"' not in shown.content.decode()
    assert len(sync_logs()) == 2
    fsck(site_repo)


@pytest.mark.django_db(transaction=True)
def test_the_git_remote_follows_the_model(client, root_user, upstream, site_repo):
    """A remote already in the repository with another URL is updated to
    the model's URL before the fetch."""
    from django_adapter.models import Remote

    transport.add_remote(Repository.init(site_repo), "prod", "/nowhere/old.git")
    prod = Remote.objects.create(name="prod", url=str(upstream.hub))
    client.force_login(root_user)
    assert sync(client, prod)[0][0] == "success"
    assert Repository.open(site_repo).git.remotes["prod"].url == str(upstream.hub)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("strategy", ["theirs", "ours", "manual"])
def test_conflicts_are_a_warning_with_the_setting_s_strategy(client, root_user, upstream, site_repo, settings,
                                                              strategy):
    """ATTGIT_PULL_STRATEGY decides (it was ATTGIT_DEFAULT_STRATEGY before
    issue 10.4, which file restores keep)."""
    from django_adapter.models import AttendanceRecord, Remote

    prod = Remote.objects.create(name="prod", url=str(upstream.hub))
    client.force_login(root_user)
    sync(client, prod)
    row = AttendanceRecord.objects.get(ep_no="E1", company__name="ABC Corp")
    row.status = "A"
    row.save()
    upstream.row()["status"] = "L"
    upstream.publish()
    settings.ATTGIT_PULL_STRATEGY = strategy
    shown = preview(client, prod)
    assert shown.context["preview"]["conflict_count"] == 1 and shown.context["preview"]["strategy"] == strategy
    assert "both changed" in shown.content.decode()
    [(level, text)] = sync(client, prod)
    assert level == "warning", text
    if strategy == "manual":
        assert "1 conflict waits for you" in text and "main at" not in text
        assert MergeState.load(Repository.open(site_repo)) is not None
        assert database()[KEY]["status"] == "A"
        [(level, text)] = sync(client, prod)
        assert level == "error" and "A merge is waiting for its conflicts to be resolved" in text, text
    else:
        assert f"1 conflict resolved by the '{strategy}' strategy" in text
        assert database()[KEY]["status"] == {"theirs": "L", "ours": "A"}[strategy]
    assert [log.details.get("conflicts") for log in sync_logs()][:2] == [0, 1]


@pytest.mark.django_db(transaction=True)
def test_a_failing_remote_is_an_error_and_one_remote_is_synced_at_a_time(client, root_user, upstream, site_repo):
    from django_adapter.models import Remote

    dead = Remote.objects.create(name="dead", url=f"git://127.0.0.1:{free_port()}/attendance.git")
    prod = Remote.objects.create(name="prod", url=str(upstream.hub))
    client.force_login(root_user)
    assert sync(client, dead, prod) == [("error", "Choose one remote to sync from: its preview comes first.")]
    [(level, text)] = sync(client, dead)
    assert level == "error" and text.startswith("Sync from dead failed: cannot fetch from remote 'dead' "
                                                "(git://127.0.0.1:"), text
    assert sync(client, prod)[0][1].startswith("Synced from prod")
    failed, ok = sync_logs()
    assert (failed.success, failed.user, ok.success) == (False, root_user, True)
    assert "cannot fetch from remote 'dead'" in failed.error_message and failed.details["stage"] == "preview"
    assert "refs/remotes/dead/main" not in Repository.open(site_repo).git.references


@pytest.mark.django_db(transaction=True)
def test_the_sync_merges_the_commit_that_was_previewed(client, root_user, upstream, site_repo):
    """The remote moves on between the preview and the confirmation: what
    was confirmed is what is merged; the newer commit waits for the next sync."""
    from django_adapter.models import Job, Remote

    prod = Remote.objects.create(name="prod", url=str(upstream.hub))
    client.force_login(root_user)
    shown = preview(client, prod)
    previewed = shown.context["preview"]["theirs"]
    upstream.row()["status"] = "L"
    upstream.publish()
    confirmed = client.post(shown.request["PATH_INFO"], sync_form(shown))
    job = Job.objects.get(pk=confirmed["Location"].rstrip("/").split("/")[-1])
    assert job.status == Job.DONE and job.params["theirs"] == previewed, job.error
    assert str(Repository.open(site_repo).head()) == previewed and database()[KEY]["status"] != "L"
    assert preview(client, prod).context["preview"]["counts"]["update"] == 1


@pytest.mark.django_db(transaction=True)
def test_nothing_is_merged_inside_a_request(client, root_user, upstream, site_repo, settings):
    """With a task queue nobody works on, the action and the confirmation
    only record jobs: the database is untouched until a worker runs them."""
    from django_adapter.models import Job, Remote
    from django_adapter.web import jobs

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    prod = Remote.objects.create(name="prod", url=str(upstream.hub))
    client.force_login(root_user)
    waiting = preview(client, prod)
    assert 'data-status-url="/jobs/' in waiting.content.decode()  # the progress display of the restore pages
    [pending] = Job.objects.filter(kind=Job.SYNC_PREVIEW)
    assert pending.status == Job.QUEUED and not Repository.open(site_repo).git.references.get(
        "refs/remotes/prod/main")
    jobs.run(pending.pk)  # the worker
    shown = client.get(waiting.request["PATH_INFO"] + f"?job={pending.pk}")
    assert shown.context["preview"]["counts"]["add"] == 3
    confirmed = client.post(shown.request["PATH_INFO"], sync_form(shown))
    [queued] = Job.objects.filter(kind=Job.SYNC)
    assert queued.status == Job.QUEUED and database() == {} and sync_logs() == []
    jobs.run(queued.pk)
    assert client.get(confirmed["Location"]).status_code == 200
    assert Job.objects.get(pk=queued.pk).status == Job.DONE and len(database()) == 3


@pytest.mark.django_db(transaction=True)
def test_a_root_role_staff_user_who_is_not_a_superuser_may_sync(client, django_user_model, upstream, site_repo):
    from django_adapter.models import Job, Remote

    prod = Remote.objects.create(name="prod", url=str(upstream.hub))
    lead = django_user_model.objects.create_user("lead", password="pw", role="root", is_staff=True)
    client.force_login(lead)
    shown = preview(client, prod)
    confirmed = client.post(shown.request["PATH_INFO"], sync_form(shown))
    job = Job.objects.get(pk=confirmed["Location"].rstrip("/").split("/")[-1])
    assert job.status == Job.DONE, job.error
    [log] = sync_logs()
    assert (log.user, log.actor, log.success) == (lead, "lead", True)
    assert Repository.open(site_repo).info("HEAD").id == str(upstream.repo.head())


@pytest.mark.django_db(transaction=True)
def test_non_root_staff_are_refused_and_nothing_happens(client, django_user_model, upstream, site_repo):
    from django.contrib.auth.models import Permission

    from django_adapter.models import Remote

    prod = Remote.objects.create(name="prod", url=str(upstream.hub))  # written to the git config
    staff = django_user_model.objects.create_user("clerk", password="pw", role="company", is_staff=True)
    client.force_login(staff)
    assert preview(client, prod).status_code == 403  # no permission on remotes at all

    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_remote", "change_remote"]))
    assert sync(client, prod) == [("error", "Only root users may sync from a remote; nothing was done.")]
    assert client.get(reverse("admin:attendance_remote_sync", args=[prod.pk])).status_code == 403
    site = Repository.open(site_repo)  # saving the Remote wrote the repository's config
    assert database() == {} and sync_logs() == [] and site.head() is None
    assert "refs/remotes/prod/main" not in site.git.references


# --- manage.py attgit -----------------------------------------------------------------------------------

def attgit(*args) -> str:
    out = io.StringIO()
    call_command("attgit", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_manage_py_attgit_runs_the_cli_on_the_project(root_user, upstream, site_repo):
    from django_adapter.models import BackupLog

    assert "Initialized attgit repository" in attgit("init")
    attgit("remote", "add", "prod", str(upstream.hub))
    pulled = orjson.loads(attgit("--user", "boss", "pull", "prod", "--json"))
    assert pulled["status"] == "fast-forward" and pulled["counts"]["inserts"] == 3
    assert database() == {k: r for c in upstream.db.data.values() for k, r in c.items()}
    log = BackupLog.objects.get(operation="pull")
    assert (log.user, log.records_added) == (root_user, 3)
    assert orjson.loads(attgit("status", "--json"))["clean"] is True
    assert "nothing to commit" in attgit("commit")


@pytest.mark.django_db(transaction=True)
def test_manage_py_attgit_errors_are_command_errors_with_the_exit_code(site_repo):
    attgit("init")
    with pytest.raises(CommandError, match=r"^no remote named 'nowhere' \(remotes: none\)") as error:
        attgit("pull", "nowhere")
    assert error.value.returncode == ExitCode.NOT_FOUND
    with pytest.raises(CommandError) as usage:
        call_command("attgit", "pul", stdout=io.StringIO(), stderr=io.StringIO())
    assert usage.value.returncode == ExitCode.USAGE


def test_manage_py_attgit_from_a_shell(make_env):
    """The command line as typed: attgit's own options pass through, the
    error is one line, the exit code is attgit's."""
    env = make_env("shell")
    manage = [sys.executable, str(EXAMPLES / "manage.py"), "attgit"]
    assert run([*manage, "init"], env.environ()).out.startswith("Initialized attgit repository")
    status = run([*manage, "--wait", "1", "status", "--json"], env.environ())
    assert orjson.loads(status.out)["clean"] is True
    failed = run([*manage, "pull", "nowhere"], env.environ(), code=ExitCode.NOT_FOUND)
    assert failed.err.strip() == "attgit: error: no remote named 'nowhere' (remotes: none); add it with " \
                                 "`attgit remote add`" and failed.out == ""
    usage = run([*manage, "pul"], env.environ(), code=ExitCode.USAGE)
    assert "No such command 'pul'" in usage.err and "attgit: error" not in usage.err
    assert "Usage: manage.py attgit [OPTIONS] COMMAND" in run([*manage, "--help"], env.environ()).out
    assert os.path.isdir(env.repo_path)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change,said", [
    ({"strategy": "theirs"}, "you changed the strategy since the preview"),
    ({"theirs": "0" * 40}, "you changed the remote's commit since the preview"),
    ({"token": "forged"}, "does not come from a preview of this site"),
])
def test_a_sync_confirm_that_is_not_the_preview_is_refused(client, root_user, upstream, site_repo, change, said):
    from django_adapter.models import Job, Remote

    prod = Remote.objects.create(name="prod", url=str(upstream.hub))
    client.force_login(root_user)
    shown = preview(client, prod)
    refused = client.post(shown.request["PATH_INFO"], sync_form(shown, **change), follow=True)
    assert any(said in text for _, text in messages_of(refused)), messages_of(refused)
    assert not Job.objects.filter(kind=Job.SYNC).exists() and database() == {} and sync_logs() == []


@pytest.mark.django_db(transaction=True)
def test_a_sync_confirm_after_the_database_moved_is_refused(client, root_user, upstream, site_repo):
    from django_adapter.models import AttendanceRecord, Company, Job, Remote

    prod = Remote.objects.create(name="prod", url=str(upstream.hub))
    client.force_login(root_user)
    shown = preview(client, prod)
    AttendanceRecord.objects.create(ep_no="X9", ep_name="New", company=Company.objects.create(name="Local"),
                                    date="2025-11-21", status="P")
    before = database()
    refused = client.post(shown.request["PATH_INFO"], sync_form(shown), follow=True)
    assert any("the database changed since the preview" in text for _, text in messages_of(refused))
    assert not Job.objects.filter(kind=Job.SYNC).exists() and database() == before


def sync_form(shown, **changes) -> dict:
    """What the sync preview's confirm button sends (``changes``: a tampered field)."""
    context = shown.context
    return {"job": context["job"].pk, "token": context["token"], "theirs": context["preview"]["theirs"],
            "strategy": context["preview"]["strategy"], **changes}
