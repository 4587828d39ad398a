"""Selective restore in the design document's API (issue 20 part 2):
RestoreService.preview_changes and restore_backup take companies and a
date range, as restore_data's --company/--from/--to do, and log them."""

from __future__ import annotations

import datetime as dt

import pytest
from dj_helpers import reset_db
from django.core.management import call_command

from attgit.format import records as rec
from django_adapter.models import AttendanceRecord, BackupLog
from django_adapter.services import RestoreService

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def backup(wc, settings, tmp_path):
    """A file of 2 companies x 2 days x 3 employees; then the database emptied."""
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    reset_db()
    wc.bulk_load([rec.normalise({"ep_no": f"E{i}", "company": c, "date": d, "status": "P"})
                  for c in ("A Corp", "B Corp") for d in ("2025-01-02", "2025-01-03") for i in range(3)])
    path = tmp_path / "full.json"
    call_command("backup_data", "--output", str(path))
    AttendanceRecord.objects.all().delete()
    return path


def held() -> set:
    return {(r.company.name, r.date.isoformat()) for r in AttendanceRecord.objects.select_related("company")}


def test_preview_counts_only_the_selection(backup):
    preview = RestoreService().preview_changes(backup, companies=["B Corp"], date_to=dt.date(2025, 1, 2))
    assert preview["errors"] == [] and preview["to_add"] == 3
    assert preview["selection"] == {"companies": ["B Corp"], "date_from": "", "date_to": "2025-01-02"}
    assert AttendanceRecord.objects.count() == 0  # a preview writes nothing


def test_restore_applies_and_logs_only_the_selection(backup):
    outcome = RestoreService().restore_backup(backup, companies=["A Corp"], date_from="2025-01-03")
    assert outcome["success"] and outcome["added"] == 3, outcome
    assert held() == {("A Corp", "2025-01-03")}
    log = BackupLog.objects.filter(operation="restore", success=True).latest("created_at")
    assert log.details["selection"] == {"companies": ["A Corp"], "date_from": "2025-01-03", "date_to": ""}


def test_an_unknown_company_or_reversed_dates_change_nothing(backup):
    outcome = RestoreService().restore_backup(backup, companies=["Nope Ltd"])
    assert not outcome["success"] and "no company 'Nope Ltd' in the file" in outcome["errors"][0]
    reversed_dates = RestoreService().preview_changes(backup, date_from="2025-01-03", date_to="2025-01-02")
    assert "is after" in reversed_dates["errors"][0]
    assert AttendanceRecord.objects.count() == 0
    assert not BackupLog.objects.filter(operation="restore", success=True).exists()
