"""What the restore page says happened is what the database holds, for
each strategy, for a choice changed between the preview and Apply, and for
a selective restore -- in a real browser, with a real background worker,
reading the database afterwards (issue 17 part 1, issue 20 part 2)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from attgit.ops.mergestate import MergeState
from django_adapter.models import AttendanceRecord, BackupLog
from django_adapter.repository import open_repository

from .conftest import make_user, seed
from .test_browser import browser, count, log_in, page, result  # noqa: F401 - fixtures and helpers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHANGED, DELETED = 4, 3


def database() -> dict:
    return {(r.ep_no, r.company.name, r.date.isoformat()): (r.status, r.overstay)
            for r in AttendanceRecord.objects.select_related("company")}


def prepared(tmp_path) -> tuple:
    """60 records in a backup file; then CHANGED records get overstay 9.5
    in the database and DELETED are deleted: (file, file's data, database now)."""
    from django_adapter.web.backup import write_file

    seed(60)
    saved = tmp_path / "backup.json"
    write_file(saved, "full", None, "root", lambda done, total: None)
    in_file = database()
    changed = list(AttendanceRecord.objects.order_by("id").values_list("id", flat=True)[:CHANGED])
    AttendanceRecord.objects.filter(id__in=changed).update(overstay="9.5", updated_at=timezone.now())
    doomed = list(AttendanceRecord.objects.order_by("-id").values_list("id", flat=True)[:DELETED])
    AttendanceRecord.objects.filter(id__in=doomed).delete()
    return saved, in_file, database()


def upload_and_preview(tab, saved) -> None:
    tab.goto("/restore/")
    tab.set_input_files("input[type=file]", str(saved))
    tab.click("text=Upload and preview")
    tab.wait_for_selector(".tiles")


def choose_and_update(tab, strategy: str) -> None:
    tab.check(f"input[name=strategy][value={strategy}]")
    tab.click("button[value=preview]")
    tab.wait_for_selector(f"#previewed[data-strategy={strategy}]")


def said(tab) -> dict:
    tab.wait_for_selector("#summary")
    return {name: int(result(tab, name).replace(",", "")) for name in ("added", "updated", "kept", "waiting", "skipped")}


@pytest.mark.parametrize("strategy", ["theirs", "ours", "manual"])
def test_each_strategy_does_what_the_page_says(page, tmp_path, worker, strategy):  # noqa: F811
    worker.start()
    make_user("root", role="root")
    saved, in_file, before = prepared(tmp_path)
    log_in(page, "root")
    upload_and_preview(page, saved)
    if strategy != "theirs":
        choose_and_update(page, strategy)
    assert page.locator("input[name=strategy]:checked").get_attribute("value") == strategy
    assert (count(page, "add"), count(page, "differ"), count(page, "skip")) == (DELETED, CHANGED, 60 - DELETED - CHANGED)
    page.click("button[value=apply]")
    page.wait_for_url("**/jobs/*/")
    shown = said(page)
    summary = page.locator("#summary").inner_text()

    after = database()
    assert len(after) == len(in_file) == 60
    differs = {k for k in after if after[k] != before.get(k)}
    assert shown["added"] == DELETED == len(set(after) - set(before))
    assert sum(shown.values()) == 60  # each record of the file counted once
    if strategy == "theirs":
        assert after == in_file and shown["updated"] == CHANGED
        assert len(differs) == shown["added"] + shown["updated"]
        assert "settled by “backup wins”" in summary
    else:
        assert {k: v for k, v in after.items() if k in before} == before  # the database's versions kept
        assert shown["updated"] == 0 and len(differs) == shown["added"]
        assert (shown["kept"], shown["waiting"]) == ((CHANGED, 0) if strategy == "ours" else (0, CHANGED))
    pending = MergeState.load(open_repository())
    if strategy == "manual":
        assert len(pending.pending()) == CHANGED and "4 conflicts wait for you" in summary
    else:
        assert pending is None
    log = BackupLog.objects.get(operation="restore", success=True)
    assert log.details["strategy"] == strategy and log.records_added == shown["added"]


def test_a_choice_changed_after_the_preview_is_not_applied(page, tmp_path, worker):  # noqa: F811
    worker.start()
    make_user("root", role="root")
    saved, in_file, before = prepared(tmp_path)
    log_in(page, "root")
    upload_and_preview(page, saved)
    assert page.locator("#previewed").get_attribute("data-strategy") == "theirs"
    page.check("input[name=strategy][value=ours]")  # "Database wins" ...
    page.click("button[value=apply]")  # ... and Apply, without updating the preview
    page.wait_for_selector("#previewed[data-strategy=ours]")  # the preview of what was chosen, worked out anew
    assert "you changed the strategy since the preview: preview again" in page.locator(".messages").inner_text()
    assert database() == before and not BackupLog.objects.filter(operation="restore").exists()

    page.click("button[value=apply]")  # now it is what was previewed
    shown = said(page)
    after = database()
    assert {k: v for k, v in after.items() if k in before} == before and len(after) == 60
    assert shown["updated"] == 0 and shown["added"] == DELETED
    assert BackupLog.objects.get(operation="restore").details["strategy"] == "ours"


def test_a_selective_restore_touches_only_the_chosen_company(page, tmp_path, worker):  # noqa: F811
    worker.start()
    make_user("root", role="root")
    saved, in_file, before = prepared(tmp_path)
    chosen = sorted({k[1] for k in in_file})[1]
    log_in(page, "root")
    upload_and_preview(page, saved)
    page.check(f"#selection input[name=companies][value='{chosen}']")
    page.click("button[value=preview]")
    page.wait_for_selector(f"#previewed:has-text('{chosen}')")
    expected_add = len({k for k in in_file if k[1] == chosen} - set(before))
    expected_update = len({k for k in before if k[1] == chosen and before[k] != in_file[k]})
    assert count(page, "add") == expected_add
    page.click("button[value=apply]")
    shown = said(page)
    after = database()
    assert (shown["added"], shown["updated"]) == (expected_add, expected_update)
    assert {k: v for k, v in after.items() if k[1] != chosen} == {k: v for k, v in before.items() if k[1] != chosen}
    assert {k: v for k, v in after.items() if k[1] == chosen} == {k: v for k, v in in_file.items() if k[1] == chosen}
    assert BackupLog.objects.get(operation="restore").details["selection"]["companies"] == [chosen]
