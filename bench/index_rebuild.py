"""Issue 12.7: does dropping and rebuilding the secondary index speed up a
large restore into an empty attendance table?  (The design document:
"Drop and rebuild indexes during large restores".)

The table's only secondary index is ``updated_at``'s; the unique key's
index stays (it is the constraint).  Rows are inserted in key order, one
transaction, as ``django_adapter.bulk.RecordWriter`` does: executemany on
SQLite, COPY on PostgreSQL.  Run:

    python bench/index_rebuild.py 300000                       # SQLite
    python bench/index_rebuild.py 300000 postgresql://postgres@127.0.0.1:5432/postgres

Measured on the 2-core machine under load (average 14), two runs each:
    SQLite 168,000 rows  keep index: CPU 1.65 / 1.84 s   drop+rebuild: CPU 1.56 / 1.58 s
    SQLite  50,000 rows  keep index: CPU 0.48 / 0.51 s   drop+rebuild: CPU 0.38 / 0.43 s
    PostgreSQL 168,000   keep index: wall 8.89 / 10.06 s drop+rebuild: wall 8.32 / 9.33 s
i.e. 7-18% of the INSERT/COPY alone, a few per cent of a whole restore
(reading, validating, merging and committing the file dominate).  Not kept
for now: a restore writes one ``updated_at`` for every row, so each index
entry is appended at the end and costs little; the gain is near this
machine's noise; and the DDL would run inside the apply transaction, taking
an ACCESS EXCLUSIVE lock on PostgreSQL against every reader for the whole
restore and interacting with the change-log triggers.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time

COLUMNS = "ep_no, ep_name, company_id, date, shift, status, in_time, out_time, overstay, created_at, updated_at"
TABLE = ("CREATE TABLE r (id {pk}, ep_no varchar(50), ep_name varchar(100), company_id int, date date, "
         "shift varchar(20), status varchar(4), in_time time, out_time time, overstay varchar(10), "
         "created_at {ts}, updated_at {ts})")


def rows(n: int) -> list:
    """Unique keys, in key order, one timestamp for all (as a restore writes them)."""
    made = {}
    for i in range(n):
        row = (f"E{i % 2000:05d}", "Name", 1 + i % 50, f"2025-{1 + (i // 100000) % 12:02d}-{1 + (i // 2000) % 28:02d}",
               "Day", "P", "09:00:00", "17:00:00", "0", "2025-01-01 00:00:00+00", "2025-01-01 00:00:00+00")
        made[(row[2], row[3], row[0])] = row
    return [made[k] for k in sorted(made)]


def sqlite_run(data: list, drop: bool) -> float:
    with tempfile.TemporaryDirectory() as folder:
        c = sqlite3.connect(os.path.join(folder, "b.sqlite3"), isolation_level=None)
        c.execute(TABLE.format(pk="INTEGER PRIMARY KEY AUTOINCREMENT", ts="datetime"))
        c.execute("CREATE UNIQUE INDEX k ON r(company_id, date, ep_no)")
        c.execute("CREATE INDEX u ON r(updated_at)")
        cpu = time.process_time()
        c.execute("BEGIN IMMEDIATE")
        if drop:
            c.execute("DROP INDEX u")
        c.executemany(f"INSERT INTO r ({COLUMNS}) VALUES ({', '.join('?' * 11)})", data)
        if drop:
            c.execute("CREATE INDEX u ON r(updated_at)")
        c.execute("COMMIT")
        c.close()
        return time.process_time() - cpu


def postgres_run(url: str, data: list, drop: bool) -> float:
    import psycopg

    with psycopg.connect(url) as c:
        c.execute("DROP TABLE IF EXISTS attgit_bench_r")
        c.execute(TABLE.replace("TABLE r", "TABLE attgit_bench_r").format(pk="bigserial primary key", ts="timestamptz"))
        c.execute("CREATE UNIQUE INDEX attgit_bench_k ON attgit_bench_r(company_id, date, ep_no)")
        c.execute("CREATE INDEX attgit_bench_u ON attgit_bench_r(updated_at)")
        c.commit()
        start = time.perf_counter()
        if drop:
            c.execute("DROP INDEX attgit_bench_u")
        with c.cursor().copy(f"COPY attgit_bench_r ({COLUMNS}) FROM STDIN") as copy:
            for row in data:
                copy.write_row(row)
        if drop:
            c.execute("CREATE INDEX attgit_bench_u ON attgit_bench_r(updated_at)")
        c.commit()
        seconds = time.perf_counter() - start
        c.execute("DROP TABLE attgit_bench_r")
        return seconds


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    url = sys.argv[2] if len(sys.argv) > 2 else None
    data = rows(n)
    for drop in (False, True, False, True):
        how = "drop+rebuild" if drop else "keep index  "
        if url:
            print(f"PostgreSQL {len(data):,} rows, {how}: wall {postgres_run(url, data, drop):.2f} s")
        else:
            print(f"SQLite {len(data):,} rows, {how}: CPU {sqlite_run(data, drop):.2f} s")


if __name__ == "__main__":
    main()
