#!/usr/bin/env bash
# attgit's main job end to end on SQLite: production and a developer machine
# as two local environments sharing a hub repository; demo data, commits,
# edits on both sides, a pull with a conflict, its resolution, the log.
# Everything is written under ./demo-run/ (removed first).  Needs only Python 3.11.
set -euo pipefail
cd "$(dirname "$0")"
root="$PWD"
venv="${ATTGIT_VENV:-.venv}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
echo "== installing attgit into $venv (log: $venv/pip.log)"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[django]" >"$venv/pip.log" 2>&1 \
  || { cat "$venv/pip.log" >&2; exit 1; }
export PATH="$root/$venv/bin:$PATH" PYTHONPATH="$root/examples" DJANGO_SETTINGS_MODULE=attendance_site.settings
work="$root/demo-run"; rm -rf "$work"; mkdir -p "$work"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

prod() { DATABASE_URL="sqlite:///$work/prod.sqlite3" ATTGIT_REPO="$work/prod.git" "$@"; }
dev()  { DATABASE_URL="sqlite:///$work/dev.sqlite3"  ATTGIT_REPO="$work/dev.git"  "$@"; }
edit() { python -c "import django; django.setup(); from django_adapter.demo_edits import edit; edit('$1')"; }
tree() { attgit log -n 1 --json | python -c "import json,sys; print(json.load(sys.stdin)[0]['tree'])"; }

echo "== production: demo data, first snapshot, pushed to the hub"
run attgit init "$work/hub.git"
prod python examples/manage.py migrate -v0
# The site's background jobs (backups, restores, merges, the admin's sync
# from the web pages) run in a worker process of their own, not in the web
# server: start it beside the site, stop it when done.
say "prod python examples/manage.py db_worker &   (log: demo-run/worker.log)"
prod exec python examples/manage.py db_worker --no-reload >"$work/worker.log" 2>&1 &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null || true' EXIT
run prod python examples/manage.py seed_demo --records 20000 --companies 4
run prod attgit init
run prod attgit commit -m "Nightly snapshot"
run prod attgit remote add hub "$work/hub.git"
run prod attgit push hub

echo; echo "== developer machine: a clone of production"
dev python examples/manage.py migrate -v0
run dev attgit clone "$work/hub.git" --name hub
run dev attgit log --oneline

echo; echo "== edits on both sides"
say "dev: mark EMP00001 absent on the first day, fix EMP00002's in-time"; dev edit dev
say "prod: mark EMP00001 on leave (same field: a conflict), EMP00002's out-time, a new company"; prod edit prod
run dev attgit status
run dev attgit diff
run prod attgit commit -m "Day's corrections"
run prod attgit push hub

echo; echo "== the developer pulls production: preview, then a manual merge"
run dev attgit pull hub --preview
say "dev attgit pull hub --strategy manual"
dev attgit pull hub --strategy manual || echo "(exit $?: conflicts wait for a person)"
run dev attgit conflicts
id=$(dev attgit conflicts --json | python -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
run dev attgit resolve "$id" --theirs
run dev attgit log -n 4
run dev attgit diff HEAD~1 HEAD --stat

echo; echo "== back to production: both environments end equal"
run dev attgit push hub
run prod attgit pull hub
run prod attgit verify
prod_tree=$(prod tree); dev_tree=$(dev tree)
if [ "$prod_tree" = "$dev_tree" ]; then echo "in sync: both databases are snapshot tree $prod_tree"; else echo "NOT in sync" >&2; exit 1; fi
run git -C "$work/hub.git" log --oneline --graph -n 8

echo; echo "== production's web pages would hand their jobs to the worker (pid $worker); stopping it"
kill "$worker" && wait "$worker" 2>/dev/null || true
trap - EXIT
