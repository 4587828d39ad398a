"""The pages in a real browser (Playwright driving Debian's chromium)
against the live test server, with jobs run by a real background worker
(``db_worker``), as on the real site: a root user backs up, downloads,
changes data, restores the file (preview, apply, the progress bar to the
end, the summary), settles a conflict on the conflicts page, works through
5,000 conflicts (summary, filter, page 2, bulk resolution with progress),
syncs from a remote in the admin (preview, confirm); a company user is
refused."""

from __future__ import annotations

import os
import time

import pytest
from django.utils import timezone

from django_adapter.models import AttendanceRecord, Company

from .. import browser as chromium
from .conftest import PASSWORD, make_user, parse, seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    if chromium.missing():
        pytest.skip(chromium.missing())
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls
    # the tests make between its calls are synchronous and safe.  Only while
    # this module runs: a deploy check must never see the variable.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            launched = chromium.launch(p)
            yield launched
            launched.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser, live_server, worker):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, username: str) -> None:
    chromium.log_in(page, username, PASSWORD)


def count(page, name: str) -> int:
    return int(page.locator(f'[data-count="{name}"]').inner_text().replace(",", ""))


def result(page, name: str) -> str:
    return page.locator(f'[data-result="{name}"]').inner_text()


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


def test_backup_download_change_upload_preview_apply_summary(page, tmp_path, worker):
    worker.start("slow")
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
    assert (count(page, "add"), count(page, "differ"), count(page, "skip")) == (250, 1, 349)  # once per record
    assert page.locator("td.changed del").first.inner_text() == "5"

    page.click("text=Apply restore")
    page.wait_for_url("**/jobs/*/")
    widths = watch_progress(page)
    assert widths[-1] == "100%" and page.locator("#job").get_attribute("data-state") == "done"
    # (whether a poll lands mid-way is a matter of timing: the job's steps
    # are checked where they are made, not by racing the worker)
    assert (result(page, "added"), result(page, "updated"), result(page, "kept"), result(page, "waiting"),
            result(page, "skipped")) == ("250", "1", "0", "0", "349")
    assert result(page, "time").endswith(" s")
    assert AttendanceRecord.objects.count() == 600
    assert AttendanceRecord.objects.get(pk=first.pk).overstay == first.overstay


def test_a_conflict_is_settled_on_the_conflicts_page(page, tmp_path, worker):
    from django_adapter.web.backup import write_file

    worker.start()
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
    assert count(page, "differ") == 1
    page.click("text=Apply restore")
    page.wait_for_selector("#summary")
    page.click("#summary >> text=Resolve them on the Conflicts page")
    page.wait_for_url("**/conflicts/")
    page.wait_for_selector("section.conflict")  # (count() does not wait for the page to arrive)

    conflict = page.locator("section.conflict")
    assert conflict.count() == 1 and record.ep_no in conflict.locator("h2").inner_text()
    assert conflict.locator("tr.disputed th").all_inner_texts() == ["Status"]
    assert conflict.locator("thead").inner_text().split() == ["FIELD", "DATABASE", "INCOMING", "KEEP"]
    assert conflict.locator("label", has_text="incoming").count() == 1  # the same words as the headers
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


def test_five_thousand_conflicts_summary_filter_page_two_and_bulk_resolution(page, tmp_path, worker):
    from attgit.ops.mergestate import MergeState
    from django_adapter.repository import open_repository

    from .merges import seed_conflicts

    seed_conflicts(tmp_path, 5000)
    make_user("root", role="root")
    worker.start("slow")
    log_in(page, "root")
    page.goto("/conflicts/")
    assert page.locator("[data-pending]").inner_text() == "5,000"
    summary = page.locator("#conflict-summary")
    companies = summary.locator("tr[data-company]")
    fields, kinds = summary.locator("tr[data-field]"), summary.locator("tr[data-kind]")
    assert companies.count() >= 2 and kinds.count() == 3 and "Overstay" in fields.all_inner_texts()[0]
    assert summary.locator(".hbar").count() == companies.count() + fields.count() + kinds.count()
    assert "both changed" in summary.inner_text() and "changed here, deleted there" in summary.inner_text()
    widths = summary.locator("tr[data-company] .hbar").evaluate_all("bars => bars.map(b => b.style.width)")
    assert "100%" in widths and all(float(w.rstrip("%")) > 0 for w in widths)
    assert page.locator("section.conflict").count() == 20

    company = companies.first.get_attribute("data-company")
    shown = int(companies.first.locator("td.num").inner_text().replace(",", ""))
    page.select_option("#filter select[name=company]", company)
    page.click("#filter >> text=Show")
    page.wait_for_url("**company=*")
    assert page.locator("[data-shown]").inner_text().replace(",", "") == str(shown)
    assert set(page.locator("section.conflict h2").all_inner_texts()) and all(
        t.startswith(company) for t in page.locator("section.conflict h2").all_inner_texts())
    page.click("nav.pages >> text=next ›")
    page.wait_for_url("**page=2*")
    assert page.locator("[data-page]").inner_text().startswith("page 2 of ")
    assert all(t.startswith(company) for t in page.locator("section.conflict h2").all_inner_texts())

    page.click("#all-ours")
    page.wait_for_url("**/jobs/*/")
    bar = watch_progress(page)
    assert bar and bar[-1] == "100%", bar  # polled until done (mid-way values depend on timing)
    assert page.locator('[data-result="resolved"]').inner_text().replace(",", "") == str(shown)
    page.click("#back-to-conflicts")
    assert page.locator("[data-pending]").inner_text().replace(",", "") == str(5000 - shown)
    state = MergeState.load(open_repository())
    assert len(state.pending()) == 5000 - shown
    assert all(c.key[1] != company for c in state.pending())


def test_the_admin_syncs_a_remote_after_a_preview(page, tmp_path, worker):
    from django_adapter.models import Remote, User

    from .merges import Upstream

    upstream = Upstream(tmp_path, [{**r} for r in _records(40)])
    upstream.publish()
    Remote.objects.create(name="prod", url=str(upstream.hub))
    make_user("boss", role="root", is_staff=True)
    assert not User.objects.get(username="boss").is_superuser  # a root-role staff user may sync
    User.objects.get(username="boss").user_permissions.add(*_remote_permissions())
    worker.start()
    log_in(page, "boss")
    page.goto("/admin/attendance/remote/")
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", "sync_from_remote")
    page.click("button[name=index]")
    page.wait_for_selector("#sync-preview")  # after the preview job's progress
    assert page.locator('[data-count="add"]').inner_text() == "40"
    assert AttendanceRecord.objects.count() == 0  # the preview changed nothing
    page.click("#confirm-sync")
    page.wait_for_url("**/jobs/*/")
    page.wait_for_selector("#summary")
    assert page.locator('[data-result="added"]').inner_text() == "40"
    assert "Synced from prod (fast-forward)" in page.locator("[data-sync-message]").inner_text()
    assert AttendanceRecord.objects.count() == 40


def _records(n: int) -> list:
    from django_adapter.demodata import demo_records

    return list(demo_records(n, 2))


def _remote_permissions():
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(codename__in=["view_remote", "change_remote"])


def test_a_passphrase_backup_downloads_and_restores_only_with_its_passphrase(page, tmp_path, worker):
    """Issue 20.3: an encrypted download, then a restore with the passphrase;
    a wrong one (at the preview, then at Apply) changes nothing."""
    from attgit.format.backup import crypto
    from django_adapter.models import Job

    secret = "a long and memorable passphrase"
    worker.start()
    seed(200, companies=4)
    make_user("root", role="root")
    log_in(page, "root")

    page.click("nav.sections >> text=Backup")
    page.check("input[name=encryption][value=passphrase]")
    page.fill("input[name=passphrase]", secret)
    page.fill("input[name=passphrase_again]", secret)
    page.click("text=Create backup")
    page.wait_for_selector("#summary")
    with page.expect_download() as info:
        page.click("[data-download]")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.name.endswith(".json.gz.gpg") and crypto.is_encrypted(saved.read_bytes()[:64])

    doomed = list(AttendanceRecord.objects.order_by("-id").values_list("id", flat=True)[:50])
    AttendanceRecord.objects.filter(id__in=doomed).delete()
    before = sorted(AttendanceRecord.objects.values_list("ep_no", "company__name", "date", "status"))

    page.click("nav.sections >> text=Restore")
    page.set_input_files("input[type=file]", str(saved))
    page.fill("input[name=passphrase]", "not the passphrase")
    page.click("text=Upload and preview")
    page.wait_for_selector("text=wrong passphrase")
    assert AttendanceRecord.objects.count() == 150

    page.goto("/restore/")
    page.set_input_files("input[type=file]", str(saved))
    page.fill("input[name=passphrase]", secret)
    page.click("text=Upload and preview")
    page.wait_for_selector(".tiles")
    assert (count(page, "add"), count(page, "skip")) == (50, 150)
    preview = page.url

    page.fill("form.apply input[name=passphrase]", "still not it")
    page.click("text=Apply restore")
    page.wait_for_url("**/jobs/*/")
    page.wait_for_selector("text=wrong passphrase")
    assert sorted(AttendanceRecord.objects.values_list("ep_no", "company__name", "date", "status")) == before

    page.goto(preview)
    page.fill("form.apply input[name=passphrase]", secret)
    page.click("text=Apply restore")
    page.wait_for_url("**/jobs/*/")
    page.wait_for_selector("#summary")
    assert result(page, "added") == "50" and AttendanceRecord.objects.count() == 200
    for job in Job.objects.all():  # the passphrase was wiped from every job once used
        assert secret not in str(job.params) and "not the passphrase" not in str(job.params), job.params


def test_a_downloaded_backup_is_compared_with_a_later_snapshot(page, tmp_path, worker):
    """Issue 20.6: the history page's compare form takes a file on one side."""
    worker.start()
    seed(60, companies=3)
    make_user("root", role="root")
    log_in(page, "root")
    page.click("nav.sections >> text=Backup")
    page.click("text=Create backup")
    page.wait_for_selector("#summary")
    with page.expect_download() as info:
        page.click("[data-download]")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)

    first = AttendanceRecord.objects.order_by("id").first()
    AttendanceRecord.objects.filter(pk=first.pk).update(overstay="7", updated_at=timezone.now())
    page.click("nav.sections >> text=Backup")
    page.click("text=Create backup")
    page.wait_for_selector("#summary")

    page.goto("/history/")
    form = page.locator("#compare-file")
    form.locator("input[type=file]").set_input_files(str(saved))
    form.locator("input[name=side][value=a]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".tiles")
    totals = {k: page.locator(f'[data-total="{k}"]').inner_text() for k in ("added", "removed", "changed")}
    assert totals == {"added": "0", "removed": "0", "changed": "1"}
    assert page.locator("td.changed ins").first.inner_text() == "7"
    assert saved.name in page.locator("main").inner_text()


def test_the_schedule_page_shows_the_next_run_and_the_last_results(page, settings):
    """Issue 20.4: the root page of the schedule, reached from the menu."""
    from django_adapter.schedule import run_due

    settings.ATTGIT_SCHEDULE = {"snapshot": "weekly mon 02:00", "backup": "0 3 * * *", "keep": {"days": 30}}
    seed(20, companies=2)
    run_due()
    make_user("root", role="root")
    log_in(page, "root")
    page.click("nav.sections >> text=Schedule")
    page.wait_for_selector("tr[data-kind=snapshot]")
    assert "weekly mon 02:00" in page.locator("tr[data-kind=snapshot]").inner_text()
    assert page.locator("tr[data-kind=backup] td[data-next]").inner_text().strip()
    text = page.locator("main").inner_text()
    assert "committed" in text and "written" in text and "keep those from the last 30 days" in text
