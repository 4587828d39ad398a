"""The conflicts page at the scale of a real merge: 5,000 conflicts of
every kind (tests/web/merges.py) open on a summary, filter by company,
field and kind, paginate, and are settled in bulk by a job that writes one
audit row per action."""

from __future__ import annotations

import time

import pytest

from attgit.ops.mergestate import MergeState
from django_adapter.models import AttendanceRecord, BackupLog, Job
from django_adapter.repository import open_repository

from .conftest import bulk_form, finished_job, messages_of
from .merges import seed_conflicts

pytestmark = pytest.mark.django_db

CONFLICTS = 5000


@pytest.fixture
def merge(tmp_path, root_client):
    return seed_conflicts(tmp_path, CONFLICTS)


def bars(section: list) -> dict:
    return {b["value"]: b["count"] for b in section}


def timed_get(client, url, **query):
    started = time.perf_counter()
    response = client.get(url, query)
    return response, time.perf_counter() - started


@pytest.mark.slow
def test_the_page_opens_on_a_summary_and_one_page_of_conflicts(merge, root_client):
    page, seconds = timed_get(root_client, "/conflicts/")
    print(f"conflicts page at {CONFLICTS}: {seconds:.2f} s")
    html = page.content.decode()
    assert page.status_code == 200 and page.context["pending_count"] == CONFLICTS
    summary = page.context["summary"]
    assert sum(bars(summary["companies"]).values()) == CONFLICTS and summary["more_companies"] == 0
    assert bars(summary["kinds"]) == {"modify/modify": 4000, "modify/delete": 500, "delete/modify": 500}
    assert bars(summary["fields"])["overstay"] >= 3500 and bars(summary["fields"])["shift"] >= 500
    assert max(b["percent"] for b in summary["companies"]) == 100.0
    assert html.count('class="hbar"') == len(summary["companies"]) + len(summary["fields"]) + 3
    for words in ("both changed", "changed here, deleted there", "deleted here, changed there"):
        assert words in html
    assert "<span data-kind>both changed</span>" in html and "<span data-kind>modify/" not in html
    assert len(page.context["pending"]) == 20 and html.count('class="card conflict"') == 20
    assert "page 1 of 250" in html and "Keep the database's version of all 5,000" in html
    assert "<th>Database</th><th>Incoming</th>" in html and "> database</label>" in html


@pytest.mark.slow
def test_filters_by_company_field_and_kind_and_pages_keep_the_filter(merge, root_client):
    everything = root_client.get("/conflicts/").context["summary"]
    company, count = everything["companies"][0]["value"], everything["companies"][0]["count"]
    page = root_client.get("/conflicts/", {"company": company})
    assert page.context["shown_count"] == count
    assert {c.company for c in page.context["pending"]} == {company}
    assert f"company={company.replace(' ', '+')}&amp;page=2" in page.content.decode()
    second = root_client.get("/conflicts/", {"company": company, "page": 2})
    assert second.context["page"].number == 2 and {c.company for c in second.context["pending"]} == {company}
    assert {c.id for c in second.context["pending"]}.isdisjoint(c.id for c in page.context["pending"])

    shifts = root_client.get("/conflicts/", {"field": "shift"})
    assert shifts.context["shown_count"] == bars(everything["fields"])["shift"]
    assert all(any(f.disputed and f.name == "shift" for f in c.fields) for c in shifts.context["pending"])
    deleted = root_client.get("/conflicts/", {"kind": "modify/delete", "company": company})
    assert all(c.kind == "modify/delete" and c.company == company for c in deleted.context["pending"])
    assert 0 < deleted.context["shown_count"] < count

    refused = root_client.get("/conflicts/", {"field": "salary"})
    assert "no field 'salary' to filter on" in " ".join(messages_of(refused))
    assert refused.context["shown_count"] == CONFLICTS


@pytest.mark.slow
def test_bulk_resolution_is_a_job_with_one_audit_row_per_action(merge, root_client):
    before = AttendanceRecord.objects.count()
    job = finished_job(root_client, root_client.post("/conflicts/resolve/", bulk_form(root_client, "ours", kind="modify/delete")))
    assert job.kind == Job.RESOLVE and job.status == "done", job.error
    assert (job.result["resolved"], job.result["left"]) == (500, 4500)
    page = root_client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'data-result="resolved">500</span> conflicts resolved: kept the database' in page
    assert 'data-result="left">4,500</span> left' in page
    [log] = BackupLog.objects.filter(operation="resolve")
    assert (log.details["resolved"], log.details["choice"], log.details["filter"]["kind"]) == \
        (500, "ours", "modify/delete")

    job = finished_job(root_client, root_client.post("/conflicts/resolve/", bulk_form(root_client, "theirs")))
    assert (job.result["resolved"], job.result["left"]) == (4500, 0)
    print(f"bulk resolution of 4,500 conflicts: {job.seconds:.2f} s in the job")
    assert BackupLog.objects.filter(operation="resolve").count() == 2
    assert MergeState.load(open_repository()).pending() == []
    assert AttendanceRecord.objects.count() == before  # resolving writes nothing until the merge is concluded
    nothing = root_client.post("/conflicts/resolve/", {"all": "theirs"}, follow=True)
    assert "no pending conflict matches the filter" in " ".join(messages_of(nothing))
    done = finished_job(root_client, root_client.post("/conflicts/conclude/"))
    assert done.status == "done" and done.result["status"] == "concluded", done.error
    # deleted here and changed there: taken from there (+500); changed here, deleted there: kept here
    assert AttendanceRecord.objects.count() == before + 500
    assert AttendanceRecord.objects.filter(overstay="12.5").count() == 3500
