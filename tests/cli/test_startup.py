"""Start-up: a command imports only what it uses.  `attgit --version` loads
neither git nor Django, and the commands that never touch the database
(`log`, `show`, ...) do not start Django.  Checked in a fresh interpreter, as
the console script runs, by the modules it ends up holding."""

from __future__ import annotations

import subprocess
import sys

from attgit.cli import app
from attgit.ops import backend
from attgit.repo.repository import Repository

PROBE = """
import sys
from attgit.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("MODULES", code, sorted({m.split(".")[0] for m in sys.modules} & {"pygit2", "django", "django_adapter"}))
"""


def loaded(*args: str, **env) -> tuple[int, list]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", **env})
    line = [x for x in done.stdout.splitlines() if x.startswith("MODULES")][-1]
    _, code, modules = line.split(" ", 2)
    return int(code), eval(modules)  # noqa: S307 - our own probe's printed list


def test_version_loads_neither_git_nor_django():
    assert loaded("--version") == (0, [])


def test_log_and_show_do_not_start_django(tmp_path):
    repo = Repository.init(tmp_path / "r.git")
    assert repo.head() is None
    for args in (("log", "-n", "1"), ("show",)):
        code, modules = loaded("--repo", str(tmp_path / "r.git"), *args)
        assert "django" not in modules and "django_adapter" not in modules, (args, modules)
        assert "pygit2" in modules  # they did read the repository


def test_every_command_is_found_lazily():
    families = {name: app.COMMAND_FAMILY.get(name) for name in app.cli.list_commands(None)}
    assert all(families.values()), f"commands missing from COMMAND_FAMILY: {families}"
    for name, family in families.items():
        assert app.cli.commands[name].callback.__module__ == f"attgit.cli.{family}", name


def test_default_backend_is_the_library_one():
    assert app.DEFAULT_BACKEND == backend.DEFAULT_BACKEND
