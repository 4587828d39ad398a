"""The wheel users install: ``python -m build`` makes it from the checkout
(through the source archive, as a release does), it installs into a new
virtual environment outside the checkout, and there it runs: ``attgit
--version``, the Django app's templates, static files and every migration
present and loadable.

Kept fast for CI: the build runs without an isolated environment
(setuptools and build are in the test environment), and the throwaway
environment takes its dependencies (Django, pygit2, ...) from the test
environment's site-packages by a path entry (``--no-deps`` install), which
does not run that folder's ``.pth`` files, so the checkout's editable
install stays out of sight."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

import attgit

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "django_adapter"


def run(*args, cwd, env=None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def shipped(folder: str) -> set[str]:
    """The app's files under ``folder`` in the checkout, relative to the app."""
    return {str(p.relative_to(APP)) for p in (APP / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtual environment outside the checkout with only the built wheel of attgit."""
    pytest.importorskip("build")
    tmp = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", tmp / "dist", ROOT, cwd=tmp)
    [wheel] = (tmp / "dist").glob("attgit-*.whl")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp).strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
        "--disable-pip-version-check", wheel, cwd=tmp)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ATTGIT_", "PYTHONPATH"))}
    return python, env_dir, tmp, environ


def test_attgit_version_runs_from_the_wheel(installed):
    python, env_dir, tmp, environ = installed
    assert run(env_dir / "bin" / "attgit", "--version", cwd=tmp, env=environ).strip() == \
        f"attgit, version {attgit.__version__}"
    where = run(python, "-c", "import attgit, django_adapter; print(attgit.__file__); print(django_adapter.__file__)",
                cwd=tmp, env=environ).split()
    assert all(path.startswith(str(env_dir)) for path in where), where  # not the checkout


def test_templates_static_files_and_migrations_are_in_the_wheel(installed):
    python, env_dir, tmp, environ = installed
    listing = run(python, "-c", "import pathlib, django_adapter; app = pathlib.Path(django_adapter.__file__).parent; "
                  "print('\\n'.join(str(p.relative_to(app)) for p in app.rglob('*') if p.is_file() "
                  "and '__pycache__' not in p.parts))", cwd=tmp, env=environ).split()
    for folder in ("templates", "static", "migrations"):
        expected = shipped(folder)
        assert expected and expected <= set(listing), (folder, expected - set(listing))


def test_the_wheel_s_migrations_load_in_a_new_project(installed):
    python, env_dir, tmp, environ = installed
    script = (
        "import django; from django.conf import settings; "
        "settings.configure(INSTALLED_APPS=['django.contrib.auth', 'django.contrib.contenttypes', "
        "'django_adapter.apps.AttendanceConfig'], DATABASES={'default': {'ENGINE': 'django.db.backends.sqlite3', "
        "'NAME': ':memory:'}}); django.setup(); "
        "from django.db.migrations.loader import MigrationLoader; "
        "print(len([k for k in MigrationLoader(None).disk_migrations if k[0] == 'attendance']))")
    count = int(run(python, "-c", script, cwd=tmp, env=environ).strip())
    assert count == len([p for p in (APP / "migrations").glob("0*.py")])
