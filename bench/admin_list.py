"""Time the Django admin's list of attendance records on the database the
environment names (``DATABASE_URL`` / the example site's settings).

    DATABASE_URL=sqlite:////tmp/scale/prod.sqlite3 python bench/admin_list.py

Prints the wall and CPU time of the first page (a root user, no filter),
the same with a company filter, and the SQL each ran with its time.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "attendance_site.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from django_adapter.models import Company, User  # noqa: E402

URL = "/admin/attendance/attendancerecord/"


def timed(client: Client, url: str, label: str) -> None:
    with CaptureQueriesContext(connection) as queries:
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert response.status_code == 200, (label, response.status_code)
    print(f"{label:32} {wall:6.3f} s wall {cpu:6.3f} s cpu, {len(queries)} queries")
    for q in sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]:
        print(f"    {float(q['time']):6.3f} s  {q['sql'][:150]}")


def main() -> None:
    user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    client.get(URL)  # warm the page cache and the templates
    timed(client, URL, "list, first page")
    timed(client, URL + "?p=50", "list, page 51")
    company = Company.objects.order_by("name").first()
    if company is not None:
        timed(client, f"{URL}?company__id__exact={company.pk}", "list, one company")
    timed(client, URL + "?status__exact=A", "list, status A")


if __name__ == "__main__":
    main()
