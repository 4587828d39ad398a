"""Restore at the speed of the disk: attgit's clone, import and verify beside
their floors, and the start-up of each command (issue 21).

    .venv/bin/python bench/restore.py --records 100000 --workdir /tmp/restore-bench
    .venv/bin/python bench/restore.py --records 1000000 --postgres postgres://postgres@127.0.0.1:5432/DBNAME

Seeds a production database (SQLite, ``seed_demo``), commits it and pushes
it to a hub, then measures, each in its own child process (CPU = user +
system of the child and its children, what other load on the machine does
not inflate; peak = the child's ``ru_maxrss``):

- ``attgit clone`` of the hub into an empty SQLite database (and into the
  empty PostgreSQL database ``--postgres`` names, which is migrated and
  emptied first: give it a database of your own);
- ``attgit import`` of the full backup file into an empty SQLite database;
- ``attgit verify`` of the cloned repository;
- the floors: sqlite3 ``executemany`` of the same rows in key order
  (company, date, ep_no) into an empty copy of the table (no change-log
  triggers), with its CHECK constraints and with
  ``PRAGMA ignore_check_constraints``; PostgreSQL ``COPY`` of the same rows
  into a copy of the table with its indexes; C git's ``git fsck`` of the
  same repository.  A floor's seconds are those of the insert alone (the
  rows are read from the cloned database in batches, outside the clock);
- the start-up of short commands (the best of five runs).

Prints one markdown table (also to ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the virtual environment whose ``attgit`` runs (BENCH_VENV: another one, to compare a checkout)
VENV = Path(os.environ.get("BENCH_VENV", ROOT / ".venv" / "bin"))
TABLE = "attendance_attendancerecord"
COLUMNS = ("ep_no", "ep_name", "company_id", "date", "shift", "status", "in_time", "out_time", "overstay",
           "created_at", "updated_at")
STARTUP = (["--version"], ["log", "-n", "1"], ["status"], ["remote"])  # not show: it diffs the commit


def env(db_url: str, repo: Path) -> dict:
    return dict(os.environ, PATH=f"{VENV}:{os.environ['PATH']}", PYTHONPATH=f"{ROOT}:{ROOT / 'examples'}",
                DJANGO_SETTINGS_MODULE="attendance_site.settings", DATABASE_URL=db_url, ATTGIT_REPO=str(repo))


def child(argv: list, environ: dict) -> dict:
    """Run ``argv`` to its end: wall, CPU and peak MB (``os.wait4``: the
    child and the children it waited for, git and pool workers), stdout."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:  # a file, so a chatty stderr cannot block the child
        process = subprocess.Popen(argv, env=environ, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors)
        out = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        errors.seek(0)
        err = errors.read()
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed ({process.returncode}):\n{err.decode()[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak": usage.ru_maxrss / 1024,
            "out": out.decode()}


def migrate(db_url: str, repo: Path) -> None:
    subprocess.run([str(VENV / "python"), "examples/manage.py", "migrate", "-v0"], env=env(db_url, repo),
                   cwd=ROOT, check=True)


def prepare(work: Path, records: int, companies: int) -> dict:
    """prod (seeded, committed), the hub, and the full backup file; kept in
    ``work`` between runs of the same size."""
    prod_db, prod_repo, hub = work / "prod.sqlite3", work / "prod.git", work / "hub.git"
    stamp = work / f"ready-{records}-{companies}"
    if stamp.exists():
        return {"prod_db": prod_db, "prod_repo": prod_repo, "hub": hub, "backup": work / "full.json"}
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    e = env(f"sqlite:///{prod_db}", prod_repo)
    migrate(f"sqlite:///{prod_db}", prod_repo)
    for argv in (["python", "examples/manage.py", "seed_demo", "--records", str(records), "--companies",
                  str(companies)], ["attgit", "init"], ["attgit", "commit", "-m", "first"],
                 ["git", "init", "-q", "--bare", str(hub)], ["attgit", "remote", "add", "hub", str(hub)],
                 ["attgit", "push", "hub"], ["attgit", "export", str(work / "full.json")]):
        subprocess.run(argv, env=e, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    stamp.touch()
    return {"prod_db": prod_db, "prod_repo": prod_repo, "hub": hub, "backup": work / "full.json"}


def fresh(work: Path, name: str) -> tuple[str, Path]:
    db, repo = work / f"{name}.sqlite3", work / f"{name}.git"
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    shutil.rmtree(repo, ignore_errors=True)
    migrate(f"sqlite:///{db}", repo)
    return f"sqlite:///{db}", repo


def empty_postgres(url: str, repo: Path) -> None:
    migrate(url, repo)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE attendance_attendancerecord, attendance_company, attendance_changelog, "
                     "attendance_syncstate CASCADE")
    shutil.rmtree(repo, ignore_errors=True)


# --- floors (run as children: ``restore.py floor-sqlite SRC DST CHECKS``) ---------------------------

def rows(source: Path, batch: int = 20_000):
    """The attendance rows of ``source`` in key order, in batches."""
    conn = sqlite3.connect(source)
    cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY company_id, date, ep_no")
    while chunk := cursor.fetchmany(batch):
        yield chunk
    conn.close()


def floor_sqlite(source: str, target: str, checks: str) -> None:
    """executemany into an empty copy of the table: prints the insert's CPU and wall seconds."""
    conn = sqlite3.connect(target, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("PRAGMA journal_mode=WAL")
    src = sqlite3.connect(source)
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO attendance_company (id, name, created_at) VALUES (?, ?, ?)",
                     src.execute("SELECT id, name, created_at FROM attendance_company").fetchall())
    if checks == "off":
        conn.execute("PRAGMA ignore_check_constraints = 1")
    sql = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    cpu = wall = 0.0
    for chunk in rows(Path(source)):
        c, w = time.process_time(), time.perf_counter()
        conn.executemany(sql, chunk)
        cpu, wall = cpu + time.process_time() - c, wall + time.perf_counter() - w
    c, w = time.process_time(), time.perf_counter()
    conn.execute("COMMIT")
    cpu, wall = cpu + time.process_time() - c, wall + time.perf_counter() - w
    print(json.dumps({"cpu": cpu, "wall": wall}))


def floor_copy(source: str, url: str) -> None:
    """COPY into a copy of the table (LIKE ... INCLUDING ALL): prints the client's CPU and the wall seconds."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor_copy")
        conn.execute(f"CREATE TABLE bench_floor_copy (LIKE {TABLE} INCLUDING ALL)")
        conn.commit()
        cpu = wall = 0.0
        with conn.cursor() as cursor, cursor.copy(f"COPY bench_floor_copy ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for chunk in rows(Path(source)):
                c, w = time.process_time(), time.perf_counter()
                for row in chunk:
                    copy.write_row(row)
                cpu, wall = cpu + time.process_time() - c, wall + time.perf_counter() - w
        c, w = time.process_time(), time.perf_counter()
        conn.commit()
        cpu, wall = cpu + time.process_time() - c, wall + time.perf_counter() - w
        conn.execute("DROP TABLE bench_floor_copy")
        conn.commit()
    print(json.dumps({"cpu": cpu, "wall": wall}))


# --- the table ----------------------------------------------------------------------------------------

def line(label: str, records: int, wall: float, cpu: float, peak: float, floor: str = "") -> str:
    rate = f"{records / wall:,.0f}" if records and wall else ""
    return f"| {label} | {records:,} | {wall:.2f} | {cpu:.2f} | {rate} | {peak:.0f} | {floor} |"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("floor-sqlite", "floor-copy"):
        (floor_sqlite if sys.argv[1] == "floor-sqlite" else floor_copy)(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/attgit-restore-bench"))
    parser.add_argument("--postgres", help="an EMPTY-able PostgreSQL database URL of your own")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    n, work = args.records, args.workdir
    ready = prepare(work, n, args.companies)
    out = ["| step | records | wall s | CPU s | records/s (wall) | peak MB | floor |", "|---|---:|---:|---:|---:|---:|---|"]

    dev_url, dev_repo = fresh(work, "dev")
    clone = child(["attgit", "clone", str(ready["hub"]), "--name", "hub"], env(dev_url, dev_repo))
    template = work / "template.sqlite3"
    template.unlink(missing_ok=True)
    migrate(f"sqlite:///{template}", work / "unused.git")
    floors = {}
    for checks in ("on", "off"):
        target = work / f"floor-{checks}.sqlite3"
        shutil.copyfile(template, target)
        done = child([sys.executable, __file__, "floor-sqlite", str(work / "dev.sqlite3"), str(target), checks],
                         os.environ.copy())
        floors[checks] = json.loads(done["out"])
    floor_text = (f"sqlite3 executemany in key order: {floors['on']['cpu']:.2f} s CPU with CHECKs, "
                  f"{floors['off']['cpu']:.2f} s without")
    out.append(line("attgit clone into empty SQLite", n, clone["wall"], clone["cpu"], clone["peak"], floor_text))

    imp_url, imp_repo = fresh(work, "imp")
    child(["attgit", "init"], env(imp_url, imp_repo))
    imported = child(["attgit", "import", str(ready["backup"])], env(imp_url, imp_repo))
    out.append(line("attgit import (full file) into empty SQLite", n, imported["wall"], imported["cpu"],
                    imported["peak"], floor_text))

    if args.postgres:
        pg_repo = work / "pg.git"
        empty_postgres(args.postgres, pg_repo)
        pg = child(["attgit", "clone", str(ready["hub"]), "--name", "hub"], env(args.postgres, pg_repo))
        copy = child([sys.executable, __file__, "floor-copy", str(work / "dev.sqlite3"), args.postgres],
                         os.environ.copy())
        floor = json.loads(copy["out"])
        out.append(line("attgit clone into empty PostgreSQL", n, pg["wall"], pg["cpu"], pg["peak"],
                        f"COPY into a copy of the table: {floor['wall']:.2f} s wall"))

    verify = child(["attgit", "verify"], env(dev_url, dev_repo))
    fsck = child(["git", "-C", str(dev_repo), "fsck", "--strict", "--no-dangling"], os.environ.copy())
    out.append(line("attgit verify", n, verify["wall"], verify["cpu"], verify["peak"],
                    f"git fsck --strict: {fsck['wall']:.2f} s wall, {fsck['cpu']:.2f} s CPU"))

    for argv in STARTUP:
        runs = [child(["attgit", *argv], env(dev_url, dev_repo)) for _ in range(5)]
        out.append(line(f"start-up: attgit {' '.join(argv)}", 0, min(r["wall"] for r in runs),
                        min(r["cpu"] for r in runs), max(r["peak"] for r in runs)))
    load = os.getloadavg()
    out.append("")
    out.append(f"Load average at the end of the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on "
               f"{os.cpu_count()} cores.")
    text = "\n".join(out)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
