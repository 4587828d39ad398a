"""A year of nightly commits: does the repository stay small, and does the
daily commit stay quick, packing included?

365 simulated days, 1,000 employees over 50 companies: each day one record
per employee, a handful of corrections to past days, one commit (through
``exclusive``, the writers' door, so the automatic packing of
:mod:`attgit.repo.maintenance` runs as it does for every attgit command).
The database is the in-memory working copy: the library path, what the CLI
and the web do minus the SQL.

Every 30 days (and on the last) it reports the repository's size on disk
next to the gzip of one full JSON backup of that day (the design
document's file, :func:`attgit.format.backup.write_backup`), and the daily
commit times so far (median, worst; wall and CPU, git included: the
machine may be shared).  Targets: the repository never above
3x that gzip; median daily commit <= 2 s, worst <= 10 s.

At the end it times the auditors' questions on the repository it built
(:mod:`attgit.ops.history`): one record's timeline (a record of the first
day, so every commit that changed its company is opened) and one
company's log.  Targets at 1M records and a year of commits: <= 1 s and
<= 0.3 s.  Fewer companies make each company's file as large as it is at
1M with fewer records (``--employees 1700 --companies 5 --days 60``: 20K
records a file, as 1M over 50 companies).

    python bench/growth.py                        # 365 days, ~10-20 min on 2 cores
    python bench/growth.py --days 60 --out bench/growth-60.md
    python bench/growth.py --companies 5 --time-history /tmp/attgit-growth-xyz/growth.git
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import io
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from attgit.format import records as rec  # noqa: E402
from attgit.format.backup import write_backup  # noqa: E402
from attgit.ops.commit import snapshot_database  # noqa: E402
from attgit.ops.history import company_log, record_timeline  # noqa: E402
from attgit.ops.reconcile import exclusive  # noqa: E402
from attgit.repo import cgit, maintenance  # noqa: E402
from attgit.repo.repository import Author, Repository  # noqa: E402
from attgit.workingcopy import MemoryWorkingCopy  # noqa: E402

START = dt.date(2025, 1, 1)
STATUSES = ("P", "P", "P", "P", "P", "P", "A", "L", "OD")


def employees(count: int, companies: int) -> list[tuple[str, str, str]]:
    """(ep_no, ep_name, company) for each employee, spread evenly."""
    return [(f"E{n:05d}", f"Employee {n}", f"Company {n % companies:02d}") for n in range(count)]


def day_record(rng: random.Random, emp: tuple, day: dt.date) -> dict:
    status = rng.choice(STATUSES)
    present = status in ("P", "OD")
    return rec.normalise({
        "ep_no": emp[0], "ep_name": emp[1], "company": emp[2], "date": day.isoformat(),
        "shift": rng.choice(("Day", "Day", "Night")), "status": status,
        "in_time": "09:%02d" % rng.randint(0, 30) if present else None,
        "out_time": "17:%02d" % rng.randint(0, 59) if present else None,
        "overstay": str(rng.randint(0, 2)) if present else "0",
    })


def live_one_day(db: MemoryWorkingCopy, rng: random.Random, staff: list, day: int, corrections: int) -> None:
    """Today's records, and a few corrections to records of past days."""
    date = START + dt.timedelta(days=day)
    for emp in staff:
        r = day_record(rng, emp, date)
        db.data.setdefault(emp[2], {})[rec.key(r)] = r
    for _ in range(corrections if day else 0):
        emp = rng.choice(staff)
        past = START + dt.timedelta(days=rng.randrange(day))
        old = db.data[emp[2]][(emp[0], emp[2], past.isoformat())]
        fixed = dict(old, status="L", in_time=None, out_time=None, overstay="0")
        db.data[emp[2]][rec.key(fixed)] = rec.normalise(fixed)


def disk_usage(path: Path) -> int:
    """Bytes on disk (allocated blocks, as du counts them)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


def backup_gzip_size(db: MemoryWorkingCopy) -> int:
    """gzip (level 6) of one full JSON backup file of the database."""
    raw = io.BytesIO()
    write_backup(raw, db.companies(), db.all_records(), backup_type="full", created_by="bench",
                 created_at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    return len(gzip.compress(raw.getvalue(), 6))


def cpu_seconds() -> float:
    """User + system CPU of this process and of the children it waited for (git)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def run(args) -> str:
    os.environ.setdefault("ATTGIT_MAINTENANCE", "sync")  # the packing counts in the daily commit
    rng = random.Random(args.seed)
    staff = employees(args.employees, args.companies)
    work = Path(tempfile.mkdtemp(prefix="attgit-growth-", dir=args.workdir))
    repo, db = Repository.init(work / "growth.git"), MemoryWorkingCopy()
    author = Author("bench", "bench@example.com", 1_735_689_600)
    times, cpus, packs, lines = [], [], 0, []
    header = ("| day | records | repository | gzip of a full backup | ratio | commit median | commit worst "
              "| CPU median | CPU worst | packings |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(header, flush=True)
    for day in range(args.days):
        live_one_day(db, rng, staff, day, args.corrections)
        before = maintenance.usage(repo.path).packs
        started, cpu = time.perf_counter(), cpu_seconds()
        with exclusive(repo, db):
            snapshot_database(repo, db, Author(author.name, author.email, author.time + day * 86400),
                              message=f"day {day + 1}")
        times.append(time.perf_counter() - started)
        cpus.append(cpu_seconds() - cpu)
        after = maintenance.usage(repo.path)
        packs += after.packs != before or after.loose_objects == 0
        if (day + 1) % args.every == 0 or day + 1 == args.days:
            size, gz = disk_usage(repo.path), backup_gzip_size(db)
            line = (f"| {day + 1} | {sum(len(v) for v in db.data.values()):,} | {mb(size)} | {mb(gz)} | "
                    f"{size / gz:.2f}x | {statistics.median(times):.2f} s | {max(times):.2f} s | "
                    f"{statistics.median(cpus):.2f} s | {max(cpus):.2f} s | {packs} |")
            print(line, flush=True)
            lines.append(line)
    fsck = cgit.run(["fsck", "--strict", "--no-progress"], repo.path)
    history = time_history(Repository.open(repo.path), staff)
    summary = history + (f"\n{args.days} days, {args.employees:,} employees over {args.companies} companies, "
               f"{args.corrections} corrections a day; daily commit incl. packing: median "
               f"{statistics.median(times):.2f} s, worst {max(times):.2f} s (day {times.index(max(times)) + 1}) "
               f"wall; CPU (git included) median {statistics.median(cpus):.2f} s, worst {max(cpus):.2f} s; "
               f"git fsck --strict: {'ok' if fsck.ok else fsck.error()}.\n"
               f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, git {cgit.version()}; "
               f"{dt.date.today()}.\n")
    print(summary)
    print(f"Repository left in {work}.")  # not in the table's file: a path of this machine
    return "\n".join([header, *lines]) + "\n" + summary


def time_history(repo: Repository, staff: list) -> str:
    """One record's timeline and one company's log (with the records each
    commit added, changed and deleted there) on the finished repository,
    each timed twice (a fresh process's first call, then warm): wall
    clock, and this process's CPU (the machine may be shared)."""
    ep_no, _, company = staff[0]
    key = (ep_no, company, START.isoformat())
    out = []
    for name, call in (("record timeline", lambda: record_timeline(repo, key)),
                       ("company log", lambda: company_log(repo, company))):
        walls, cpus = [], []
        for _ in range(2):
            started, cpu = time.perf_counter(), time.process_time()
            found = call()
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
        out.append(f"{name} of {key[0] if 'record' in name else company}: {len(found)} entries, "
                   f"{walls[0]:.2f} s first ({cpus[0]:.2f} s CPU), {walls[1]:.2f} s again ({cpus[1]:.2f} s CPU)")
    commits = sum(1 for _ in repo.log())
    return (f"\nHistory over {commits} commits (targets at 1M, a year: timeline <= 1 s, company log <= 0.3 s): "
            + "; ".join(out) + ".\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--employees", type=int, default=1000)
    parser.add_argument("--companies", type=int, default=50)
    parser.add_argument("--corrections", type=int, default=5, help="Corrections to past days, per day.")
    parser.add_argument("--every", type=int, default=30, help="Report every N days.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--out", default=None, help="Also write the table to this markdown file.")
    parser.add_argument("--time-history", metavar="REPO", default=None,
                        help="Only time the history questions on a repository an earlier run left.")
    args = parser.parse_args(argv)
    if args.time_history:
        print(time_history(Repository.open(args.time_history), employees(args.employees, args.companies)))
        return
    text = run(args)
    if args.out:
        Path(args.out).write_text(f"# Growth: a year of nightly commits\n\n{text}")


if __name__ == "__main__":
    main()
