"""What the database accepts, attgit can commit exactly: model validation
and CHECK constraints (SQLite and PostgreSQL), and migration 0006's repair
of rows stored before (issue 9, point 4)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management import call_command
from django.db import DataError, IntegrityError, connection, transaction

from attgit.errors import ValidationError
from django_adapter.models import AttendanceRecord, Company

pytestmark = pytest.mark.django_db(transaction=True)


def _record(company, **fields):
    values = {"ep_no": "E1", "ep_name": "Asha", "company": company, "date": dt.date(2025, 11, 20), "shift": "Day",
              "status": "P", "in_time": dt.time(9, 0), "out_time": dt.time(17, 0), "overstay": "0"}
    values.update(fields)
    return AttendanceRecord(**values)


@pytest.mark.parametrize("name", ["name with trailing space ", " leading", "tab\t", "nbsp\xa0", "nul\x00"])
def test_company_name_is_refused_by_validation_and_by_the_database(name):
    with pytest.raises(DjangoValidationError) as err:
        Company(name=name).full_clean()
    assert "name" in err.value.message_dict
    if "\x00" in name and connection.vendor == "postgresql":
        return  # PostgreSQL text cannot hold a NUL at all (the driver refuses it)
    with pytest.raises(IntegrityError), transaction.atomic():
        Company.objects.create(name=name)
    assert not Company.objects.exists()


@pytest.mark.parametrize("fields, field", [
    ({"status": "O"}, "status"),
    ({"ep_no": "E1 "}, "ep_no"),
    ({"ep_no": ""}, "ep_no"),
    ({"ep_name": "x" * 129}, "ep_name"),
    ({"shift": " Day"}, "shift"),
    ({"in_time": dt.time(9, 0, 0, 500_000)}, "in_time"),
    ({"date": dt.date(1800, 1, 1)}, "date"),
])
def test_invalid_records_are_refused_by_validation_and_by_the_database(fields, field):
    company = Company.objects.create(name="ABC Corp")
    with pytest.raises(DjangoValidationError) as err:
        _record(company, **fields).full_clean()
    assert field in err.value.message_dict or "__all__" in err.value.message_dict, err.value.message_dict
    refused = (IntegrityError, DataError)  # PostgreSQL's varchar refuses an overlong value itself
    with pytest.raises(refused), transaction.atomic():
        _record(company, **fields).save()
    good = _record(company)
    good.full_clean()
    good.save()
    with pytest.raises(refused), transaction.atomic():
        AttendanceRecord.objects.filter(pk=good.pk).update(**fields)
    assert AttendanceRecord.objects.get().status == "P"


def test_raw_sql_meets_the_constraints_too():
    """A write from another program (no Django functions) is checked."""
    company = Company.objects.create(name="ABC Corp")
    _record(company).save()
    table = AttendanceRecord._meta.db_table
    bad_times = ["09:00:00xyz", "9:00", "25:00:00"] if connection.vendor == "sqlite" else ["09:00:00.25"]
    for value in bad_times:
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET in_time = %s", [value])
    if connection.vendor == "sqlite":
        for value in ["2024-02-30", "2024-1-01", "garbage"]:
            with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET date = %s", [value])
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET ep_no = 'E' || char(0)")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET in_time = %s", ["10:30:15" if connection.vendor == "sqlite"
                                                             else dt.time(10, 30, 15)])
    assert AttendanceRecord.objects.get().in_time == dt.time(10, 30, 15)


def _back_to_0004():
    call_command("migrate", "attendance", "0004", verbosity=0)


def _insert_raw(name, **fields):
    """Rows as a database migrated before 0006 may hold them."""
    values = {"ep_no": "E1", "ep_name": "Asha", "date": "2025-11-20", "shift": "Day", "status": "P",
              "in_time": "09:00:00", "out_time": None, "overstay": "0"}
    values.update(fields)
    companies, records = Company._meta.db_table, AttendanceRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {companies} WHERE name = %s", [name])
        found = cursor.fetchone()
        if found is None:
            cursor.execute(f"INSERT INTO {companies} (name, created_at) VALUES (%s, %s)", [name, "2025-01-01"])
            cursor.execute(f"SELECT id FROM {companies} WHERE name = %s", [name])
            found = cursor.fetchone()
        columns = ", ".join(values)
        cursor.execute(f"INSERT INTO {records} (company_id, {columns}, created_at, updated_at) "
                       f"VALUES (%s, {', '.join(['%s'] * len(values))}, %s, %s)",
                       [found[0], *values.values(), "2025-01-01", "2025-01-01"])


def test_migration_0006_repairs_what_is_unambiguous():
    _back_to_0004()
    fraction = "09:00:00.250000" if connection.vendor == "sqlite" else dt.time(9, 0, 0, 250_000)
    _insert_raw("Trim Me  ", ep_no=" E1 ", status=" P", in_time=fraction, overstay="1 ")
    _insert_raw("Trim Me  ", ep_no="E2", date="2025-11-21")
    _insert_raw("Fine", ep_no="E1")
    call_command("migrate", "attendance", verbosity=0)
    assert sorted(Company.objects.values_list("name", flat=True)) == ["Fine", "Trim Me"]
    row = AttendanceRecord.objects.get(company__name="Trim Me", date=dt.date(2025, 11, 20))
    assert (row.ep_no, row.status, row.in_time, row.overstay) == ("E1", "P", dt.time(9, 0), "1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Company.objects.create(name="again ")


def test_migration_0006_refuses_to_merge_or_guess_and_names_every_row():
    _back_to_0004()
    _insert_raw("ABC Corp")
    _insert_raw("ABC Corp ")  # trimmed, it would be ABC Corp: two companies made one
    _insert_raw("Zeta", ep_no="E1")
    _insert_raw("Zeta", ep_no="E1 ", ep_name="dup")  # trimmed, two records of E1 on one day
    _insert_raw("Zeta", ep_no="E3", status="O")
    with pytest.raises(ValidationError) as err:
        call_command("migrate", "attendance", verbosity=0)
    message = str(err.value)
    assert "3 stored rows cannot be repaired automatically" in message
    assert "company 'ABC Corp ': trimmed, it would be the name of another company" in message
    assert "company 'Zeta', employee 'E1 ', date 2025-11-20: trimmed, employee 'E1' would have two" in message
    assert "company 'Zeta', employee 'E3', date 2025-11-20: field 'status' must be one of" in message
    assert sorted(Company.objects.values_list("name", flat=True)) == ["ABC Corp", "ABC Corp ", "Zeta"]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AttendanceRecord._meta.db_table}")
        cursor.execute(f"DELETE FROM {Company._meta.db_table}")
    call_command("migrate", "attendance", verbosity=0)


def test_migration_0006_counts_one_refused_row_in_words():
    _back_to_0004()
    _insert_raw("Zeta", ep_no="E3", status="O")
    with pytest.raises(ValidationError) as err:
        call_command("migrate", "attendance", verbosity=0)
    assert "migration 0006 (validity): 1 stored row cannot be repaired automatically;" in str(err.value)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AttendanceRecord._meta.db_table}")
        cursor.execute(f"DELETE FROM {Company._meta.db_table}")
    call_command("migrate", "attendance", verbosity=0)
