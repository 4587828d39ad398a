"""The admin's list of attendance records stays an index read at a million
rows: its order is the attendance_admin_order index's (SQLite's query plan
sorts nothing), and the page runs no DISTINCT over the table (no date
hierarchy, no filter listing every value of a column)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attgit.format import records as rec
from django_adapter.models import AttendanceRecord, User

pytestmark = pytest.mark.django_db
URL = "/admin/attendance/attendancerecord/"


def some_records(wc, n: int = 30) -> None:
    wc.bulk_load([rec.normalise({"ep_no": f"E{i:03d}", "company": f"C{i % 3}", "date": f"2024-01-{1 + i % 28:02d}",
                                 "status": "P"}) for i in range(n)])


@pytest.fixture
def root(client):
    user = User.objects.create_user("root", role=User.ROOT, is_staff=True)
    client.force_login(user)
    return user


def test_the_list_page_runs_no_distinct_over_the_records(client, wc, root):
    some_records(wc)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    assert b"E000" in response.content
    record_queries = [q["sql"] for q in queries.captured_queries if "attendance_attendancerecord" in q["sql"]]
    assert record_queries, "the page read no record"
    assert not [q for q in record_queries if "DISTINCT" in q.upper()], record_queries


def test_the_list_order_is_an_index_order(rf, wc, root):
    some_records(wc)
    model_admin = admin.site._registry[AttendanceRecord]
    request = rf.get(URL)
    request.user = root
    changelist = model_admin.get_changelist_instance(request)
    shown = [(r.date.isoformat(), r.company_id, r.ep_no) for r in changelist.result_list]
    assert shown == sorted(shown, key=lambda k: (-int(k[0].replace("-", "")), k[1], k[2])) and len(shown) == 30
    if connection.vendor != "sqlite":
        return  # PostgreSQL's planner rightly sorts 30 rows rather than read an index
    sql, params = changelist.queryset[:100].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
    assert "attendance_admin_order" in plan and "TEMP B-TREE" not in plan, plan
