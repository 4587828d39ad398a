"""The edits the ./demo script makes on each side (kept in code so the
demo's story is readable and the same every run)."""

from __future__ import annotations

import datetime as dt

from .models import AttendanceRecord, Company


def _first(ep_no: str) -> AttendanceRecord:
    return AttendanceRecord.objects.filter(ep_no=ep_no).order_by("date", "company__name").first()


def edit(side: str) -> None:
    one, two = _first("EMP00001"), _first("EMP00002")
    if side == "dev":
        one.status, one.in_time, one.out_time = "A", None, None
        two.in_time = dt.time(8, 45)
    else:
        one.status = "L"
        two.out_time = dt.time(19, 30)
        new = Company.objects.create(name="Northwind Logistics")
        AttendanceRecord.objects.create(ep_no="NW001", ep_name="Asha Rao", company=new, date=one.date,
                                        shift="Day", status="P", in_time=dt.time(9), out_time=dt.time(18),
                                        overstay="0")
    one.save()
    two.save()
