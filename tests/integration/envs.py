"""Environments for the integration tests: a database, a repository and
the real ``attgit`` command between them, each command its own process.

An environment's database is a SQLite file, or (when ``DATABASE_URL`` is a
PostgreSQL URL) a database of its own on that server.  A new one is copied
from a migrated template (a file copy, a ``CREATE DATABASE ... TEMPLATE``),
and a saved state is put back by a file copy or by refilling every table
from a dump kept in memory: never a migration, never a process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

import orjson
import pygit2

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ATTGIT = str(Path(sys.executable).parent / "attgit")
DBTOOL = str(Path(__file__).with_name("dbtool.py"))
SETTINGS = "attendance_site.settings"
_ENV_KEYS = ("DATABASE_URL", "ATTGIT_DB_PATH", "ATTGIT_REPO", "ATTGIT_VAR_DIR", "ATTGIT_USER",
             "DJANGO_SETTINGS_MODULE", "ATTGIT_COMMIT_TIME")


def postgres_url() -> Optional[str]:
    """The server the database tests run on, when they run on PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def site_environ(**extra) -> dict:
    """The environment of a process of the example site, nothing inherited
    that could point it at another database or repository."""
    env = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES), str(ROOT)])
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS
    env.update(extra)
    return env


# --- databases ------------------------------------------------------------------

@dataclass
class Database:
    """One environment's database: a SQLite file or a PostgreSQL database."""

    name: str
    path: Optional[Path] = None  # SQLite
    url: Optional[str] = None  # PostgreSQL

    def environ(self) -> dict:
        return {"DATABASE_URL": self.url} if self.url else {"ATTGIT_DB_PATH": str(self.path)}


@dataclass
class Saved:
    """A database's content, kept to be put back: a file copy (SQLite) or
    each table's rows and each sequence's position (PostgreSQL)."""

    path: Optional[Path] = None
    tables: Optional[dict] = None
    sequences: Optional[dict] = None


class Databases:
    """Makes, saves, restores and drops environments' databases on one vendor."""

    def __init__(self, workdir: Path, server: Optional[str]):
        self.workdir, self.server = workdir, server
        self.prefix = f"attgit_it_{os.getpid()}_"
        self.made: list[Database] = []
        self._template: Optional[Database] = None

    @property
    def vendor(self) -> str:
        return "postgresql" if self.server else "sqlite"

    def _admin(self, url: Optional[str] = None):
        import psycopg

        return psycopg.connect(url or self.server, autocommit=True)

    def _url(self, name: str) -> str:
        parts = urlsplit(self.server)
        return urlunsplit(parts._replace(path="/" + name))

    def _blank(self, label: str) -> Database:
        name = f"{self.prefix}{label}_{uuid.uuid4().hex[:8]}"
        if self.server:
            return Database(name, url=self._url(name))
        return Database(name, path=self.workdir / f"{name}.sqlite3")

    def template(self) -> Database:
        """The migrated, empty database every new one is copied from."""
        if self._template is None:
            db = self._blank("template")
            if self.server:
                with self._admin() as admin:
                    admin.execute(f'CREATE DATABASE "{db.name}"')
                self.made.append(db)
            run([sys.executable, str(EXAMPLES / "manage.py"), "migrate", "-v0"],
                site_environ(ATTGIT_VAR_DIR=str(self.workdir), **db.environ()))
            self._template = db
        return self._template

    def create(self, label: str) -> Database:
        return self.copy(self.template(), label)

    def copy(self, source: Database, label: str) -> Database:
        """A new database holding what ``source`` holds (no process may be
        connected to ``source`` meanwhile)."""
        db = self._blank(label)
        if self.server:
            with self._admin() as admin:
                admin.execute(f'CREATE DATABASE "{db.name}" TEMPLATE "{source.name}"')
        else:
            shutil.copyfile(source.path, db.path)
        self.made.append(db)
        return db

    def save(self, db: Database) -> Saved:
        """What :meth:`restore` puts back (no process may write meanwhile)."""
        if not self.server:
            saved = self.workdir / f"{db.name}-saved-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copyfile(db.path, saved)
            return Saved(path=saved)
        with self._admin(db.url) as conn:
            tables = [t for (t,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
            rows = {t: _copy_out(conn, t) for t in tables}
            sequences = dict(conn.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'").fetchall())
        return Saved(tables=rows, sequences=sequences)

    def restore(self, db: Database, saved: Saved) -> None:
        """Put ``saved`` back: after a killed process too (its leftovers go)."""
        if not self.server:
            for suffix in ("-wal", "-shm", ".attgit-lock"):
                Path(f"{db.path}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(saved.path, db.path)
            return
        with self._admin(db.url) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            with conn.transaction():
                _put_back(conn, saved)

    def drop_all(self) -> None:
        if not self.server:
            return
        with self._admin() as admin:
            for db in self.made:
                admin.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
            _drop_orphans(admin)


def _copy_out(conn, table: str) -> bytes:
    with conn.cursor().copy(f'COPY "{table}" TO STDOUT') as copy:
        return b"".join(bytes(block) for block in copy)


def _put_back(conn, saved: Saved) -> None:
    """Every table emptied and refilled, every sequence reset, in the
    caller's transaction (foreign keys are checked by nobody meanwhile:
    the rows were consistent when saved)."""
    conn.execute("SET LOCAL session_replication_role = replica")
    conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in saved.tables) + " RESTART IDENTITY")
    log = "attendance_changelog"  # its triggers fire ALWAYS: the log is put back last, as saved
    for table, rows in [*((t, r) for t, r in saved.tables.items() if t != log), (log, saved.tables.get(log))]:
        if rows is None:
            continue
        if table == log:  # what the change-log triggers logged of the refill goes (attgit's consuming mark)
            conn.execute("SELECT set_config('attgit.consuming', 'on', true)")
            conn.execute(f'DELETE FROM "{log}"')
            conn.execute("SELECT set_config('attgit.consuming', 'off', true)")
        with conn.cursor().copy(f'COPY "{table}" FROM STDIN') as copy:
            copy.write(rows)
    for sequence, value in saved.sequences.items():
        conn.execute("SELECT setval(%s, %s, %s)", (f'"{sequence}"', value or 1, value is not None))


def _drop_orphans(admin) -> None:
    """Databases a killed earlier test session left behind (its pid is gone)."""
    for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'attgit\\_it\\_%'").fetchall():
        pid = name.split("_")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- processes ----------------------------------------------------------------------

@dataclass
class Result:
    args: list
    code: int
    out: str
    err: str

    def json(self):
        return orjson.loads(self.out)

    def __str__(self) -> str:
        return f"{' '.join(map(str, self.args))} -> exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def run(args: list, env: dict, code: Optional[int] = 0, input: Optional[str] = None, timeout: float = 300) -> Result:
    """Run a process to its end; insist on exit ``code`` (None: any)."""
    done = subprocess.run([str(a) for a in args], env=env, cwd=str(EXAMPLES), input=input,
                          capture_output=True, text=True, timeout=timeout)
    result = Result(list(args), done.returncode, done.stdout, done.stderr)
    if code is not None and done.returncode != code:
        raise AssertionError(f"expected exit {code}:\n{result}")
    return result


# --- environments ---------------------------------------------------------------------

class Env:
    """One environment: its database, its bare repository, its user."""

    def __init__(self, name: str, workdir: Path, db: Database):
        self.name, self.db = name, db
        self.repo_path = workdir / f"{name}.git"
        self.var = workdir / f"{name}-var"
        self.var.mkdir(parents=True, exist_ok=True)

    def environ(self, **extra) -> dict:
        # No ATTGIT_USER: commands act for the operator at the shell (a named
        # user would have to be a root account in the environment's database).
        return site_environ(ATTGIT_REPO=str(self.repo_path), ATTGIT_VAR_DIR=str(self.var),
                            **self.db.environ(), **extra)

    def attgit(self, *args, code: Optional[int] = 0, input: Optional[str] = None, timeout: float = 300) -> Result:
        return run([ATTGIT, *args], self.environ(), code, input, timeout)

    def start(self, *args, **popen) -> subprocess.Popen:
        """Start ``attgit ARGS`` without waiting (stdout and stderr piped)."""
        return subprocess.Popen([ATTGIT, *map(str, args)], env=self.environ(), cwd=str(EXAMPLES),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)

    def inspector(self) -> "Inspector":
        """A long-lived dbtool process answering questions about this database."""
        return Inspector(self.environ())

    def tool(self, *args, input=None):
        data = orjson.dumps(input).decode() if input is not None else None
        return run([sys.executable, DBTOOL, *args], self.environ(), 0, data).json()

    # --- the database, seen from outside ---------------------------------------------

    def seed(self, records: int, companies: int = 4, seed: int = 1) -> None:
        self.tool("seed", records, companies, seed)

    def edit(self, *ops: dict) -> int:
        return self.tool("edit", input=list(ops))["changed"]

    def db_tree(self) -> dict:
        """{"tree": the database's content as a tree id, "commit": the commit it records, ...}"""
        return self.tool("tree")

    def records(self) -> dict:
        """{(ep_no, company, date): record} of the whole database."""
        return {(r["ep_no"], r["company"], r["date"]): r for r in self.tool("records")}

    # --- the repository ----------------------------------------------------------------

    def git(self) -> pygit2.Repository:
        return pygit2.Repository(str(self.repo_path))

    def head(self) -> Optional[str]:
        try:
            return str(self.git().references["refs/heads/main"].target)
        except KeyError:
            return None

    def main_tree(self) -> Optional[str]:
        head = self.head()
        return str(self.git()[head].tree_id) if head else None

    def refs(self) -> dict:
        """refs/heads/main and every refs/remotes/* with their targets."""
        if not self.repo_path.exists():
            return {}
        repo = self.git()
        names = [n for n in repo.references if n == "refs/heads/main" or n.startswith("refs/remotes/")]
        return {n: str(repo.references[n].target) for n in sorted(names)}

    def snapshot(self, rev: Optional[str] = None):
        """main's (or ``rev``'s) snapshot, read by attgit in this process."""
        from attgit.repo.repository import Repository

        repo = Repository.open(self.repo_path)
        return repo.snapshot(rev or repo.head())

    def commits(self) -> set:
        """Every commit reachable from main."""
        head = self.head()
        return {str(c.id) for c in self.git().walk(head)} if head else set()

    def assert_in_sync(self) -> str:
        """The database holds exactly main's snapshot and records main."""
        state, head = self.db_tree(), self.head()
        assert state["commit"] == head, f"{self.name}: database records {state['commit']}, main is {head}"
        assert state["tree"] == self.main_tree(), f"{self.name}: database content is not main's snapshot"
        return state["tree"]


class Inspector:
    """``dbtool.py serve``: asks questions of a database from one process
    that stays up between them (it holds no connection while it waits)."""

    def __init__(self, env: dict):
        self.process = subprocess.Popen([sys.executable, DBTOOL, "serve"], env=env, cwd=str(EXAMPLES),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, *command):
        self.process.stdin.write(orjson.dumps([str(c) for c in command]).decode() + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"dbtool serve died (exit {self.process.wait()})")
        answer = orjson.loads(line)
        if "error" in answer:
            raise AssertionError(f"dbtool {command[0]}: {answer['error']}")
        return answer["ok"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)

    def __enter__(self) -> "Inspector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def new_hub(root: Path, label: str = "hub") -> Path:
    """An empty bare repository made by C git, as any git host would."""
    path = root / f"{label}-{uuid.uuid4().hex[:8]}.git"
    run(["git", "init", "-q", "--bare", "--initial-branch=main", str(path)], dict(os.environ))
    return path


def plain_git_repo(root: Path) -> Path:
    """An ordinary (non-attgit) bare repository with one README commit on main."""
    work = root / f"plain-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ)
    run(["git", "init", "-q", "--initial-branch=main", str(work)], env)
    (work / "README").write_text("just a project\n")
    run(["git", "-C", str(work), "add", "README"], env)
    run(["git", "-C", str(work), "commit", "-q", "-m", "README"], env)
    bare = root / f"{work.name}.git"
    run(["git", "clone", "-q", "--bare", str(work), str(bare)], env)
    return bare


class Pair:
    """Two environments, ``a`` and ``b``, sharing a bare ``hub``: a seeded
    and pushed, b cloned from the hub with ``attgit clone``.  Saved once;
    :meth:`restore` puts all three back (file copies, no processes)."""

    def __init__(self, databases: Databases, root: Path, records: int, companies: int):
        self.databases, self.root = databases, root
        self.a = Env("a", root, databases.create("a"))
        self.b = Env("b", root, databases.create("b"))
        self.hub = new_hub(root)
        self.a.seed(records, companies)
        self.a.attgit("init")
        self.a.attgit("commit", "-m", "first")
        self.a.attgit("remote", "add", "hub", str(self.hub))
        self.a.attgit("push", "hub")
        self.b.attgit("clone", str(self.hub), "--name", "hub")
        self.save()

    def save(self) -> None:
        """Remember the current state as the one :meth:`restore` returns to."""
        saved = self.root / "saved"
        shutil.rmtree(saved, ignore_errors=True)
        for path in (self.a.repo_path, self.b.repo_path, self.hub):
            shutil.copytree(path, saved / path.name)
        self._dbs = {env.name: self.databases.save(env.db) for env in (self.a, self.b)}

    def restore(self) -> "Pair":
        saved = self.root / "saved"
        for path in (self.a.repo_path, self.b.repo_path, self.hub):
            shutil.rmtree(path)
            shutil.copytree(saved / path.name, path)
        for env in (self.a, self.b):
            self.databases.restore(env.db, self._dbs[env.name])
        return self


# --- what the kill trials share ---------------------------------------------------------------

#: what status says, without what only --full adds (the differences named, "scanned_all")
COMPARED = ("head", "database_commit", "added", "changed", "deleted", "companies", "clean")


def compared_status(env: Env, *extra: str):
    """(exit code, the COMPARED fields or None) of ``attgit status --json``."""
    done = env.attgit("status", "--json", *extra, code=None)
    if done.code != 0:
        return done.code, None
    result = done.json()
    return 0, {k: result.get(k) for k in COMPARED}


def big_change(env: Env) -> int:
    """~7,000 records of 10,000 in four companies changed or deleted, a
    different kind of change in each company; returns how many."""
    names = env.db_tree()["companies"]
    return env.edit({"op": "update_many", "company": names[0], "fields": {"overstay": "7"}},
                    {"op": "update_many", "company": names[1], "fields": {"status": "A", "in_time": None,
                                                                          "out_time": None}},
                    {"op": "delete_many", "company": names[2], "every": 2},
                    {"op": "update_many", "company": names[3], "fields": {"overstay": "8"}, "every": 2})


def local_edit(env: Env) -> int:
    """One record's name changed (in the fourth company)."""
    names = env.db_tree()["companies"]
    return env.edit({"op": "update_many", "company": names[3], "fields": {"ep_name": "Local Edit"}, "limit": 1})

