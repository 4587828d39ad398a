"""Benchmark attgit against what a user would use instead, side by side.

Every measured operation runs in its own child process, on SQLite files in a
work directory; the table gives its wall time, its CPU time (user + system:
what other load on the machine does not inflate) and the child's peak
resident memory (``os.wait4``'s ``ru_maxrss``).  Per database size N:

Issue 2, snapshot history
    ``attgit commit`` of the freshly seeded N-record demo database (full),
    ``attgit commit`` after 100 records of one company changed, and after 100
    records spread over every company changed; peers: ``manage.py dumpdata``
    of the same data to a file, and the floor, a raw sqlite3 SELECT of every
    row.
Issue 3, restore and merge
    ``attgit export`` (the backup file), ``attgit import`` of it into a
    freshly migrated empty database, ``manage.py restore_data`` likewise
    (when the command exists); ``attgit push`` to a hub repository (a local
    path), ``attgit clone`` of it into an empty database, and ``attgit pull``
    of a 1% change (a third inserts,
    updates, deletes) made and committed in production into a developer
    database that has edits of its own (a real three-way merge); peer:
    ``manage.py loaddata`` of the dumpdata fixture (up to --loaddata-max
    records: it runs at ~1.6K records/s).

Run it from the checkout (it re-runs itself with the project's ``.venv``,
which ``./run-tests`` and ``./demo.sh`` build, when started by another
Python)::

    python3 bench/benchmark.py                    # 100K, ~5 min
    python3 bench/benchmark.py --sizes 100000,1000000 --out bench/results.md  # > 1 hour
    python3 bench/benchmark.py --profile          # + cProfile files

It prints ONE markdown table (also written to --out), then the repositories'
sizes on disk and the machine.  --workdir keeps the databases, repositories,
files, logs (and, with --profile, ``profiles/*.prof`` of every attgit command:
``python -m pstats FILE``); without it a temporary directory is used and
removed.  With --profile the timings include the profiler's overhead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent


def _use_project_venv() -> None:
    """Re-run this script with the project's own virtual environment when
    started by another Python (a fixed path would break on every clone)."""
    venv = Path(os.environ.get("ATTGIT_VENV", ROOT / ".venv"))
    if not venv.is_absolute():
        venv = ROOT / venv
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        return
    if not python.exists():
        sys.exit(f"no virtual environment at {venv}: run ./run-tests or ./demo.sh first (or set ATTGIT_VENV)")
    os.execv(str(python), [str(python), *sys.argv])


MANAGE = ROOT / "examples" / "manage.py"
COMPANIES = 20
RECORDS_TABLE = "attendance_attendancerecord"
FLOOR_SNIPPET = (
    "import sqlite3, sys\n"
    "n = 0\n"
    "for row in sqlite3.connect(sys.argv[1]).execute('SELECT * FROM " + RECORDS_TABLE + "'):\n"
    "    n += 1\n"
    "print(n)\n"
)


# --- running and measuring child processes ---------------------------------------


class StepFailed(Exception):
    """A command failed: the rest of its scenario is skipped."""


@dataclass
class Measure:
    seconds: float
    cpu_seconds: float  # user + system: what the load of other processes does not inflate
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Env:
    """One environment: a SQLite database and a bare attgit repository."""

    name: str
    dir: Path

    @property
    def db(self) -> Path:
        return self.dir / f"{self.name}.sqlite3"

    @property
    def repo(self) -> Path:
        return self.dir / f"{self.name}.git"

    def variables(self) -> dict:
        return {
            **{k: v for k, v in os.environ.items() if k != "ATTGIT_USER"},  # act as the operator
            "PYTHONPATH": str(ROOT / "examples"),
            "DJANGO_SETTINGS_MODULE": "attendance_site.settings",
            "DATABASE_URL": f"sqlite:///{self.db}",
            "ATTGIT_REPO": str(self.repo),
            "ATTGIT_VAR_DIR": str(self.dir / "var"),
        }


def measure(argv: list, env: Env) -> Measure:
    """Run ``argv`` to its end; wall time and its peak RSS (wait4 rusage)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env.variables(), cwd=env.dir, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        return Measure(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode,
                       out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def run(argv: list, env: Env) -> Measure:
    """Run a setup command (not reported); StepFailed when it fails."""
    result = measure(argv, env)
    if result.returncode != 0:
        raise StepFailed(failure_text(argv, result))
    return result


def failure_text(argv: list, result: Measure) -> str:
    shown = " ".join(str(a) for a in argv[1:])
    tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-3:]
    return f"`{shown}` exited {result.returncode}: " + " | ".join(tail)


class Commands:
    """argv of attgit and manage.py commands (attgit under cProfile on request)."""

    def __init__(self, profile_dir: Optional[Path]):
        self.profile_dir = profile_dir
        self.profiled = 0

    def attgit(self, *args, profile_as: str = "") -> list:
        if self.profile_dir is None or not profile_as:
            return [sys.executable, "-m", "attgit", *map(str, args)]
        self.profiled += 1
        out = self.profile_dir / f"{self.profiled:02d}-{profile_as}.prof"
        return [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "attgit", *map(str, args)]

    @staticmethod
    def manage(*args) -> list:
        return [sys.executable, str(MANAGE), *map(str, args)]

    @staticmethod
    def floor(db: Path) -> list:
        return [sys.executable, "-c", FLOOR_SNIPPET, str(db)]


# --- results ----------------------------------------------------------------------


@dataclass
class Target:
    """A goal from the issues: a text, and a check of a row (None: not at this size)."""

    text: str
    check: Callable[["Row", "Results"], Optional[bool]] = lambda row, results: None


@dataclass
class Row:
    issue: str
    operation: str
    records: int
    measure: Optional[Measure] = None
    throughput: bool = True  # records/s makes sense (the operation handles all N)
    target: Target = field(default_factory=lambda: Target(""))
    key: str = ""  # how targets find this row
    peer: tuple = ()  # (key, name) of the peer to give a speed ratio against
    error: str = ""


class Results:
    def __init__(self):
        self.rows: list[Row] = []
        self.footer: list[str] = []
        self.failures: list[str] = []

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        if row.measure is not None:
            print(f"  {row.operation} ({row.records:,}): {row.measure.seconds:.2f} s "
                  f"({row.measure.cpu_seconds:.2f} s CPU), "
                  f"{row.measure.peak_mb:.0f} MB" + (f"  FAILED: {row.error}" if row.error else ""),
                  file=sys.stderr, flush=True)
        return row

    def find(self, key: str, records: int) -> Optional[Row]:
        for row in self.rows:
            if row.key == key and row.records == records and row.measure and not row.error:
                return row
        return None


def timed(results: Results, row: Row, argv: list, env: Env) -> Measure:
    """Measure one reported operation; a failure is reported and stops its scenario."""
    row.measure = measure(argv, env)
    if row.measure.returncode != 0:
        row.error = failure_text(argv, row.measure)
        results.failures.append(f"{row.operation} at {row.records:,}: {row.error}")
        results.add(row)
        raise StepFailed(row.error)
    results.add(row)
    return row.measure


def wall(m: Measure) -> float:
    return m.seconds


def cpu(m: Measure) -> float:
    return m.cpu_seconds


def absolute(seconds: float, peak_mb: float, at: int) -> Callable:
    def check(row: Row, results: Results, clock: Callable = wall) -> Optional[bool]:
        if row.records != at:
            return None
        return clock(row.measure) < seconds and row.measure.peak_mb < peak_mb
    return check


def faster_than(peer_key: str, factor: float, at: int) -> Callable:
    def check(row: Row, results: Results, clock: Callable = wall) -> Optional[bool]:
        peer = results.find(peer_key, row.records)
        if row.records != at or peer is None:
            return None
        return clock(peer.measure) / clock(row.measure) >= factor
    return check


def both(*checks: Callable) -> Callable:
    def check(row: Row, results: Results, clock: Callable = wall) -> Optional[bool]:
        verdicts = [v for v in (c(row, results, clock) for c in checks) if v is not None]
        return all(verdicts) if verdicts else None
    return check


def speedup_note(row: Row, results: Results, peer_key: str, peer_name: str) -> str:
    """"; 6.1x as fast as dumpdata (CPU 5.2x)" when the peer ran at this size."""
    peer = results.find(peer_key, row.records)
    if peer is None or row.measure is None or row.error:
        return ""
    return (f"; {wall(peer.measure) / wall(row.measure):.1f}x as fast as {peer_name} "
            f"(CPU time {cpu(peer.measure) / cpu(row.measure):.1f}x)")


# --- data: seeding and edits ------------------------------------------------------------


def now_text() -> str:
    """Django's text for a UTC datetime in SQLite (naive, microseconds)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def fresh_database(cmd: Commands, env: Env) -> None:
    env.dir.mkdir(parents=True, exist_ok=True)
    run(cmd.manage("migrate", "-v0"), env)


def seeded(cmd: Commands, env: Env, records: int, companies: int) -> None:
    fresh_database(cmd, env)
    run(cmd.manage("seed_demo", "--records", records, "--companies", companies), env)
    run(cmd.attgit("init"), env)


def pick_ids(db: Path, count: int, seed: int, company_id: Optional[int] = None) -> list[int]:
    where = "" if company_id is None else f" WHERE company_id = {int(company_id)}"
    with closing(sqlite3.connect(db)) as conn:
        ids = [i for (i,) in conn.execute(f"SELECT id FROM {RECORDS_TABLE}{where}")]
    return random.Random(seed).sample(ids, min(count, len(ids)))


def update_rows(db: Path, ids: list[int], column: str = "status") -> None:
    """Change a value of every row in ``ids`` and bump its updated_at."""
    change = {
        "status": "status = CASE status WHEN 'A' THEN 'L' ELSE 'A' END, in_time = NULL, out_time = NULL",
        "ep_name": "ep_name = substr(ep_name, 1, 100) || ' (dev)'",
    }[column]
    sql = f"UPDATE {RECORDS_TABLE} SET {change}, updated_at = ? WHERE id = ?"
    with closing(sqlite3.connect(db)) as conn, conn:
        stamp = now_text()
        conn.executemany(sql, [(stamp, i) for i in ids])


def delete_rows(db: Path, ids: list[int]) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(f"DELETE FROM {RECORDS_TABLE} WHERE id = ?", [(i,) for i in ids])


def insert_rows(db: Path, count: int, seed: int) -> None:
    """``count`` new records (new employees NEW00001..) on existing days."""
    rng = random.Random(seed)
    with closing(sqlite3.connect(db)) as conn, conn:
        companies = [i for (i,) in conn.execute("SELECT id FROM attendance_company")]
        days = [d for (d,) in conn.execute(f"SELECT DISTINCT date FROM {RECORDS_TABLE}")]
        stamp = now_text()
        rows = [(f"NEW{n:05d}", "New Hire", rng.choice(companies), rng.choice(days), "Day", "P",
                 "09:00:00", "17:00:00", "0", stamp, stamp) for n in range(1, count + 1)]
        conn.executemany(
            f"INSERT INTO {RECORDS_TABLE} (ep_no, ep_name, company_id, date, shift, status, in_time, "
            "out_time, overstay, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def one_percent_change(db: Path, records: int) -> tuple[int, int, int]:
    """Insert, update and delete a third of 1% each; returns the counts."""
    share = max(records // 100, 3)
    inserts = updates = share // 3
    deletes = share - inserts - updates
    chosen = pick_ids(db, updates + deletes, seed=7)
    update_rows(db, chosen[:updates])
    delete_rows(db, chosen[updates:])
    insert_rows(db, inserts, seed=7)
    return inserts, updates, deletes


def row_count(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {RECORDS_TABLE}").fetchone()[0]


def disk_usage(path: Path) -> str:
    if not path.exists():
        return "(missing)"
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout
    return f"{int(out.split()[0]) / 1024:.1f} MB"


# --- scenarios --------------------------------------------------------------------------


COMMIT_TARGET = Target("1M: < 15 s, < 400 MB; 100K: >= 5x dumpdata",
                       both(absolute(15, 400, 1_000_000), faster_than("dumpdata", 5, 100_000)))
INCREMENTAL_TARGET = Target("1M: < 3 s", absolute(3, float("inf"), 1_000_000))
IMPORT_TARGET = Target("1M: < 40 s, < 500 MB; 100K: >= 10x loaddata",
                       both(absolute(40, 500, 1_000_000), faster_than("loaddata", 10, 100_000)))
MERGE_TARGET = Target("1M: < 15 s, < 500 MB", absolute(15, 500, 1_000_000))
RESTORE_TARGET = Target("1M: < 40 s, < 500 MB", absolute(40, 500, 1_000_000))


def history(cmd: Commands, results: Results, work: Path, n: int, companies: int) -> None:
    """Issue 2: commits against dumpdata and the floor."""
    prod = Env("prod", work)
    seeded(cmd, prod, n, companies)
    add = lambda op, **kw: Row("2 history", op, n, **kw)  # noqa: E731
    timed(results, add("attgit commit (full, first)", target=COMMIT_TARGET, peer=("dumpdata", "dumpdata")),
          cmd.attgit("commit", "-m", "full", profile_as="commit-full"), prod)
    timed(results, add("baseline: attgit status (startup + fingerprints)", throughput=False),
          cmd.attgit("status"), prod)
    update_rows(prod.db, pick_ids(prod.db, 100, seed=1, company_id=1))
    timed(results, add("attgit commit after 100 changes in 1 company", throughput=False,
                       target=INCREMENTAL_TARGET),
          cmd.attgit("commit", "-m", "100 in one", profile_as="commit-100-one"), prod)
    update_rows(prod.db, pick_ids(prod.db, 100, seed=2))
    timed(results, add(f"attgit commit after 100 changes over all {companies} companies",
                       throughput=False, target=INCREMENTAL_TARGET),
          cmd.attgit("commit", "-m", "100 spread", profile_as="commit-100-all"), prod)
    timed(results, add("peer: manage.py dumpdata (to a file)", key="dumpdata"),
          cmd.manage("dumpdata", "attendance.AttendanceRecord", "attendance.Company",
                     "--output", work / "fixture.json"), prod)
    timed(results, add("floor: sqlite3 SELECT of every row"), cmd.floor(prod.db), prod)
    results.footer.append(f"N={n:,}: repository after 3 commits {disk_usage(prod.repo)} "
                          f"(database {disk_usage(prod.db)}, fixture {disk_usage(work / 'fixture.json')})")


def restore(cmd: Commands, results: Results, work: Path, n: int, loaddata_max: int) -> None:
    """Issue 3: a backup file into an empty database, against loaddata."""
    prod = Env("prod", work)
    backup = work / "backup.json"
    add = lambda op, **kw: Row("3 restore", op, n, **kw)  # noqa: E731
    timed(results, add("attgit export (backup file)"), cmd.attgit("export", backup, profile_as="export"), prod)
    empty = Env("imported", work)
    fresh_database(cmd, empty)
    run(cmd.attgit("init"), empty)
    timed(results, add("attgit import FILE into an empty DB", target=IMPORT_TARGET, peer=("loaddata", "loaddata")),
          cmd.attgit("import", backup, profile_as="import"), empty)
    gzipped(cmd, results, work, n, prod)
    restore_data(cmd, results, work, n, backup)
    loaddata(cmd, results, work, n, loaddata_max)
    results.footer.append(f"N={n:,}: backup file {disk_usage(backup)}, gzipped "
                          f"{disk_usage(work / 'backup.json.gz')}")


def gzipped(cmd: Commands, results: Results, work: Path, n: int, prod: Env) -> None:
    """Issue 20.1: the same export and import with a .json.gz name (streaming gzip)."""
    backup = work / "backup.json.gz"
    add = lambda op, **kw: Row("20 gzip", op, n, **kw)  # noqa: E731
    timed(results, add("attgit export FILE.json.gz (gzip)"), cmd.attgit("export", backup, profile_as="export-gz"),
          prod)
    empty = Env("imported-gz", work)
    fresh_database(cmd, empty)
    run(cmd.attgit("init"), empty)
    timed(results, add("attgit import FILE.json.gz into an empty DB"),
          cmd.attgit("import", backup, profile_as="import-gz"), empty)


def restore_data(cmd: Commands, results: Results, work: Path, n: int, backup: Path) -> None:
    row = Row("3 restore", "manage.py restore_data --input FILE into an empty DB", n, target=RESTORE_TARGET)
    if not (ROOT / "django_adapter" / "management" / "commands" / "restore_data.py").exists():
        results.footer.append("manage.py restore_data: not measured, the command does not exist yet")
        return
    env = Env("restored", work)
    fresh_database(cmd, env)
    run(cmd.attgit("init"), env)
    timed(results, row, cmd.manage("restore_data", "--input", backup), env)


def loaddata(cmd: Commands, results: Results, work: Path, n: int, loaddata_max: int) -> None:
    if n > loaddata_max:
        results.footer.append(f"N={n:,}: manage.py loaddata not run (over --loaddata-max {loaddata_max:,})")
        return
    env = Env("loaddata", work)
    fresh_database(cmd, env)
    row = Row("3 restore", "peer: manage.py loaddata of the fixture into an empty DB", n, key="loaddata")
    timed(results, row, cmd.manage("loaddata", work / "fixture.json"), env)


def merge(cmd: Commands, results: Results, work: Path, n: int) -> None:
    """Issue 3: clone production, change 1% there, pull it into dev (3-way)."""
    prod, dev, hub = Env("prod", work), Env("dev", work), work / "hub.git"
    add = lambda op, **kw: Row("3 merge", op, n, **kw)  # noqa: E731
    run(cmd.attgit("init", hub), prod)
    run(cmd.attgit("remote", "add", "hub", hub), prod)
    timed(results, add("attgit push (first: the whole history, to a local hub)"),
          cmd.attgit("push", "hub", profile_as="push-first"), prod)
    fresh_database(cmd, dev)
    timed(results, add("attgit clone (repository into an empty DB)", target=RESTORE_TARGET),
          cmd.attgit("clone", hub, "--name", "hub", profile_as="clone"), dev)
    update_rows(dev.db, pick_ids(dev.db, 10, seed=3), column="ep_name")
    run(cmd.attgit("commit", "-m", "dev edits"), dev)
    inserts, updates, deletes = one_percent_change(prod.db, n)
    label = f"{inserts + updates + deletes:,} changes: +{inserts} ~{updates} -{deletes}"
    timed(results, add(f"attgit commit after 1% ({label})", throughput=False),
          cmd.attgit("commit", "-m", "1%", profile_as="commit-1pct"), prod)
    timed(results, add("attgit push of the 1% commit", throughput=False),
          cmd.attgit("push", "hub", profile_as="push-1pct"), prod)
    pulled = timed(results, add("attgit pull of the 1% (3-way merge)", throughput=False, target=MERGE_TARGET),
                   cmd.attgit("pull", "hub", profile_as="pull"), dev)
    results.footer.append(f"N={n:,}: pull said: {pulled.stdout.strip().splitlines()[0] if pulled.stdout else ''}")
    results.footer.append(f"N={n:,}: after the pull dev holds {row_count(dev.db):,} records, "
                          f"prod {row_count(prod.db):,}")
    results.footer.append(f"N={n:,}: repositories after the merge: prod {disk_usage(prod.repo)}, "
                          f"hub {disk_usage(hub)}, dev {disk_usage(dev.repo)}")


def benchmark_size(cmd: Commands, results: Results, work: Path, n: int, args) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    if cmd.profile_dir is not None:
        cmd.profile_dir.mkdir()
    print(f"N = {n:,} in {work}", file=sys.stderr, flush=True)
    load = os.getloadavg()[0]
    for name, scenario in (("history", lambda: history(cmd, results, work, n, args.companies)),
                           ("restore", lambda: restore(cmd, results, work, n, args.loaddata_max)),
                           ("merge", lambda: merge(cmd, results, work, n))):
        if name not in args.scenarios:
            continue
        try:
            scenario()
        except StepFailed as exc:
            results.failures.append(f"N={n:,} {name}: stopped: {exc}")
            if name == "history":  # the others need its database
                break
    results.footer.append(f"N={n:,}: load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
                          f"(on {os.cpu_count()} CPUs; seconds above the CPU time mean waiting for a CPU or I/O)")


# --- the table ------------------------------------------------------------------------------


def verdict(row: Row, results: Results) -> str:
    if row.error or row.measure is None:
        return ""
    ok = row.target.check(row, results)
    if ok is None:
        return ""
    if ok:
        return "yes"
    return "**no** (on CPU time: yes)" if row.target.check(row, results, cpu) else "**no**"


def table(results: Results) -> str:
    head = "| area | operation | records | seconds | CPU s | records/s | peak MB | target | met |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---|---|"]
    for row in results.rows:
        lines.append(table_line(row, results))
    return "\n".join(lines)


def table_line(row: Row, results: Results) -> str:
    m = row.measure
    operation = row.operation + (speedup_note(row, results, *row.peer) if row.peer else "")
    if row.error:
        cells = ["FAILED", f"{m.cpu_seconds:.2f}", "", f"{m.peak_mb:.0f}"]
    else:
        rate = f"{row.records / m.seconds:,.0f}" if row.throughput and m.seconds > 0 else ""
        cells = [f"{m.seconds:.2f}", f"{m.cpu_seconds:.2f}", rate, f"{m.peak_mb:.0f}"]
    return "| " + " | ".join([row.issue.split()[-1], operation, f"{row.records:,}", *cells, row.target.text,
                              verdict(row, results)]) + " |"


def machine() -> str:
    import django
    import pygit2

    cpu = ""
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    return (f"Machine: {os.cpu_count()} CPUs ({cpu or platform.machine()}), {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"Django {django.get_version()}, pygit2 {pygit2.__version__} (libgit2 {pygit2.LIBGIT2_VERSION})")


def report(results: Results, profiled: bool) -> str:
    parts = [table(results), ""]
    parts += [f"- {line}" for line in results.footer]
    parts += [f"- FAILED: {line}" for line in results.failures]
    if profiled:
        parts.append("- timings taken under cProfile (--profile): slower than normal")
    parts += ["", machine()]
    return "\n".join(parts) + "\n"


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000",
                        help="comma-separated record counts (default 100000; 1000000 takes over an hour "
                             "today, most of it in libgit2 push/fetch)")
    parser.add_argument("--out", type=Path, help="also write the table to this markdown file")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary directory)")
    parser.add_argument("--companies", type=int, default=COMPANIES,
                        help=f"companies in the demo data (default {COMPANIES})")
    parser.add_argument("--loaddata-max", type=int, default=100_000,
                        help="largest size at which to run the slow loaddata peer (default 100000)")
    parser.add_argument("--profile", action="store_true",
                        help="run attgit commands under cProfile (WORKDIR/N/profiles/*.prof)")
    parser.add_argument("--scenarios", default="history,restore,merge",
                        help="which to run (default all; restore needs history's database)")
    args = parser.parse_args(argv)
    args.scenarios = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="attgit-bench-"))
    results = Results()
    try:
        for n in args.sizes:
            work = base.resolve() / str(n)
            profile_dir = work / "profiles" if args.profile else None
            cmd = Commands(profile_dir)
            benchmark_size(cmd, results, work, n, args)
    finally:
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    text = report(results, args.profile)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    _use_project_venv()
    main()
