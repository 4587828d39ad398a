"""Safe defaults, as git has them (issue 10.4), and the one-function doors
for pulling a remote and cloning into a database (issue 8.2): on the
in-memory working copy and real repositories."""

from __future__ import annotations

import io
import os

import pytest

from attgit.errors import UsageError
from attgit.format.backup import read_backup, write_backup
from attgit.ops.clone import clone_into
from attgit.ops.commit import snapshot_database
from attgit.ops.manual import abort
from attgit.ops.mergestate import MergeState
from attgit.ops.pull import UnrelatedHistories, pull_commit, pull_remote
from attgit.ops.reconcile import reconcile
from attgit.ops.restore import checkout, import_backup
from attgit.repo import transport
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from .helpers import AUTHOR, fsck, record

KEY = ("E1", "ABC Corp", "2025-11-20")


def objects(repo: Repository) -> set:
    """Every file under objects/ (loose objects and packs)."""
    root = repo.path / "objects"
    return {os.path.join(d, f) for d, _, files in os.walk(root) for f in files}


def footprint(repo: Repository, db: MemoryWorkingCopy) -> tuple:
    """Everything a command could write: objects, refs, merge state, database."""
    refs = {name: str(repo.git.references[name].target) for name in repo.git.references}
    return objects(repo), refs, MergeState.load(repo), db.state(), [dict(r) for r in db.all_records()]


@pytest.fixture
def envs(tmp_path):
    """prod with two companies; dev cloned from it; both sides then edit E1's
    status (a conflict) and prod also changes Zeta (a clean change)."""
    prod_repo = Repository.init(tmp_path / "prod.git")
    prod = MemoryWorkingCopy.from_records([record("E1"), record("E2"), record("E2", company="Zeta")])
    snapshot_database(prod_repo, prod, AUTHOR)
    dev = MemoryWorkingCopy()
    dev_repo = clone_into(str(prod_repo.path), tmp_path / "dev.git", dev, "prod").repo
    prod.data["ABC Corp"][KEY]["status"] = "L"
    prod.data["Zeta"][("E2", "Zeta", "2025-11-20")]["shift"] = "Night"
    snapshot_database(prod_repo, prod, AUTHOR)
    dev.data["ABC Corp"][KEY]["status"] = "A"  # not committed: the pull commits it first
    return prod_repo, prod, dev_repo, dev


def test_clone_into_loads_main_into_an_empty_database(tmp_path):
    prod_repo = Repository.init(tmp_path / "prod.git")
    prod = MemoryWorkingCopy.from_records([record("E1"), record("E2", company="Zeta")])
    snapshot_database(prod_repo, prod, AUTHOR)
    dev = MemoryWorkingCopy()
    result = clone_into(str(prod_repo.path), tmp_path / "dev.git", dev, "prod")
    assert dev.all_records() == prod.all_records() and result.records == 2
    assert dev.state().commit == result.commit == str(prod_repo.head()) == str(result.repo.head())
    assert [r["name"] for r in transport.list_remotes(result.repo)] == ["prod"]
    fsck(result.repo.path)
    with pytest.raises(UsageError, match="not empty"):
        clone_into(str(prod_repo.path), tmp_path / "again.git", dev)
    assert not (tmp_path / "again.git").exists()


def test_pull_stops_on_conflicts_by_default(envs):
    _, _, dev_repo, dev = envs
    reconcile(dev_repo, dev)
    result = pull_remote(dev_repo, dev, AUTHOR, "prod")
    assert result.status == "conflicts" and [c.resolution for c in result.conflicts] == [None]
    assert dev.data["ABC Corp"][KEY]["status"] == "A", "the database keeps its own value"
    assert dev.data["Zeta"][("E2", "Zeta", "2025-11-20")]["shift"] == "Night", "the clean part is applied"
    assert MergeState.load(dev_repo) is not None
    abort(dev_repo, dev, AUTHOR)
    assert pull_remote(dev_repo, dev, AUTHOR, "prod", strategy="theirs").status == "merged"
    assert dev.data["ABC Corp"][KEY]["status"] == "L"


def test_preview_writes_nothing_and_tells_what_the_pull_does(envs):
    _, _, dev_repo, dev = envs
    reconcile(dev_repo, dev)
    transport.fetch(dev_repo, "prod")
    before = footprint(dev_repo, dev)
    for strategy in ("manual", "theirs"):
        preview = pull_remote(dev_repo, dev, AUTHOR, "prod", strategy=strategy, preview=True)
        assert footprint(dev_repo, dev) == before, "a preview wrote something"
        assert preview.status == "preview" and preview.commit is None and preview.pre_commit is None
    pulled = pull_remote(dev_repo, dev, AUTHOR, "prod", strategy="theirs")
    assert pulled.status == "merged" and pulled.pre_commit is not None
    assert preview.counts == pulled.counts
    assert [c.id for c in preview.conflicts] == [c.id for c in pulled.conflicts]


def test_preview_of_a_fast_forward_and_of_up_to_date_write_nothing(envs):
    _, _, dev_repo, dev = envs
    dev.data["ABC Corp"][KEY]["status"] = "P"  # back to main: nothing to commit, a fast-forward
    reconcile(dev_repo, dev)
    transport.fetch(dev_repo, "prod")
    before = footprint(dev_repo, dev)
    preview = pull_commit(dev_repo, dev, AUTHOR, transport.remote_tip(dev_repo, "prod"), "prod", preview=True)
    assert (preview.status, preview.fast_forward, preview.counts["updates"]) == ("preview", True, 2)
    assert footprint(dev_repo, dev) == before
    assert pull_remote(dev_repo, dev, AUTHOR, "prod").status == "fast-forward"
    after = footprint(dev_repo, dev)
    assert pull_remote(dev_repo, dev, AUTHOR, "prod", preview=True).status == "up-to-date"
    assert footprint(dev_repo, dev) == after


def test_checkout_and_import_previews_write_no_objects(envs):
    _, _, dev_repo, dev = envs
    reconcile(dev_repo, dev)
    before = footprint(dev_repo, dev)
    preview = checkout(dev_repo, dev, AUTHOR, "HEAD", preview=True)
    assert preview.status == "preview" and preview.counts["updates"] == 1  # undo the uncommitted edit
    assert footprint(dev_repo, dev) == before
    out = io.BytesIO()
    write_backup(out, ["ABC Corp", "New Co"], [record("E1", status="HD"), record("E5", company="New Co")],
                 backup_type="full", created_by="tester")
    backup = read_backup(io.BytesIO(out.getvalue()))
    imported = import_backup(dev_repo, dev, AUTHOR, backup, "file.json", preview=True)
    assert imported.status == "preview" and (imported.counts["added"], imported.counts["updated"]) == (1, 1)
    assert footprint(dev_repo, dev) == before


def test_unrelated_histories_are_refused_unless_allowed(tmp_path, envs):
    prod_repo = envs[0]
    other_repo = Repository.init(tmp_path / "other.git")
    other = MemoryWorkingCopy.from_records([record("E1", status="HD"), record("E9")])
    snapshot_database(other_repo, other, AUTHOR)
    transport.add_remote(other_repo, "prod", str(prod_repo.path))
    before = footprint(other_repo, other)
    with pytest.raises(UnrelatedHistories) as err:
        pull_remote(other_repo, other, AUTHOR, "prod", strategy="theirs")
    message = str(err.value)
    assert "shares no commit with main" in message and "--allow-unrelated-histories" in message
    assert "conflict" in message and "Nothing was changed" in message
    _, refs, *rest = footprint(other_repo, other)
    assert rest == list(before[2:]) and refs["refs/heads/main"] == before[1]["refs/heads/main"]
    result = pull_remote(other_repo, other, AUTHOR, "prod", strategy="theirs", allow_unrelated=True)
    assert result.status == "merged" and result.base is None
    assert other.data["ABC Corp"][KEY]["status"] == "L" and ("E9", "ABC Corp", "2025-11-20") in other.data["ABC Corp"]
    fsck(other_repo.path)


def test_an_uncommitted_database_with_no_history_is_unrelated_too(tmp_path, envs):
    prod_repo = envs[0]
    repo = Repository.init(tmp_path / "new.git")
    db = MemoryWorkingCopy.from_records([record("E7")])
    transport.add_remote(repo, "prod", str(prod_repo.path))
    with pytest.raises(UnrelatedHistories, match="the database"):
        pull_remote(repo, db, AUTHOR, "prod")
    assert repo.head() is None and db.state().commit is None
