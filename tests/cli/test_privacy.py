"""Who can read the repository (issue 18.7): private to its owner under any
umask (folders 0700, files 0600/0400), for every file attgit, libgit2 and
C git write there; a team opts into group sharing explicitly."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from attgit.repo.repository import Repository
from django_adapter.models import AttendanceRecord

from ..helpers import fsck, git
from .test_cli import run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=[0o022, 0o000], ids=["umask 022", "umask 000"])
def umask(request):
    before = os.umask(request.param)
    yield request.param
    os.umask(before)


def modes(path: Path) -> dict:
    """{relative path: mode} of everything under ``path`` (and itself)."""
    found = {".": stat.S_IMODE(path.stat().st_mode)}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = Path(root, name)
            found[str(full.relative_to(path))] = stat.S_IMODE(full.lstat().st_mode)
    return found


def edit_and_commit(repo: Path) -> None:
    record = AttendanceRecord.objects.order_by("id").first()
    record.status = "A" if record.status != "A" else "P"
    record.save()
    run(repo, "commit")


def exercise(repo: Path, tmp_path: Path) -> None:
    """Every kind of write: attgit's loose objects, libgit2's trees, commits
    and refs, C git's packs (gc), a fetch, a push, a preview's scratch."""
    run(repo, "commit", "-m", "one")
    edit_and_commit(repo)
    run(repo, "checkout", "HEAD~1", "--preview")
    hub = tmp_path / "hub.git"
    git("init", "-q", "--bare", str(hub))
    run(repo, "remote", "add", "hub", str(hub))
    run(repo, "push", "hub")
    run(repo, "fetch", "hub")
    run(repo, "gc")
    edit_and_commit(repo)


def test_a_repository_is_private_to_its_owner_whatever_the_umask(seeded, tmp_path, umask):
    exercise(seeded, tmp_path)
    loose = [p for p in modes(seeded) if p.startswith("objects/") and len(Path(p).name) == 38]
    assert loose, "the last commit left loose objects to check"
    leaks = {p: oct(m) for p, m in modes(seeded).items() if m & 0o077}
    assert not leaks, leaks
    assert git("-C", str(seeded), "config", "core.sharedRepository").strip() == "0600"
    fsck(seeded)


def test_a_clone_is_private_too(seeded, tmp_path, umask):
    run(seeded, "commit", "-m", "one")
    copy = tmp_path / "copy.git"
    git("clone", "-q", "--bare", str(seeded), str(tmp_path / "plain.git"))
    from attgit.repo.transport import clone

    clone(str(seeded), copy)
    leaks = {p: oct(m) for p, m in modes(copy).items() if m & 0o077}
    assert not leaks, leaks


def test_a_team_opts_into_group_sharing(seeded, tmp_path, umask):
    os.chmod(seeded, 0o755)
    run(seeded, "init", "--shared=group")
    exercise(seeded, tmp_path)
    found = modes(seeded)
    assert not {p: oct(m) for p, m in found.items() if m & 0o007}, "nothing for others"
    assert found["objects"] & 0o070 == 0o070 and found["config"] & 0o060 == 0o060
    assert git("-C", str(seeded), "config", "core.sharedRepository").strip() == "0660"
    fsck(seeded)


def test_init_again_makes_an_old_world_readable_repository_private(seeded):
    Repository.init(seeded)
    for root, _dirs, files in os.walk(seeded):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(Path(root, name), 0o644)
    os.unlink(seeded / "config")  # an old repository: no sharedRepository yet
    git("init", "-q", "--bare", str(seeded))
    git("-C", str(seeded), "config", "attgit.format", "1")
    run(seeded, "init")
    assert not {p: oct(m) for p, m in modes(seeded).items() if m & 0o077}
