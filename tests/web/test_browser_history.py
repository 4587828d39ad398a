"""A record's history in a real browser (issue 22): after a pull whose
conflict root settled on the Conflicts page (the conclude run by the real
background worker), the History link beside the record opens its timeline:
who settled it, which value each side had, which it took, and the audit
row of the choice."""

from __future__ import annotations

import pytest
from django.utils import timezone

from attgit.repo import transport
from django_adapter.models import AttendanceRecord
from django_adapter.repository import open_repository

from .conftest import make_user
from .merges import REMOTE, Upstream, pull
from .test_browser import browser, log_in, page  # noqa: F401  (the browser, a page on the live server)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_records_history_after_a_pull_with_a_settled_conflict(page, tmp_path, worker):  # noqa: F811
    from django_adapter.demodata import demo_records

    worker.start()
    make_user("root", role="root")
    upstream = Upstream(tmp_path, list(demo_records(20, 2)))
    upstream.publish()
    transport.add_remote(open_repository(), REMOTE, str(upstream.hub))
    assert pull("theirs").status == "fast-forward"
    record = AttendanceRecord.objects.select_related("company").order_by("company__name", "date", "ep_no")[0]
    key = (record.ep_no, record.company.name, record.date.isoformat())
    AttendanceRecord.objects.filter(pk=record.pk).update(status="L", updated_at=timezone.now())
    upstream.db.data[key[1]][key]["status"] = "OD"
    upstream.publish("Upstream corrects a status")
    assert pull("manual").status == "conflicts"

    log_in(page, "root")
    page.goto("/conflicts/")
    page.locator("section.conflict").locator("text=Take the incoming version").click()
    assert "none left" in page.locator(".messages").inner_text()
    page.click("#conclude")
    page.wait_for_selector("#summary")
    assert "concluded" in page.locator("#summary").inner_text()

    page.goto("/attendance/")
    row = page.locator("table.records tbody tr", has_text=record.ep_no).filter(has_text=key[2]).first
    row.locator("a.history-link").click()
    page.wait_for_url("**/history/record/**")
    assert f"History of {key[0]} @ {key[1]} on {key[2]}" in page.locator("h1").inner_text()
    newest = page.locator("section.event").first
    assert newest.locator(".kind").inner_text() == "conflict resolution"
    assert newest.locator(".actor").inner_text() == "root"
    assert "settled by root (by hand)" in newest.locator(".resolution").inner_text()
    cells = newest.locator(".resolution tbody tr").first.locator("td").all_inner_texts()
    assert cells == ["status", "L", "OD", "theirs"]
    audit = newest.locator(".audit li", has_text="chose theirs")
    assert audit.count() == 1 and "root" in audit.inner_text()
    assert "/backuplog/" in audit.locator("a").get_attribute("href")
    assert page.locator("section.event").count() == 4  # added, both sides' edits, the merge
