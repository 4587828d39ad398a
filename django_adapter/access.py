"""Who sees which attendance records (the design document's Property 1).

One function decides it, so the list page, its tests and any later page
agree: a root user sees every company's records, a company user only
their own company's, anybody else nothing.
"""

from __future__ import annotations

from django.db.models import QuerySet

from .models import AttendanceRecord


def is_root(user) -> bool:
    """True for an authenticated root user (role root, or a superuser)."""
    return bool(user.is_authenticated and getattr(user, "is_root", False))


def visible_records(user, company_id: int | None = None) -> QuerySet:
    """The records ``user`` may see, newest day first.

    ``company_id`` narrows a root user's view to one company; it cannot
    widen a company user's.
    """
    records = AttendanceRecord.objects.select_related("company").order_by(
        "-date", "company__name", "ep_no"
    )
    if is_root(user):
        return records.filter(company_id=company_id) if company_id else records
    if user.is_authenticated and getattr(user, "company_id", None):
        return records.filter(company_id=user.company_id)
    return records.none()
