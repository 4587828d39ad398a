"""Remotes have one source of truth, the repository's git config: a remote
added with `attgit remote add` appears in the admin's Remote list, and one
added, renamed or removed in the admin is seen by the CLI (issue 12.5).
Also: a root-role staff user who is not a superuser may use the admin."""

from __future__ import annotations

import orjson
import pytest
from dj_helpers import manage_attgit as attgit
from django.test import Client
from django.urls import reverse

from attgit.repo.repository import Repository
from django_adapter.models import Remote, User

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "admin:attendance_remote_changelist"


@pytest.fixture(autouse=True)
def site_repo(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("ATTGIT_USER", raising=False)
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    return tmp_path / "repo.git"


@pytest.fixture
def root_staff():
    """Root by role, staff, not a superuser, no Django permissions."""
    client = Client()
    client.force_login(User.objects.create_user("boss", role=User.ROOT, is_staff=True))
    return client



def cli_remotes() -> dict:
    return {r["name"]: r["url"] for r in orjson.loads(attgit("remote", "list", "--json"))}


def listed(client) -> list[str]:
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    return [remote.name for remote in response.context["cl"].result_list]


def test_a_remote_added_with_the_cli_appears_in_the_admin(root_staff):
    attgit("init")
    attgit("remote", "add", "prod", "/srv/prod.git")
    assert listed(root_staff) == ["prod"]
    assert Remote.objects.get().url == "/srv/prod.git"
    attgit("remote", "remove", "prod")
    attgit("remote", "add", "prod", "/srv/prod-2.git")
    attgit("remote", "add", "dev", "/srv/dev.git")
    assert listed(root_staff) == ["dev", "prod"]
    assert Remote.objects.get(name="prod").url == "/srv/prod-2.git"
    attgit("remote", "remove", "dev")
    assert listed(root_staff) == ["prod"]


def test_a_remote_added_changed_and_removed_in_the_admin_is_seen_by_the_cli(root_staff, site_repo):
    response = root_staff.post(reverse("admin:attendance_remote_add"), {"name": "hub", "url": "/srv/hub.git"})
    assert response.status_code == 302, response.content[:2000]
    assert cli_remotes() == {"hub": "/srv/hub.git"}
    hub = Remote.objects.get()
    change = reverse("admin:attendance_remote_change", args=[hub.pk])
    assert root_staff.post(change, {"name": "central", "url": "/srv/central.git"}).status_code == 302
    assert cli_remotes() == {"central": "/srv/central.git"}
    response = root_staff.post(reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [hub.pk],
                                                     "post": "yes"})
    assert response.status_code == 302
    assert cli_remotes() == {} and not Remote.objects.exists()
    assert list(Repository.open(site_repo).git.remotes.names()) == []


@pytest.mark.parametrize("url", ["fd::17", "ext::sh -c touch% /tmp/attgit-pwned", "-uhacked", "ftp://host/r.git"])
def test_a_transport_attgit_does_not_allow_is_a_form_error_and_saves_nothing(site_repo, url):
    """A hostile URL typed in the admin (issue 18.6) is refused by the form,
    naming the URL and the transports allowed: no row, no git config change."""
    attgit("init")
    attgit("remote", "add", "prod", "/srv/prod.git")
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="x"))
    assert listed(client) == ["prod"]
    config = (site_repo / "config").read_bytes()
    prod = Remote.objects.get()
    for page, data in [(reverse("admin:attendance_remote_add"), {"name": "evil", "url": url}),
                       (reverse("admin:attendance_remote_change", args=[prod.pk]), {"name": "prod", "url": url})]:
        response = client.post(page, data)
        assert response.status_code == 200, response.content[:2000]
        [error] = response.context["adminform"].form.errors["url"]
        assert repr(url) in error and "file://, git://, ssh:// (or user@host:path), http:// or https://" in error
        assert error in response.content.decode().replace("&#x27;", "'")
    assert list(Remote.objects.values_list("name", "url")) == [("prod", "/srv/prod.git")]
    assert (site_repo / "config").read_bytes() == config
    assert cli_remotes() == {"prod": "/srv/prod.git"}


def test_a_name_git_refuses_saves_nothing(site_repo):
    with pytest.raises(Exception, match="invalid remote name"):
        Remote.objects.create(name="bad name", url="/x.git")
    assert not Remote.objects.exists()


def test_root_staff_who_is_not_superuser_sees_the_attendance_admin(root_staff):
    index = root_staff.get(reverse("admin:index"))
    assert index.status_code == 200 and b"Remotes" in index.content and b"Backup logs" in index.content
    assert root_staff.get(reverse("admin:attendance_company_add")).status_code == 200
    assert root_staff.get(reverse("admin:attendance_backuplog_changelist")).status_code == 200


def test_company_staff_still_need_django_permissions():
    client = Client()
    client.force_login(User.objects.create_user("clerk", role=User.COMPANY, is_staff=True))
    assert client.get(reverse(CHANGELIST)).status_code == 403
