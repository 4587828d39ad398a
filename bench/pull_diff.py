"""Pull and diff of a 1% change, before and after a code change, on identical data.

The scenario of /work/shared/tools/scale-1m (SQLite, 20 companies): prod is
seeded with N records and committed, pushed to a hub, cloned into dev; prod
changes 1% of its records (save() one by one) and commits and pushes; dev
edits 100 records of its own and fetches.  That state is saved once, then for
each code tree given (e.g. the commit before a change, and the change):

- dev: ``attgit pull hub --strategy theirs`` (a three-way merge; the fetch
  inside it finds nothing new), from the saved state each time;
- prod: ``attgit diff HEAD~1 HEAD --stat`` (the 1% commit).

Each command is its own process; the table gives wall and CPU seconds
(user + system: what other load on the machine does not inflate) and peak
RSS.  The merged tree ids of every code tree are compared (they must be
equal: merges are deterministic).

    python bench/pull_diff.py --records 100000 --code before=/tmp/old --code after=. --workdir /tmp/pd
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

EDIT = r"""
import sys, random, django; django.setup()
from django_adapter.models import AttendanceRecord as A
n, seed = int(sys.argv[1]), int(sys.argv[2])
random.seed(seed)
ids = list(A.objects.values_list("id", flat=True))
for r in A.objects.filter(id__in=random.sample(ids, n)):
    r.status = "A" if r.status != "A" else "P"; r.in_time = "08:0%d" % random.randrange(10); r.save()
"""


class Bench:
    def __init__(self, work: Path, code: Path, python: str):
        self.work, self.code, self.python = work, code, python

    def env(self, name: str) -> dict:
        # no ATTGIT_USER: a named user must exist in the database (none is seeded)
        base = {k: v for k, v in os.environ.items() if k != "ATTGIT_USER"}
        return dict(base, PYTHONPATH=f"{self.code}:{self.code / 'examples'}",
                    DJANGO_SETTINGS_MODULE="attendance_site.settings",
                    DATABASE_URL=f"sqlite:///{self.work / name}.sqlite3",
                    ATTGIT_REPO=str(self.work / f"{name}.git"),
                    # no detached repack running beside a measured step (or a copy of the state)
                    ATTGIT_MAINTENANCE="off")

    def run(self, name: str, *argv, quiet: bool = False) -> tuple:
        """(wall s, cpu s, peak MB, stdout) of one child process."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], env=self.env(name), cwd=self.code,
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        if done.returncode:
            sys.exit(f"{' '.join(map(str, argv))} failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-2000:]}")
        peak = int(done.stderr.strip().splitlines()[-1]) / 1024
        if not quiet:
            print(f"  {wall:8.2f} s wall {cpu:8.2f} s cpu {peak:7.0f} MB  {' '.join(map(str, argv[2:]))}",
                  flush=True)
        return wall, cpu, peak, done.stdout

    def attgit(self, name: str, *args, quiet: bool = False) -> tuple:
        return self.run(name, self.python, "-m", "attgit", *args, quiet=quiet)

    def manage(self, name: str, *args) -> tuple:
        return self.run(name, self.python, str(self.code / "examples" / "manage.py"), *args, quiet=True)


def prepare(b: Bench, records: int, companies: int) -> None:
    (b.work / "edit.py").write_text(EDIT)
    for name in ("prod", "dev"):
        b.manage(name, "migrate", "-v0")
    b.manage("prod", "seed_demo", "--records", str(records), "--companies", str(companies))
    b.attgit("prod", "init", quiet=True)
    b.attgit("prod", "commit", "-m", "first", quiet=True)
    subprocess.run(["git", "init", "-q", "--bare", str(b.work / "hub.git")], check=True)
    b.attgit("prod", "remote", "add", "hub", str(b.work / "hub.git"), quiet=True)
    b.attgit("prod", "push", "hub", quiet=True)
    b.attgit("dev", "clone", str(b.work / "hub.git"), "--name", "hub", quiet=True)
    b.run("prod", b.python, str(b.work / "edit.py"), str(records // 100), "3", quiet=True)
    b.attgit("prod", "commit", "-m", "one pct", quiet=True)
    b.attgit("prod", "push", "hub", quiet=True)
    b.run("dev", b.python, str(b.work / "edit.py"), "100", "4", quiet=True)
    b.attgit("dev", "fetch", "hub", quiet=True)
    saved = b.work / "saved"
    saved.mkdir()
    for path in ("dev.sqlite3", "dev.git", "prod.sqlite3", "prod.git"):
        copy(b.work / path, saved / path)


def copy(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)


def measure(b: Bench, label: str) -> dict:
    for path in ("dev.sqlite3", "dev.git", "prod.sqlite3", "prod.git"):
        copy(b.work / "saved" / path, b.work / path)
    print(f"{label} ({b.code}):")
    pull = b.attgit("dev", "pull", "hub", "--strategy", "theirs")
    diff = b.attgit("prod", "diff", "HEAD~1", "HEAD", "--stat")
    tree = subprocess.run(["git", "-C", str(b.work / "dev.git"), "rev-parse", "main^{tree}"],
                          capture_output=True, text=True, check=True).stdout.strip()
    print(f"  pull said: {pull[3].strip().splitlines()[0]}\n  merged tree {tree}")
    return {"pull": pull[:3], "diff": diff[:3], "tree": tree}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--code", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--reuse", action="store_true", help="Reuse the saved state in --workdir.")
    args = parser.parse_args()
    codes = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code]
    work = args.workdir.resolve()
    if not args.reuse:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        prepare(Bench(work, codes[-1][1], args.python), args.records, args.companies)
    results = {label: measure(Bench(work, code, args.python), label) for label, code in codes}
    print(f"\nN={args.records:,}, {args.companies} companies, SQLite; load average {os.getloadavg()[0]:.1f}")
    print("| code | pull wall s | pull cpu s | pull MB | diff wall s | diff cpu s | diff MB |")
    print("|---|---|---|---|---|---|---|")
    for label, r in results.items():
        print(f"| {label} | {r['pull'][0]:.2f} | {r['pull'][1]:.2f} | {r['pull'][2]:.0f} "
              f"| {r['diff'][0]:.2f} | {r['diff'][1]:.2f} | {r['diff'][2]:.0f} |")
    trees = {r["tree"] for r in results.values()}
    print("merged trees equal" if len(trees) == 1 else f"MERGED TREES DIFFER: {trees}")


if __name__ == "__main__":
    main()
