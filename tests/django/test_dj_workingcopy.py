"""DjangoWorkingCopy reads back what it writes, in snapshot order, and keeps
its state and its change log honest."""

from __future__ import annotations

import datetime as dt

import pytest
from dj_helpers import in_stream_order, keys, reset_db
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import given
from strategies import datasets

from attgit.errors import DatabaseError
from attgit.format import records as rec
from attgit.workingcopy import CompanyChange, DatabaseState
from django_adapter.models import AttendanceRecord, Company, SyncState

pytestmark = pytest.mark.django_db


def make(ep_no="E001", company="ABC Corp", date="2024-01-01", **fields) -> dict:
    return rec.normalise({"ep_no": ep_no, "company": company, "date": date,
                          "status": "P", **fields})


def load(wc, records, commit="c0"):
    """Insert ``records`` with apply(), one change per company."""
    grouped: dict[str, list] = {}
    for r in records:
        grouped.setdefault(r["company"], []).append(r)
    return wc.apply([CompanyChange(c, inserts=rs, create=True) for c, rs in grouped.items()], commit)


@given(datasets(max_size=30))
def test_apply_then_read_back_gives_the_same_records_sorted(wc, dataset):
    reset_db()
    result = load(wc, dataset)
    assert result.inserted == len(dataset)
    assert wc.companies() == sorted({r["company"] for r in dataset})
    assert list(wc.all_records()) == in_stream_order(dataset)
    for company in wc.companies():
        got = list(wc.records(company))
        assert got == sorted(got, key=rec.sort_key)


@given(datasets(max_size=30))
def test_from_db_row_agrees_with_normalise_on_real_rows(wc, dataset):
    reset_db()
    load(wc, dataset)
    for company in wc.companies():
        for row in wc.rows(company):
            assert rec.from_db_row(row) == rec.normalise(dict(zip(rec.FIELDS, row)))


def test_order_is_python_string_order_whatever_the_collation(wc):
    ep_nos = ["a1", "B2", "b1", "Z", "_x", "E10", "E9", "é", "e"]
    load(wc, [make(ep_no=e) for e in ep_nos] + [make(ep_no="A", date="2023-12-31")])
    assert [r["ep_no"] for r in wc.records("ABC Corp")] == ["A"] + sorted(ep_nos)


def test_times_with_seconds_and_empty_values_round_trip(wc):
    records = [
        make("E1", in_time="09:05:07", out_time="23:59:59", ep_name="", shift="", overstay=""),
        make("E2", in_time=None, out_time="00:00", status="A"),
    ]
    load(wc, records)
    assert list(wc.records("ABC Corp")) == records


def test_times_are_stored_as_django_stores_them(wc):
    load(wc, [make(in_time="09:05", out_time="17:30:15")])
    row = AttendanceRecord.objects.get()
    assert (row.in_time, row.out_time) == (dt.time(9, 5), dt.time(17, 30, 15))
    assert AttendanceRecord.objects.filter(in_time=dt.time(9, 5)).count() == 1


def test_apply_updates_deletes_and_stamps_times(wc):
    a, b = make("E1"), make("E2")
    load(wc, [a, b])
    before = AttendanceRecord.objects.get(ep_no="E1")
    changed = {**a, "status": "A", "in_time": "10:00"}
    result = wc.apply([CompanyChange("ABC Corp", updates=[changed], deletes=[rec.key(b)])], "c1")
    assert (result.updated, result.deleted) == (1, 1)
    assert list(wc.records("ABC Corp")) == [changed]
    after = AttendanceRecord.objects.get(ep_no="E1")
    assert after.created_at == before.created_at
    assert after.updated_at > before.updated_at
    assert after.updated_at.tzinfo is not None


def test_apply_creates_and_drops_companies_and_keeps_their_users(wc):
    load(wc, [make(company="Old Co")])
    user = get_user_model().objects.create_user("old", company=Company.objects.get(name="Old Co"))
    result = wc.apply([CompanyChange("Old Co", drop=True), CompanyChange("New Co", create=True)], "c1")
    assert (result.companies_dropped, result.companies_created) == (1, 1)
    assert wc.companies() == ["New Co"]
    assert AttendanceRecord.objects.count() == 0
    user.refresh_from_db()
    assert user.company is None


def test_apply_records_the_commit_and_consumes_its_own_log_entries(wc):
    wc.set_state(DatabaseState(None), consume=wc.changes().watermark)
    load(wc, [make()], commit="abc")  # no expect: only the apply's own entries go
    assert wc.state().commit == "abc"
    assert wc.log_size() == 0
    Company.objects.create(name="Someone's")  # logged
    load(wc, [make(company="X")], commit="abd")
    assert wc.changes().companies == {"Someone's"}  # another writer's entry stays
    high = wc.changes().watermark
    load(wc, [make(company="Y")], commit="abe")
    wc.apply([CompanyChange("Z", inserts=[make(company="Z")], create=True)], "abf", expect=high)
    assert wc.log_size() == 0 and SyncState.objects.get().commit == "abf"


def test_state_round_trips_and_starts_empty(wc):
    assert wc.state() == DatabaseState()
    wc.set_state(DatabaseState("f" * 40, 7))
    assert wc.state() == DatabaseState("f" * 40, 7)
    wc.set_state(DatabaseState(None))
    assert wc.state() == DatabaseState() and SyncState.objects.count() == 1


def test_the_log_names_every_change_with_its_key(wc):
    load(wc, [make("E1"), make("E2"), make("E1", company="Other")])
    wc.set_state(DatabaseState("c0"), consume=wc.changes().watermark)
    Company.objects.create(name="Empty")
    assert wc.changes().companies == {"Empty"} and wc.changes().keys == {}

    row = AttendanceRecord.objects.get(ep_no="E1", company__name="ABC Corp")
    row.status = "A"
    row.save()  # an edit through the ORM, as the admin makes it
    assert wc.changes().keys == {"ABC Corp": {("E1", "ABC Corp", "2024-01-01")}}

    AttendanceRecord.objects.filter(ep_no="E2").delete()
    AttendanceRecord.objects.create(ep_no="E9", company=Company.objects.get(name="Other"),
                                    date=dt.date(2024, 1, 2), status="P")
    AttendanceRecord.objects.filter(ep_no="E1", company__name="Other").update(date=dt.date(2024, 2, 1))
    changes = wc.changes()
    assert changes.keys == {
        "ABC Corp": {("E1", "ABC Corp", "2024-01-01"), ("E2", "ABC Corp", "2024-01-01")},
        "Other": {("E9", "Other", "2024-01-02"), ("E1", "Other", "2024-01-01"), ("E1", "Other", "2024-02-01")},
    }
    Company.objects.filter(name="Other").update(name="Renamed")
    assert wc.changes().companies == {"Empty", "Other", "Renamed"}
    assert sorted(r["date"] for r in wc.records_at("Renamed", [("E1", "Renamed", "2024-02-01"),
                                                               ("E1", "Renamed", "2024-01-01")])) == ["2024-02-01"]


def test_bulk_load_inserts_without_claiming_a_commit(wc):
    wc.set_state(DatabaseState("c0"))
    # Not grouped by company: B's records come in two runs.
    records = [make(f"E{n}", company=c) for c, ns in (("B", [0, 1]), ("A", [0, 1, 2]), ("B", [5]))
               for n in ns]
    result = wc.bulk_load(iter(records))
    assert result.inserted == len(records)
    assert wc.state() == DatabaseState("c0")
    assert keys(wc.all_records()) == keys(records)
    assert wc.changes().keys.keys() == {"A", "B"}  # to attgit, edits like any other


def test_bulk_load_can_drop_companies_first(wc):
    wc.bulk_load([make()])
    wc.bulk_load([make(status="A")], drop=["ABC Corp"])
    assert list(wc.all_records()) == [make(status="A")]


def test_records_since_filters_on_updated_at(wc):
    load(wc, [make("E1"), make("E2"), make("E3", company="Z")])
    old, new = timezone.now() - dt.timedelta(days=2), timezone.now()
    AttendanceRecord.objects.update(updated_at=old)
    AttendanceRecord.objects.filter(ep_no="E2").update(updated_at=new)
    assert [r["ep_no"] for r in wc.records_since(new - dt.timedelta(seconds=1))] == ["E2"]
    assert [r["ep_no"] for r in wc.records_since(new)] == ["E2"]  # on or after
    assert len(list(wc.records_since(old))) == 3
    naive = timezone.make_naive(new + dt.timedelta(seconds=1))
    assert list(wc.records_since(naive)) == []


def test_companies_with_created_at(wc):
    load(wc, [make(company="B"), make(company="A")])
    got = wc.companies_with_created_at()
    assert [c["name"] for c in got] == ["A", "B"]
    assert all(c["created_at"].tzinfo is not None for c in got)


def test_an_update_of_a_missing_record_is_refused(wc):
    load(wc, [make("E1")])
    with pytest.raises(DatabaseError, match="matched 0 rows"):
        wc.apply([CompanyChange("ABC Corp", updates=[make("E404")])], "c1")
    assert list(wc.all_records()) == [make("E1")]


def test_reading_streams_in_batches(wc, monkeypatch):
    import django_adapter.workingcopy as module

    monkeypatch.setattr(module, "FETCH_SIZE", 7)
    records = [make(f"E{n:03d}") for n in range(50)]
    load(wc, records)
    assert list(wc.records("ABC Corp")) == records
