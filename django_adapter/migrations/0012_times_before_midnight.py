"""PostgreSQL's time accepts 24:00:00 (and stores 23:59:60 as it), which no
record can hold: the times constraint now ends before midnight there too
(issue 18.2; SQLite's already did).  Rows stored as 24:00:00 are named and
the migration stops with nothing changed: whether 23:59:60 meant 23:59:59
or the next day's 00:00 is not attgit's to guess.
"""

from django.db import migrations

from attgit.errors import ValidationError

CONSTRAINT = "attendance_times_valid"


def _constraint():
    from django_adapter.models import AttendanceRecord

    return next(c for c in AttendanceRecord._meta.constraints if c.name == CONSTRAINT)


def renew_times_constraint(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    model = apps.get_model("attendance", "AttendanceRecord")
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.name, r.ep_no, r.date FROM attendance_attendancerecord r "
                       "JOIN attendance_company c ON c.id = r.company_id "
                       "WHERE r.in_time >= '24:00:00' OR r.out_time >= '24:00:00' ORDER BY 1, 3, 2 LIMIT 51")
        rows = cursor.fetchall()
    if rows:
        named = "\n".join(f"  {ep_no} @ {company} on {date}: a time of 24:00:00" for company, ep_no, date in rows)
        raise ValidationError(f"migration 0012: stored rows hold the time 24:00:00 (PostgreSQL's 23:59:60), "
                              f"which attgit cannot commit; fix them, then run migrate again:\n{named}")
    schema_editor.remove_constraint(model, _constraint())
    schema_editor.add_constraint(model, _constraint())


class Migration(migrations.Migration):

    dependencies = [
        ('attendance', '0011_capture_always'),
    ]

    operations = [
        migrations.RunPython(renew_times_constraint, migrations.RunPython.noop),
    ]
