"""Push, clone and pull over git:// (a real ``git daemon`` on 127.0.0.1)
beside plain C git doing the same from the same repository, in one run.

The scenario of /work/tools/net-transport-nouser (SQLite, 20 companies):
prod is seeded with N records and committed; attgit pushes it to one hub
and plain ``git push`` to another; dev is made by ``attgit clone`` and, beside
it, by ``git clone --bare`` followed by the database load (``attgit commit``
on the clone: reconcile loads main into the empty database), which is what
``attgit clone`` must not exceed.  Then, ROUNDS times, prod changes 1% of
its records (save() one by one), commits, and both pushes run, attgit's
first; finally dev pulls.

``--maintenance`` is ATTGIT_MAINTENANCE for every command: ``background``
(what users get: the commit's repack runs detached while the push starts, and
plain ``git push``, which runs second, often finds it done), ``sync`` (the
repository is packed before each push) or ``off`` (the new objects stay
loose).  Each step prints wall and CPU seconds (user + system, children
included; a git daemon's own work shows only in wall time) and peak RSS.

    python bench/transport.py --records 100000 --code . --workdir /tmp/net
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

EDIT = r"""
import sys, django, random; django.setup()
from django_adapter.models import AttendanceRecord
ids = list(AttendanceRecord.objects.values_list("id", flat=True)); random.seed(int(sys.argv[2]))
pick = random.sample(ids, max(1, int(sys.argv[1]) // 100))
for r in AttendanceRecord.objects.filter(id__in=pick):
    r.status = "A" if r.status != "A" else "P"
    r.save()
"""


class Run:
    def __init__(self, code: Path, python: Path, work: Path, maintenance: str):
        self.code, self.python, self.work = code, python, work
        self.base = dict(os.environ, PATH=f"{python.parent}:{os.environ['PATH']}",
                         PYTHONPATH=f"{code}:{code / 'examples'}", DJANGO_SETTINGS_MODULE="attendance_site.settings",
                         ATTGIT_MAINTENANCE=maintenance)

    def env(self, db: str, repo: str) -> dict:
        return dict(self.base, DATABASE_URL=f"sqlite:///{self.work / db}", ATTGIT_REPO=str(self.work / repo))

    def step(self, label: str, env: dict, cmd: list) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True, text=True,
                              cwd=self.code, check=False)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        mb = int(last) / 1024 if last.isdigit() else 0
        print(f"| {label} | {wall:.2f} | {cpu:.2f} | {mb:.0f} |", flush=True)
        if done.returncode:
            print(f"FAILED ({done.returncode}): {done.stderr[-800:]}", file=sys.stderr)

    def setup(self, env: dict, *args: str) -> None:
        subprocess.run([str(self.python), *args], env=env, cwd=self.code, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="1%% commits pushed one after the other")
    parser.add_argument("--code", type=Path, default=Path("."), help="the code tree to run")
    parser.add_argument("--python", type=Path, default=Path(sys.executable), help="a Python with the dependencies")
    parser.add_argument("--maintenance", default="background", choices=("background", "sync", "off"))
    parser.add_argument("--workdir", type=Path, required=True, help="emptied first")
    args = parser.parse_args()
    work = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "srv").mkdir(parents=True)
    run = Run(args.code.resolve(), args.python.absolute(), work, args.maintenance)
    prod, dev = run.env("prod.sqlite3", "prod.git"), run.env("dev.sqlite3", "dev.git")
    loaded = run.env("load.sqlite3", "gitclone.git")
    for env in (prod, dev, loaded):
        run.setup(env, "examples/manage.py", "migrate", "-v0")
    run.setup(prod, "examples/manage.py", "seed_demo", "--records", str(args.records), "--companies",
              str(args.companies))
    attgit = str(run.python.parent / "attgit")
    subprocess.run([attgit, "init"], env=prod, check=True, capture_output=True)
    print(f"{args.records:,} records, {args.companies} companies, maintenance {args.maintenance}, "
          f"code {run.code}\n\n| step | wall s | CPU s | peak MB |\n|---|---:|---:|---:|")
    run.step("attgit commit (first)", prod, [attgit, "commit", "-m", "first"])
    for hub in ("hub", "github"):
        subprocess.run(["git", "init", "-q", "--bare", str(work / "srv" / f"{hub}.git")], check=True)
    port = free_port()
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", f"--base-path={work / 'srv'}", "--export-all",
                               "--enable=receive-pack", f"--port={port}", "--listen=127.0.0.1", str(work / "srv")])
    url = f"git://127.0.0.1:{port}"
    git_push = ["git", "--git-dir", str(work / "prod.git"), "push", "-q", f"{url}/github.git", "main"]
    try:
        time.sleep(1)
        subprocess.run([attgit, "remote", "add", "hub", f"{url}/hub.git"], env=prod, check=True, capture_output=True)
        run.step("attgit push (first)", prod, [attgit, "push", "hub"])
        run.step("git push (first)", prod, git_push)
        run.step("attgit clone", dev, [attgit, "clone", f"{url}/hub.git", "--name", "hub"])
        run.step("git clone --bare", loaded, ["git", "clone", "-q", "--bare", f"{url}/github.git",
                                              str(work / "gitclone.git")])
        run.step("  + the database load (attgit commit on it)", loaded, [attgit, "commit", "-m", "load"])
        for i in range(args.rounds):
            run.setup(prod, "-c", EDIT, str(args.records), str(i + 1))
            run.step("attgit commit 1%", prod, [attgit, "commit", "-m", f"one percent {i}"])
            run.step("attgit push 1%", prod, [attgit, "push", "hub"])
            run.step("git push 1%", prod, git_push)
        run.step("attgit pull 1%", dev, [attgit, "pull", "hub", "--strategy", "theirs"])
        run.step("git fetch 1%", loaded, ["git", "--git-dir", str(work / "gitclone.git"), "fetch", "-q", "origin",
                                          "main"])
    finally:
        daemon.terminate()
        daemon.wait()


if __name__ == "__main__":
    main()
