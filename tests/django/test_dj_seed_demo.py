"""seed_demo: deterministic demo data through the bulk path, and its users."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from attgit.format import records as rec
from django_adapter.demodata import company_names, demo_records, share
from django_adapter.models import AttendanceRecord, Company, User

pytestmark = pytest.mark.django_db


def seed(*args) -> list[dict]:
    call_command("seed_demo", *args, stdout=None)
    from django_adapter.workingcopy import connect

    return list(connect().all_records())


def test_same_arguments_give_identical_rows():
    first = seed("--records", "400", "--companies", "3", "--seed", "7")
    again = seed("--records", "400", "--companies", "3", "--seed", "7", "--clear")
    assert first == again
    other = seed("--records", "400", "--companies", "3", "--seed", "8", "--clear")
    assert other != first and len(other) == 400


def test_counts_names_and_valid_records():
    records = seed("--records", "1003", "--companies", "4", "--start-date", "2025-02-01")
    assert len(records) == AttendanceRecord.objects.count() == 1003
    assert sorted(Company.objects.values_list("name", flat=True)) == sorted(company_names(4))
    assert all(rec.normalise(r) == r for r in records)
    assert min(r["date"] for r in records) == "2025-02-01"
    assert {r["status"] for r in records} >= {"P", "A", "WO"}
    assert {r["shift"] for r in records} == {"Day", "Night", "General"}
    worked = [r for r in records if r["status"] == "P"]
    assert all(r["in_time"] and r["out_time"] for r in worked)
    assert all(r["in_time"] is None for r in records if r["status"] in ("A", "L", "WO", "H"))


def test_the_generator_is_deterministic_and_sized():
    assert list(demo_records(50, 2, seed=3)) == list(demo_records(50, 2, seed=3))
    assert sum(share(10, 3)) == 10 and share(10, 3) == [4, 3, 3]
    assert len(set(company_names(500))) == 500


def test_root_and_company_users():
    seed("--records", "100", "--companies", "2", "--users", "--root-password", "s3cret",
         "--user-password", "pw")
    root = authenticate(username="root", password="s3cret")
    assert root is not None and root.is_root and root.is_superuser
    company_users = User.objects.filter(role=User.COMPANY)
    assert {u.company.name for u in company_users} == set(company_names(2))
    assert authenticate(username=company_users[0].username, password="pw") is not None


def test_refuses_to_seed_over_existing_records_without_clear():
    seed("--records", "10", "--companies", "1")
    with pytest.raises(CommandError, match="--clear"):
        call_command("seed_demo", "--records", "10")
    assert AttendanceRecord.objects.count() == 10


def test_does_not_record_a_commit():
    from django_adapter.workingcopy import connect

    seed("--records", "10", "--companies", "1")
    assert connect().state().commit is None
