"""The pages in a real browser (Playwright driving Debian's chromium)
against the live test server: a root user backs up, downloads, changes
data, restores the file (preview, apply, the progress bar to the end, the
summary), settles a conflict on the conflicts page; a company user is
refused.  Jobs run in their own thread, as on the real site."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from django.utils import timezone

from django_adapter.models import AttendanceRecord, Company

from .conftest import PASSWORD, make_user, parse, seed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls
    # the tests make between its calls are synchronous and safe.  Only while
    # this module runs: a deploy check must never see the variable.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/attendance/")


def count(page, name: str) -> int:
    return int(page.locator(f'[data-count="{name}"]').inner_text().replace(",", ""))


def result(page, name: str) -> str:
    return page.locator(f'[data-result="{name}"]').inner_text()


def slow_progress(monkeypatch, pause: float = 0.25) -> None:
    """Make each progress step of an apply take a moment, so the bar can be seen moving."""
    from django_adapter.web import jobs

    real = jobs.Progress.counter

    def counter(self, label):
        report = real(self, label)

        def slowly(done, total):
            report(done, total)
            if label == "Writing records":
                self.update(label, done, total, force=True)
                time.sleep(pause)

        return slowly

    monkeypatch.setattr(jobs.Progress, "counter", counter)


def watch_progress(page) -> list[str]:
    """The bar's widths from now until the job's summary shows."""
    from playwright.sync_api import Error

    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if page.locator("#summary").count():
                break
            width = page.locator(".progress-bar").evaluate("e => e.style.width", timeout=2000)
        except Error:  # the page is being replaced by the summary
            time.sleep(0.05)
            continue
        if not seen or seen[-1] != width:
            seen.append(width)
        time.sleep(0.05)
    page.wait_for_selector("#summary")
    seen.append(page.locator(".progress-bar").evaluate("e => e.style.width"))
    return seen


def test_backup_download_change_upload_preview_apply_summary(page, tmp_path, monkeypatch):
    seed(600, companies=6)
    make_user("root", role="root")
    log_in(page, "root")

    page.click("nav.sections >> text=Backup")
    page.click("text=Create backup")
    page.wait_for_selector("#summary")
    assert page.locator("#job").get_attribute("data-state") == "done"
    with page.expect_download() as info:
        page.click("[data-download]")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    with parse(saved.read_bytes()) as backup:
        assert backup.total_records == 600

    first = AttendanceRecord.objects.order_by("id").first()
    AttendanceRecord.objects.filter(pk=first.pk).update(overstay="5", updated_at=timezone.now())
    doomed = list(AttendanceRecord.objects.order_by("-id").values_list("id", flat=True)[:250])
    AttendanceRecord.objects.filter(id__in=doomed).delete()

    page.click("nav.sections >> text=Restore")
    page.set_input_files("input[type=file]", str(saved))
    page.click("text=Upload and preview")
    page.wait_for_selector(".tiles")  # after the preview job's progress
    assert (count(page, "add"), count(page, "update"), count(page, "skip"), count(page, "conflicts")) == \
        (250, 1, 349, 1)
    assert page.locator("td.changed del").first.inner_text() == "5"

    slow_progress(monkeypatch)
    page.click("text=Apply restore")
    page.wait_for_url("**/jobs/*/")
    widths = watch_progress(page)
    assert widths[-1] == "100%" and page.locator("#job").get_attribute("data-state") == "done"
    assert any(w not in ("0%", "100%", "0.0%") for w in widths), widths  # it moved on the way
    assert (result(page, "added"), result(page, "updated"), result(page, "skipped"), result(page, "conflicts")) == \
        ("250", "1", "349", "1")
    assert result(page, "time").endswith(" s")
    assert AttendanceRecord.objects.count() == 600
    assert AttendanceRecord.objects.get(pk=first.pk).overstay == first.overstay


def test_a_conflict_is_settled_on_the_conflicts_page(page, tmp_path):
    from django_adapter.web.backup import write_file

    seed(60)
    make_user("root", role="root")
    saved = tmp_path / "backup.json"
    write_file(saved, "full", None, "root", lambda done, total: None)
    record = AttendanceRecord.objects.select_related("company").order_by("id").first()
    AttendanceRecord.objects.filter(pk=record.pk).update(status="L", updated_at=timezone.now())
    log_in(page, "root")

    page.goto("/restore/")
    page.set_input_files("input[type=file]", str(saved))
    page.click("text=Upload and preview")
    page.wait_for_selector(".tiles")
    page.check("input[name=strategy][value=manual]")
    page.click("text=Update the preview")
    page.wait_for_url("**strategy=manual*")
    page.wait_for_selector("input[name=strategy][value=manual]:checked")
    assert count(page, "conflicts") == 1
    page.click("text=Apply restore")
    page.wait_for_selector("#summary")
    page.click("#summary >> text=Resolve them on the Conflicts page")

    conflict = page.locator("section.conflict")
    assert conflict.count() == 1 and record.ep_no in conflict.locator("h2").inner_text()
    assert conflict.locator("tr.disputed th").all_inner_texts() == ["Status"]
    conflict.locator("input[name=pick_status][value=value]").check()
    conflict.locator("input[name=value_status]").fill("OD")
    conflict.locator("text=Resolve field by field").click()
    assert "none left" in page.locator(".messages").inner_text()
    page.click("#conclude")
    page.wait_for_selector("#summary")
    assert "concluded" in page.locator("#summary").inner_text()
    assert AttendanceRecord.objects.get(pk=record.pk).status == "OD"
    page.goto("/conflicts/")
    assert "No merge is in progress" in page.content()


def test_a_company_user_is_refused(page):
    company = Company.objects.create(name="ABC Corp")
    make_user("clerk", company=company)
    log_in(page, "clerk")
    assert page.locator("nav.sections").count() == 0
    for url in ("/backup/", "/restore/", "/history/", "/conflicts/"):
        response = page.goto(url)
        assert response.status == 403, url
        assert "Only root users can perform backup/restore operations" in page.content()
