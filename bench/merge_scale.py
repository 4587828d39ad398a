"""The merge and the diff alone, at any size, before and after a code change.

No database: a repository is written directly (SnapshotBuilder) with a base
commit of N records over C companies, ``ours`` (base + 100 edits spread over
every company) and ``theirs`` (base + 1% edits spread), the shape of
/work/shared/tools/scale-1m's pull.  Then, for each code tree, a child
process times ``merge_snapshots(base, ours, theirs, "theirs")`` (what `attgit
pull` spends between its pre-pull commit and the database apply) and
``diff_snapshots(base, theirs)`` (`attgit diff` of the 1%, without process
start-up), and reports CPU, wall and peak RSS.  The merged tree ids must be
equal across code trees.

    python bench/merge_scale.py --records 1000000 --code before=/tmp/old --code after=. --workdir /tmp/ms
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from attgit.repo.repository import Repository
from attgit.merge.trees import merge_snapshots
import attgit.ops.compare as compare
repo = Repository.open(sys.argv[1])
base, ours, theirs = (repo.resolve(r) for r in ("refs/bench/base", "refs/bench/ours", "refs/bench/theirs"))
what = sys.argv[2]
cpu, wall = time.process_time(), time.perf_counter()
if what == "merge":
    out = merge_snapshots(repo, repo.snapshot(base), repo.snapshot(ours), repo.snapshot(theirs), "theirs")
    result = {"tree": str(out.tree), "updates": out.plan.counts.updates}
else:
    kw = {"trusted": repo.snapshot(base)} if hasattr(compare, "trusted_snapshot") else {}
    diffs = list(compare.diff_snapshots(repo.snapshot(base), repo.snapshot(theirs), **kw))
    result = {"changed": sum(len(d.changed) for d in diffs)}
result.update(cpu=time.process_time() - cpu, wall=time.perf_counter() - wall,
              peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(result))
"""


def build(path: Path, records: int, companies: int) -> None:
    """Write the three commits, one company at a time (bounded memory)."""
    from attgit.format import records as rec
    from attgit.format.snapshot import Snapshot, SnapshotBuilder, encode_sorted
    from attgit.repo.repository import Author, Repository

    repo = Repository.init(path)
    rng = random.Random(7)
    builders = {side: SnapshotBuilder(repo.git, Snapshot.empty(repo.git)) for side in ("base", "ours", "theirs")}
    per = records // companies
    for c in range(companies):
        company = f"Company {c:02d} Textiles"
        employees = 250
        days = per // employees
        base = {}
        for d in range(days):
            date = f"{2020 + d // 365:04d}-{1 + (d // 28) % 12:02d}-{1 + d % 28:02d}"
            for e in range(employees):
                r = rec.normalise({"ep_no": f"EMP{e:05d}", "ep_name": f"Employee {e}", "company": company,
                                   "date": date, "shift": "Day", "status": "P", "in_time": "09:00",
                                   "out_time": "18:00", "overstay": "0"})
                base[rec.key(r)] = r
        keys = list(base)
        builders["base"].put_blob(company, encode_sorted(company, base)[0])
        for side, edits in (("ours", max(1, 100 // companies)), ("theirs", len(keys) // 100)):
            version = dict(base)
            for k in rng.sample(keys, edits):
                version[k] = {**version[k], "status": "A", "in_time": f"08:0{rng.randrange(10)}"}
            builders[side].put_blob(company, encode_sorted(company, version)[0])
        del base, keys
    author = Author("bench", time=1_700_000_000)
    base_commit = repo.write_commit(builders["base"].write(), [], "base", {}, author)
    repo.move_head(None, base_commit, "bench")
    repo.set_ref("refs/bench/base", base_commit)
    for side in ("ours", "theirs"):
        repo.set_ref(f"refs/bench/{side}", repo.write_commit(builders[side].write(), [base_commit], side, {}, author))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--code", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    codes = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.code]
    repo = args.workdir.resolve() / "bench.git"
    if not args.reuse:
        shutil.rmtree(repo, ignore_errors=True)
        build(repo, args.records, args.companies)
    print(f"N={args.records:,}, {args.companies} companies; load average {os.getloadavg()[0]:.1f}")
    print("| code | step | cpu s | wall s | peak MB | result |\n|---|---|---|---|---|---|")
    trees = set()
    for label, code in codes:
        for what in ("merge", "diff"):
            done = subprocess.run([sys.executable, "-c", CHILD, str(repo), what], env=dict(os.environ, PYTHONPATH=str(code)), cwd=code,
                                  capture_output=True, text=True, check=False)
            if done.returncode:
                sys.exit(done.stderr)
            import json

            r = json.loads(done.stdout)
            trees.add(r.get("tree")) if what == "merge" else None
            extra = {k: v for k, v in r.items() if k not in ("cpu", "wall", "peak")}
            print(f"| {label} | {what} | {r['cpu']:.2f} | {r['wall']:.2f} | {r['peak']:.0f} | {extra} |", flush=True)
    print("merged trees equal" if len(trees) == 1 else f"MERGED TREES DIFFER: {trees}")


if __name__ == "__main__":
    main()
