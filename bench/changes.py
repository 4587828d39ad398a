"""Benchmark of issue 9: what a status or commit costs after N edits, with
the trigger-written change log (this checkout) side by side with the
previous release (another checkout, by default /work/main: fingerprints).

Per checkout, on its own SQLite database of --records records over
--companies companies: the full first commit, a clean status, then after
100 edits in one company status and commit, after 100 edits spread over
every company a commit, after 10,000 spread status and commit, and
``status --full``.  Edits are made by another program (sqlite3 in this
process), bumping updated_at so the old fingerprints see them too.  Every
operation is a child process: wall and CPU seconds, peak RSS.

On PostgreSQL (--postgres URL of a scratch server; its database
``<name>_bench`` is created and dropped): a Django ``QuerySet.update()`` of
every row (--pg-records) with the triggers, and the same with them
dropped, best of --repeat.

    /work/main/.venv/bin/python bench/changes.py --records 100000 --postgres postgres://postgres@127.0.0.1:5432/h1
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark import Env, Measure, StepFailed, failure_text, measure, pick_ids, update_rows  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class CodeEnv(Env):
    """An environment whose attgit and site come from checkout ``root``."""

    def __init__(self, name: str, dir: Path, root: Path, database_url: str = ""):
        super().__init__(name, dir)
        self.root, self.database_url = root, database_url

    def variables(self) -> dict:
        out = super().variables()
        out["PYTHONPATH"] = f"{self.root}{os.pathsep}{self.root / 'examples'}"
        if self.database_url:
            out["DATABASE_URL"] = self.database_url
        return out


def attgit(*args) -> list:
    return [sys.executable, "-m", "attgit", *map(str, args)]


def manage(env: CodeEnv, *args) -> list:
    return [sys.executable, str(env.root / "examples" / "manage.py"), *map(str, args)]


def must(argv: list, env: Env) -> Measure:
    result = measure(argv, env)
    if result.returncode != 0:
        raise StepFailed(failure_text(argv, result))
    return result


def company_ids(db: Path) -> list:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(db)) as conn:
        return [i for (i,) in conn.execute("SELECT id FROM attendance_company ORDER BY id")]


def spread(db: Path, count: int, seed: int) -> list:
    """``count`` ids spread evenly over every company."""
    ids = company_ids(db)
    per = max(count // len(ids), 1)
    return [i for n, c in enumerate(ids) for i in pick_ids(db, per, seed + n, c)]


def scenario(env: CodeEnv, records: int, companies: int) -> dict:
    """{operation: Measure} for one checkout."""
    env.dir.mkdir(parents=True, exist_ok=True)
    must(manage(env, "migrate", "-v0"), env)
    must(manage(env, "seed_demo", "--records", records, "--companies", companies), env)
    must(attgit("init"), env)
    out = {}

    def step(name, *args):
        out[name] = must(attgit(*args), env)
        print(f"  {env.name}: {name}: {out[name].seconds:.2f} s ({out[name].cpu_seconds:.2f} CPU), "
              f"{out[name].peak_mb:.0f} MB", file=sys.stderr, flush=True)

    step("commit, full (first)", "commit", "-m", "first")
    step("status, clean", "status")
    update_rows(env.db, pick_ids(env.db, 100, seed=1, company_id=company_ids(env.db)[0]))
    step("status after 100 edits in 1 company", "status")
    step("commit after 100 edits in 1 company", "commit", "-m", "100 in one")
    update_rows(env.db, spread(env.db, 100, seed=2))
    step(f"commit after 100 edits over {companies} companies", "commit", "-m", "100 spread")
    update_rows(env.db, spread(env.db, 10_000, seed=3), "ep_name")
    step("status after 10,000 edits spread", "status")
    step("commit after 10,000 edits spread", "commit", "-m", "10000 spread")
    step("status --full (every row against HEAD)", "status", "--full")
    out["dumpdata (peer)"] = must(manage(env, "dumpdata", "attendance.AttendanceRecord", "attendance.Company",
                                         "--output", env.dir / "fixture.json"), env)
    return out


PG_UPDATE = """
import time, django
django.setup()
from django.db import connection, transaction
from django.db.models import Case, Value, When
from django_adapter import changelog
from django_adapter.models import AttendanceRecord, ChangeLog
mode, repeat = "{mode}", {repeat}
if mode == "without":
    changelog.uninstall(connection)
best = None
for n in range(repeat):
    with transaction.atomic():
        before = ChangeLog.objects.count()
        started = time.perf_counter()
        count = AttendanceRecord.objects.update(
            status=Case(When(status="A", then=Value("L")), default=Value("A")))
        took = time.perf_counter() - started
        logged = ChangeLog.objects.count() - before
        transaction.set_rollback(True)
    best = took if best is None else min(best, took)
if mode == "without":
    changelog.install(connection)
print(f"{{count}} {{best:.3f}} {{logged}}")
"""


def postgres(url: str, records: int, repeat: int, work: Path) -> list:
    """[(label, rows, seconds, log entries)] for update() with and without triggers."""
    import psycopg

    base, _, name = url.rpartition("/")
    bench_db = f"{name}_bench"
    admin = psycopg.connect(f"{base}/postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{bench_db}"')
    admin.execute(f'CREATE DATABASE "{bench_db}"')
    env = CodeEnv("pg", work / "pg", ROOT, f"{base}/{bench_db}")
    env.dir.mkdir(parents=True, exist_ok=True)
    try:
        must(manage(env, "migrate", "-v0"), env)
        must(manage(env, "seed_demo", "--records", records, "--companies", 20), env)
        rows = []
        for mode in ("with", "without", "with", "without"):
            result = must([sys.executable, "-c", PG_UPDATE.format(mode=mode, repeat=repeat)], env)
            count, seconds, logged = result.stdout.split()
            rows.append((f"update() of every row, triggers {mode}", int(count), float(seconds), int(logged)))
            print(f"  pg: {rows[-1]}", file=sys.stderr, flush=True)
        return rows
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)')
        admin.close()


def table(results: dict, names: list) -> str:
    operations = list(dict.fromkeys(op for name in names for op in results[name]))
    head = "| operation | " + " | ".join(f"{n}: wall s | CPU s | peak MB" for n in names) + " |"
    lines = [head, "|---" * (1 + 3 * len(names)) + "|"]
    for op in operations:
        cells = []
        for name in names:
            m = results[name].get(op)
            cells.append(f"{m.seconds:.2f} | {m.cpu_seconds:.2f} | {m.peak_mb:.0f}" if m else "- | - | -")
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--previous", type=Path, default=Path("/work/main"),
                        help="checkout of the previous release (empty to skip)")
    parser.add_argument("--postgres", default="", help="postgres://.../NAME: measure trigger overhead there")
    parser.add_argument("--pg-records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="attgit-changes-"))
    results, names = {}, []
    try:
        if not args.skip_sqlite:
            checkouts = [("this (change log)", ROOT)]
            if str(args.previous) and args.previous.exists():
                checkouts.insert(0, ("previous (fingerprints)", args.previous))
            for n, (name, root) in enumerate(checkouts):
                print(f"{name}: {root}, {args.records:,} records", file=sys.stderr, flush=True)
                try:
                    results[name] = scenario(CodeEnv(f"env{n}", work / f"env{n}", root), args.records,
                                             args.companies)
                    names.append(name)
                except StepFailed as exc:
                    print(f"  {name}: stopped: {exc}", file=sys.stderr)
            print(f"\nSQLite, {args.records:,} records over {args.companies} companies "
                  f"({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})\n")
            print(table(results, names))
        if args.postgres:
            rows = postgres(args.postgres, args.pg_records, args.repeat, work)
            print(f"\nPostgreSQL: QuerySet.update() of every row, best of {args.repeat}, rolled back\n")
            print("| operation | rows | seconds | log entries written |\n|---|---|---|---|")
            for label, count, seconds, logged in rows:
                print(f"| {label} | {count:,} | {seconds:.3f} | {logged:,} |")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
