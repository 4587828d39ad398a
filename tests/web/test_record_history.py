"""A record's history on the web (issue 22): the History link beside each
record (attendance list, admin page) opens its timeline for root users
only; a conflict a person settled on the Conflicts page shows who chose
which value, linked to the audit log's row; the History page filters by
company."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from attgit.ops.history import company_log
from django_adapter.models import AttendanceRecord, BackupLog, Company
from django_adapter.repository import open_repository

from .conftest import finished_job, make_user, messages_of
from .merges import REMOTE, Upstream, pull

pytestmark = pytest.mark.django_db


def settled_pull(client, tmp_path) -> tuple:
    """The site pulls an upstream, both change one record's status, the
    site's manual pull stops on it, root resolves it with theirs on the
    Conflicts page and concludes.  Returns (record, upstream)."""
    from attgit.repo import transport
    from django_adapter.demodata import demo_records

    upstream = Upstream(tmp_path, list(demo_records(30, 3)))
    upstream.publish()
    transport.add_remote(open_repository(), REMOTE, str(upstream.hub))
    assert pull("theirs").status == "fast-forward"
    record = AttendanceRecord.objects.select_related("company").order_by("company__name", "date", "ep_no")[3]
    key = (record.ep_no, record.company.name, record.date.isoformat())
    AttendanceRecord.objects.filter(pk=record.pk).update(status="L", updated_at=timezone.now())
    upstream.db.data[key[1]][key]["status"] = "OD"
    upstream.publish("Upstream corrects a status")
    assert pull("manual").status == "conflicts"
    conflict = client.get("/conflicts/").context["pending"][0]
    response = client.post("/conflicts/resolve/", {"conflict": conflict.id, "side": "theirs"}, follow=True)
    assert "none left" in " ".join(messages_of(response))
    job = finished_job(client, client.post("/conflicts/conclude/"))
    assert job.status == "done" and job.result["status"] == "concluded", job.error
    return AttendanceRecord.objects.select_related("company").get(pk=record.pk), conflict.id


def history_of(client, record):
    return client.get("/history/record/", {"ep_no": record.ep_no, "company": record.company.name,
                                           "date": record.date.isoformat()})


def test_a_settled_conflict_shows_who_chose_which_value(root_client, tmp_path):
    record, conflict_id = settled_pull(root_client, tmp_path)
    assert record.status == "OD"
    page = history_of(root_client, record)
    assert page.status_code == 200
    events = page.context["events"]
    merge = events[0]
    assert merge["kind"] == "conflict resolution" and merge["action"] == "changed" and merge["actor"] == "root"
    res = merge["resolution"]
    assert res["conflict"] == conflict_id and res["by"] == "root (by hand)"
    assert res["fields"] == [{"field": "status", "ours": "L", "theirs": "OD", "took": "theirs"}]
    resolve_row = BackupLog.objects.get(operation="resolve", details__conflict=conflict_id)
    conclude_row = BackupLog.objects.get(operation="merge", commit=merge["id"])
    audit = {a["pk"]: a for a in res["audit"]}
    assert set(audit) == {resolve_row.pk, conclude_row.pk}
    assert audit[resolve_row.pk]["who"] == "root" and audit[resolve_row.pk]["what"] == "chose theirs"
    html = page.content.decode()
    assert f'href="/admin/attendance/backuplog/{resolve_row.pk}/change/"' in html
    assert f'href="/history/compare/?a={merge["parent"]}&amp;b={merge["id"]}"' in html  # all the merge changed
    assert [e["action"] for e in events] == ["changed", "changed", "changed", "added"]
    assert [c.field for c in events[1]["changes"]] == ["status"]  # the upstream's correction, or ours
    assert {e["kind"] for e in events[1:]} == {"snapshot"}


def test_the_history_link_is_beside_each_record_for_root_only(root_client, tmp_path):
    record, _ = settled_pull(root_client, tmp_path)
    listing = root_client.get("/attendance/").content.decode()
    assert listing.count('class="history-link"') == min(50, AttendanceRecord.objects.count())
    link = (f'/history/record/?ep_no={record.ep_no}&amp;company={record.company.name.replace(" ", "%20")}'
            f'&amp;date={record.date.isoformat()}')
    assert link in listing
    admin = Client()
    admin.force_login(make_user("admin-root", role="root", is_staff=True))  # the admin site needs is_staff
    admin_page = admin.get(f"/admin/attendance/attendancerecord/{record.pk}/change/").content.decode()
    assert "History of this record" in admin_page and "/history/record/?ep_no=" in admin_page

    clerk = Client()
    clerk.force_login(make_user("clerk", company=record.company))
    assert 'class="history-link"' not in clerk.get("/attendance/").content.decode()
    assert history_of(clerk, record).status_code == 403
    staff = Client()
    staff.force_login(make_user("staff", role="staff", is_staff=True))
    assert history_of(staff, record).status_code == 403
    assert Client().get("/history/record/").status_code == 302  # to the login page


def test_an_unknown_record_or_company_is_a_message_naming_the_closest(root_client, tmp_path):
    record, _ = settled_pull(root_client, tmp_path)
    response = root_client.get("/history/record/", {"ep_no": record.ep_no + "9", "company": record.company.name,
                                                    "date": record.date.isoformat()})
    assert response.status_code == 404
    assert f"closest: {record.ep_no}@{record.company.name}@" in " ".join(messages_of(response))
    response = root_client.get("/history/record/", {"ep_no": record.ep_no, "company": record.company.name + "x",
                                                    "date": record.date.isoformat()})
    assert response.status_code == 404 and f"did you mean '{record.company.name}'" in " ".join(messages_of(response))
    response = root_client.get("/history/record/", {"ep_no": record.ep_no, "company": record.company.name,
                                                    "date": "31-12-2025"})
    assert response.status_code == 400 and "expected YYYY-MM-DD" in " ".join(messages_of(response))


def test_the_history_page_filters_by_company(root_client, tmp_path):
    record, _ = settled_pull(root_client, tmp_path)
    company = record.company.name
    everything = root_client.get("/history/").context["commits"]
    page = root_client.get("/history/", {"company": company})
    assert page.status_code == 200 and page.context["company"] == company
    shown = [c["id"] for c in page.context["commits"]]
    assert shown == [c.info.id for c in company_log(open_repository(), company)]
    assert shown == [c["id"] for c in everything]  # every commit changed the edited record's company
    other = Company.objects.exclude(name=company).order_by("name").first().name
    page = root_client.get("/history/", {"company": other})
    assert [c["id"] for c in page.context["commits"]] == [everything[-1]["id"]]  # only the first snapshot
    assert page.context["commits"][0]["change"] == "added" and f"Snapshots that changed {other}" in page.content.decode()
    n = AttendanceRecord.objects.filter(company__name=other).count()
    assert f"+{n} ~0 −0, {n} records" in page.content.decode()  # the company's own counts
    unknown = root_client.get("/history/", {"company": "No Such Co"})
    assert unknown.status_code == 200 and unknown.context["commits"] == []
    assert "no company 'No Such Co'" in " ".join(messages_of(unknown))


def test_a_restore_settled_by_hand_shows_the_choice_made_for_the_record(root_client):
    """An import's other side is a file, in no commit: the record's event
    carries the resolutions logged under its key."""
    from .test_pages import _manual_restore

    first, _second = _manual_restore(root_client)
    conflicts = {(c.ep_no, c.company, c.date): c for c in root_client.get("/conflicts/").context["pending"]}
    key = (first.ep_no, first.company.name, first.date.isoformat())
    for k, conflict in conflicts.items():
        root_client.post("/conflicts/resolve/", {"conflict": conflict.id, "side": "theirs" if k == key else "ours"})
    job = finished_job(root_client, root_client.post("/conflicts/conclude/"))
    assert job.status == "done" and job.result["status"] == "concluded", job.error
    newest = history_of(root_client, first).context["events"][0]
    assert newest["kind"] == "import" and newest["actor"] == "root" and newest["resolution"] is None
    assert [c.field for c in newest["changes"]] == ["in_time", "overstay"]  # back to the file's values
    chosen = [a for a in newest["audit"] if a["what"].startswith("chose")]
    assert [(a["who"], a["what"]) for a in chosen] == [("root", "chose theirs")]
    assert any(a["what"].startswith("merge") for a in newest["audit"])  # the concluding row
