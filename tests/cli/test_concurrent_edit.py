"""An edit made while attgit works is never overwritten unseen nor
recorded as committed: apply refuses when the rows moved under it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from attgit.errors import Rejected
from attgit.workingcopy import CompanyChange
from django_adapter.models import AttendanceRecord
from django_adapter.workingcopy import DjangoWorkingCopy

pytestmark = pytest.mark.django_db(transaction=True)


def test_apply_refuses_when_rows_moved_since_the_plan():
    call_command("seed_demo", records=50, companies=2, seed=1)
    db = DjangoWorkingCopy()
    seen = db.changes().watermark
    company = db.companies()[0]
    first = next(db.records(company))
    row = AttendanceRecord.objects.filter(company__name=company).order_by("id").first()
    row.ep_name = "Edited meanwhile"
    row.save()  # someone edits after attgit computed its plan
    before = sorted(AttendanceRecord.objects.values_list("id", "ep_name", "status"))
    change = CompanyChange(company, updates=[{**first, "status": "L" if first["status"] != "L" else "A"}])
    with pytest.raises(Rejected, match="changed while attgit was working"):
        db.apply([change], "f" * 40, expect=seen)
    assert sorted(AttendanceRecord.objects.values_list("id", "ep_name", "status")) == before
    assert db.state().commit is None
    db.apply([change], "f" * 40, expect=db.changes().watermark)  # against what is there now: fine
    assert db.state().commit == "f" * 40
