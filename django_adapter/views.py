"""The attendance pages."""

from __future__ import annotations

import functools

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.shortcuts import render

from .access import is_root, visible_records
from .models import Company
from .web.account import login_url

PAGE_SIZE = 50


def login_required(view):
    """Django's ``login_required``, sending visitors to the app's login page
    unless the project names its own (``LOGIN_URL``)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url())
        return view(request, *args, **kwargs)

    return wrapped


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
