"""A small command run as its own process on one environment's database.

The integration tests judge real ``attgit`` processes from outside, so they
read and edit an environment's database the way a person would: in another
process, through the example site's settings (``DATABASE_URL`` /
``ATTGIT_DB_PATH`` in the environment).  Output is one JSON document.

    python dbtool.py tree            the database as a snapshot tree id (+ the commit it records)
    python dbtool.py records         every canonical record
    python dbtool.py seed N C S      N demo records over C companies, seed S (bulk, no commit)
    python dbtool.py edit < ops.json apply edits through the ORM (updated_at moves, as in the app)
    python dbtool.py serve           answer commands read one per line (a JSON list: name, args...)
                                     with one JSON line each, the connection closed in between, so
                                     a test may replace the database while it waits
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time

import django
import orjson


def db_tree() -> dict:
    """The tree id a commit of this database would have.  Built in a scratch
    repository, so the environment's own repository is never touched.  Read
    once the database is settled, in one snapshot: the companies one by one
    in autocommit could straddle another client's commit."""
    from attgit.format.snapshot import SnapshotBuilder
    from attgit.repo.repository import Repository
    from django_adapter.workingcopy import connect

    wc = connect()
    settle(wc.connection)
    with tempfile.TemporaryDirectory() as scratch, wc.consistent_read():
        repo = Repository.init(f"{scratch}/scratch.git")
        builder = SnapshotBuilder(repo.git)
        count = 0
        for company in wc.companies():
            count += builder.put_records(company, wc.records(company))[1]
        return {"tree": str(builder.write()), "commit": wc.state().commit, "records": count,
                "companies": wc.companies()}


def settle(connection, timeout: float = 60.0) -> None:
    """Wait until no other client is connected to this PostgreSQL database.
    A client killed mid-statement leaves its server process running that
    statement to its end, a COMMIT included: the state read before then may
    change after (CI once read a killed pull's COMMIT landing between two
    companies' reads).  SQLite writes in the client: a dead one writes no more."""
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
                           "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
            others = cursor.fetchall()
            if not others:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"other clients stay connected to the database: {others}")
            time.sleep(0.02)


def records() -> list:
    from django_adapter.workingcopy import connect

    return list(connect().all_records())


def seed(count: str, companies: str, seed_value: str) -> dict:
    from django_adapter.demodata import demo_records
    from django_adapter.workingcopy import connect

    result = connect().bulk_load(demo_records(int(count), int(companies), int(seed_value)))
    return {"inserted": result.inserted}


def edit() -> dict:
    """Apply a JSON list of operations from stdin in one transaction."""
    from django.db import transaction

    done = 0
    with transaction.atomic():
        for op in orjson.loads(sys.stdin.buffer.read()):
            done += OPERATIONS[op.pop("op")](**op)
    return {"changed": done}


def _rows(company, ep_no=None, date=None):
    from django_adapter.models import AttendanceRecord

    rows = AttendanceRecord.objects.filter(company__name=company)
    if ep_no is not None:
        rows = rows.filter(ep_no=ep_no, date=date)
    return rows


def _values(fields: dict) -> dict:
    """Record fields as model values (times as time objects)."""
    out = dict(fields)
    for name in ("in_time", "out_time"):
        if out.get(name):
            out[name] = dt.time.fromisoformat(out[name])
    return out


def op_set(company, ep_no, date, fields) -> int:
    """Change fields of one record; save() moves updated_at."""
    row = _rows(company, ep_no, date).get()
    for name, value in _values(fields).items():
        setattr(row, name, value)
    row.save()
    return 1


def op_delete(company, ep_no, date) -> int:
    return _rows(company, ep_no, date).delete()[0]


def op_add(record) -> int:
    from django_adapter.models import AttendanceRecord, Company

    company, _ = Company.objects.get_or_create(name=record["company"])
    fields = _values({k: v for k, v in record.items() if k != "company"})
    AttendanceRecord.objects.create(company=company, **fields)
    return 1


def op_update_many(company, fields, every=1, limit=None) -> int:
    """Change ``fields`` on every ``every``-th record of a company (at most
    ``limit``), in key order; updated_at moves as a save() would move it."""
    from django.utils import timezone

    ids = list(_rows(company).order_by("date", "ep_no").values_list("id", flat=True))[::every][:limit]
    rows = _rows(company).filter(id__in=ids)
    return rows.update(updated_at=timezone.now(), **_values(fields))


def op_delete_many(company, every=1, limit=None) -> int:
    ids = list(_rows(company).order_by("date", "ep_no").values_list("id", flat=True))[::every][:limit]
    return _rows(company).filter(id__in=ids).delete()[0]


OPERATIONS = {"set": op_set, "delete": op_delete, "add": op_add, "update_many": op_update_many,
              "delete_many": op_delete_many}
COMMANDS = {"tree": db_tree, "records": records, "seed": seed, "edit": edit}


def serve() -> None:
    """One process for many questions: Django starts once (a test asks
    after every trial, and starting Django costs more than answering)."""
    from django.db import connections

    for line in sys.stdin.buffer:
        name, *args = orjson.loads(line)
        try:
            answer = {"ok": COMMANDS[name](*args)}
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            connections.close_all()
        sys.stdout.buffer.write(orjson.dumps(answer) + b"\n")
        sys.stdout.flush()


def main(argv: list[str]) -> None:
    django.setup()
    if argv[0] == "serve":
        serve()
        return
    result = COMMANDS[argv[0]](*argv[1:])
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main(sys.argv[1:])
