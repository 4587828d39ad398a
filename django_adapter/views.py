"""The attendance pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from .access import is_root, visible_records
from .models import Company

PAGE_SIZE = 50


@login_required
def attendance_list(request):
    """Attendance records, 50 a page; root users may filter by company."""
    root = is_root(request.user)
    company_id = _company_filter(request) if root else None
    page = Paginator(visible_records(request.user, company_id), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "attendance/attendance_list.html",
        {
            "page": page,
            "is_root": root,
            "companies": Company.objects.only("id", "name") if root else (),
            "company_id": company_id,
            "own_company": None if root else getattr(request.user, "company", None),
        },
    )


def _company_filter(request) -> int | None:
    """The ``?company=<id>`` filter, ignored unless it is a number."""
    value = request.GET.get("company", "")
    return int(value) if value.isdigit() else None
