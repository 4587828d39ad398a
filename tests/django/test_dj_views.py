"""Property 1 (a root user sees every record of every company) and its
complement (a company user sees only their own company's), through the
real list page, every page of it."""

from __future__ import annotations

import pytest
from dj_helpers import keys, reset_db
from django.contrib.auth import get_user_model
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from strategies import datasets

from attgit.format import records as rec
from django_adapter.access import visible_records
from django_adapter.models import Company, User

pytestmark = pytest.mark.django_db
URL = "/attendance/"


def shown(client, query: str = "") -> set:
    """Keys of every record the list page shows, following its pages."""
    seen, page = set(), 1
    while True:
        response = client.get(f"{URL}?{query}page={page}")
        assert response.status_code == 200
        seen |= {(r.ep_no, r.company.name, r.date.isoformat()) for r in response.context["page"]}
        if not response.context["page"].has_next():
            return seen
        page += 1


def queried(user) -> set:
    rows = visible_records(user).values_list("ep_no", "company__name", "date")
    return {(ep_no, company, date.isoformat()) for ep_no, company, date in rows}


def make_user(name: str, role=User.COMPANY, company=None, **extra):
    return get_user_model().objects.create_user(name, password=extra.pop("password", "pw"), role=role,
                                                company=company, **extra)


@given(dataset=datasets(max_size=30), extra_companies=st.integers(0, 2))
def test_root_sees_every_record_and_company_users_only_their_own(client, wc, dataset,
                                                                 extra_companies):
    reset_db()
    wc.bulk_load(dataset)
    for n in range(extra_companies):
        Company.objects.create(name=f"Empty {n}")

    client.force_login(make_user("root", role=User.ROOT, password=None))
    assert shown(client) == keys(dataset)

    # Company users through the page's own queryset (the page itself is
    # covered below): rendering a page per company per example is slow.
    for company in Company.objects.all():
        user = make_user(f"user-{company.pk}", company=company, password=None)
        assert queried(user) == keys(r for r in dataset if r["company"] == company.name)


def test_a_superuser_is_root_and_the_company_filter_narrows_it(client, wc):
    wc.bulk_load([rec.normalise({"ep_no": f"E{n:03d}", "company": c, "date": "2024-01-01",
                                 "status": "P"}) for c in ("A", "B") for n in range(60)])
    client.force_login(make_user("boss", role=User.COMPANY, is_superuser=True))
    assert len(shown(client)) == 120  # three pages of 50
    b = Company.objects.get(name="B")
    assert {k[1] for k in shown(client, f"company={b.pk}&")} == {"B"}


def test_a_company_user_cannot_widen_their_view(client, wc):
    wc.bulk_load([rec.normalise({"ep_no": "E1", "company": c, "date": "2024-01-01",
                                 "status": "P"}) for c in ("A", "B")])
    a, b = Company.objects.order_by("name")
    client.force_login(make_user("a-user", company=a))
    assert {k[1] for k in shown(client, f"company={b.pk}&")} == {"A"}


def test_a_user_without_company_or_role_sees_nothing(client, wc):
    wc.bulk_load([rec.normalise({"ep_no": "E1", "company": "A", "date": "2024-01-01",
                                 "status": "P"})])
    user = make_user("nobody")
    client.force_login(user)
    assert shown(client) == set()
    assert not visible_records(user).exists()


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert client.get(reverse("login")).status_code == 200
    assert client.get("/").url == reverse("attgit:attendance_list")


def test_the_page_shows_the_records(client, wc):
    wc.bulk_load([rec.normalise({"ep_no": "E042", "ep_name": "Priya Nair", "company": "Acme",
                                 "date": "2024-03-01", "status": "HD", "in_time": "09:00"})])
    client.force_login(make_user("root", role=User.ROOT))
    html = client.get(URL).content.decode()
    assert "Priya Nair" in html and "E042" in html and "Acme" in html and "09:00" in html


def test_logging_in_and_out(client):
    make_user("root", role=User.ROOT)
    response = client.post(reverse("login"), {"username": "root", "password": "pw"})
    assert response.status_code == 302 and response.url == reverse("attgit:attendance_list")
    assert client.get(URL).status_code == 200
    client.post(reverse("logout"))
    assert client.get(URL).status_code == 302


@pytest.mark.parametrize("model", ["company", "attendancerecord", "user", "backuplog",
                                   "remote", "syncstate"])
def test_admin_pages_load_for_a_superuser(client, wc, model):
    wc.bulk_load([rec.normalise({"ep_no": "E1", "company": "A", "date": "2024-01-01",
                                 "status": "P"})])
    client.force_login(make_user("admin", role=User.ROOT, is_staff=True, is_superuser=True))
    assert client.get(reverse(f"admin:attendance_{model}_changelist")).status_code == 200
