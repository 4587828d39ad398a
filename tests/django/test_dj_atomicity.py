"""Property 13 on a real database: an apply that fails anywhere leaves every
row and the sync state exactly as they were (real transactions)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from attgit.errors import DatabaseError
from attgit.format import records as rec
from attgit.workingcopy import CompanyChange
from django_adapter.demodata import demo_records
from django_adapter.models import AttendanceRecord, Company, SyncState

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seeded(wc):
    """3,000 records of 3 companies, a company user, and a recorded commit;
    the change log starts empty (a transactional test's flush before this
    one logs the rows it deleted: the ``wc`` fixture empties it as attgit
    consumes entries, since the log's guard takes any other deletion for a
    gap)."""
    records = list(demo_records(3000, companies=3, seed=5))
    by_company: dict[str, list] = {}
    for r in records:
        by_company.setdefault(r["company"], []).append(r)
    wc.apply([CompanyChange(c, inserts=rs, create=True) for c, rs in by_company.items()], "c0")
    get_user_model().objects.create_user(
        "staff", company=Company.objects.get(name=sorted(by_company)[1]))
    return by_company


def everything() -> dict:
    """Every row the apply could touch, with ids and timestamps."""
    return {
        "records": sorted(AttendanceRecord.objects.values_list()),
        "companies": sorted(Company.objects.values_list()),
        "state": list(SyncState.objects.values_list()),
        "users": sorted(get_user_model().objects.values_list("username", "company_id")),
    }


def big_change(by_company: dict) -> list[CompanyChange]:
    """Deletes, updates and inserts over several batches, a new company and
    a dropped one: every kind of write happens before the failure."""
    first, second, third = sorted(by_company)
    rows = by_company[first]
    return [
        CompanyChange(first,
                      deletes=[rec.key(r) for r in rows[:300]],
                      updates=[{**r, "status": "A", "in_time": None, "out_time": None}
                               for r in rows[300:900]],
                      inserts=[{**r, "date": "2028" + r["date"][4:]} for r in rows]),
        CompanyChange("Brand New Co", inserts=[{**r, "company": "Brand New Co"} for r in rows[:10]],
                      create=True),
        CompanyChange(second, drop=True),
        CompanyChange(third, updates=[{**r, "overstay": "9"} for r in by_company[third][:1500]]),
    ]


def test_a_progress_callback_that_raises_midway_rolls_everything_back(wc, seeded):
    before = everything()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done >= 2500:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        wc.apply(big_change(seeded), "c1", progress=progress, total=4000)
    assert seen[-1] >= 2500 and all(b - a <= 1000 for a, b in zip([0] + seen, seen))
    assert everything() == before
    assert wc.state().commit == "c0"


def test_a_unique_violation_midway_rolls_everything_back(wc, seeded):
    before = everything()
    changes = big_change(seeded)
    first = sorted(seeded)[0]
    changes.append(CompanyChange(first, inserts=[seeded[first][950]]))  # exists already
    with pytest.raises(DatabaseError, match="nothing was changed"):
        wc.apply(changes, "c1")
    assert everything() == before


def test_an_update_of_a_missing_record_rolls_everything_back(wc, seeded):
    before = everything()
    changes = big_change(seeded)
    changes.append(CompanyChange("Brand New Co", updates=[{**seeded[sorted(seeded)[0]][0],
                                                          "company": "Brand New Co",
                                                          "date": "2031-01-01"}]))
    with pytest.raises(DatabaseError, match="matched 0 rows"):
        wc.apply(changes, "c1")
    assert everything() == before


def test_the_same_change_applies_when_nothing_fails(wc, seeded):
    result = wc.apply(big_change(seeded), "c1", progress=lambda d, t: None, total=4000)
    assert (result.deleted, result.inserted, result.companies_dropped) == (300, 1010, 1)
    assert wc.state().commit == "c1"
    assert wc.log_size() == 0  # its own writes consumed in its transaction
