"""The library end to end on the in-memory working copy: commit, status,
diff, checkout, pull (fast-forward, merge, manual), import-free."""

from __future__ import annotations

import pytest

from attgit.errors import ConflictsPending, Locked, Rejected
from attgit.ops.commit import snapshot_database
from attgit.ops.compare import diff_snapshots, status
from attgit.ops.manual import abort, conclude
from attgit.ops.mergestate import MergeState
from attgit.ops.pull import pull_commit
from attgit.ops.reconcile import reconcile
from attgit.ops.restore import Selection, checkout
from attgit.repo import transport
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from .helpers import AUTHOR, fsck, git, record


@pytest.fixture
def env(tmp_path):
    repo = Repository.init(tmp_path / "a.git")
    db = MemoryWorkingCopy.from_records([record("E1"), record("E2"), record("E1", company="Zeta")])
    return repo, db


def test_commit_then_nothing_to_commit(env):
    repo, db = env
    first = snapshot_database(repo, db, AUTHOR)
    assert first.created and first.records == 3 and first.companies == 2 and first.kind == "full"
    again = snapshot_database(repo, db, AUTHOR)
    assert not again.created and again.parent == first.commit
    assert [c.id for c in repo.log()] == [first.commit]
    fsck(repo.path)
    assert "Attgit-Records: 3" in git("-C", str(repo.path), "log", "-1", "--format=%B")


def test_incremental_commit_rereads_only_moved_companies(env):
    repo, db = env
    snapshot_database(repo, db, AUTHOR)
    db.data["Zeta"][("E1", "Zeta", "2025-11-20")]["status"] = "A"
    result = snapshot_database(repo, db, AUTHOR)
    assert result.kind == "incremental" and result.changed_companies == ["Zeta"]
    diffs = list(diff_snapshots(repo.snapshot(result.parent), repo.snapshot(result.commit)))
    assert [(d.company, d.changed[0].fields) for d in diffs] == [("Zeta", ("status",))]


def test_same_data_same_tree_anywhere(tmp_path, env):
    repo, db = env
    other = Repository.init(tmp_path / "b.git")
    db2 = MemoryWorkingCopy.from_records(list(reversed(db.all_records())))
    a = snapshot_database(repo, db, AUTHOR)
    b = snapshot_database(other, db2, AUTHOR)
    assert repo.info(a.commit).tree == other.info(b.commit).tree


def test_status_counts(env):
    repo, db = env
    snapshot_database(repo, db, AUTHOR)
    db.data["ABC Corp"].pop(("E1", "ABC Corp", "2025-11-20"))
    db.data["ABC Corp"][("E9", "ABC Corp", "2025-11-21")] = record("E9", date="2025-11-21")
    s = status(repo, db)
    assert (s.added, s.changed, s.deleted, s.companies) == (1, 0, 1, ["ABC Corp"])


def test_checkout_restores_and_is_undoable(env):
    repo, db = env
    first = snapshot_database(repo, db, AUTHOR).commit
    before = db.all_records()
    db.data["ABC Corp"].clear()
    db.data["New Co"] = {("X", "New Co", "2025-01-01"): record("X", company="New Co", date="2025-01-01")}
    result = checkout(repo, db, AUTHOR, first)
    assert db.all_records() == before
    assert repo.info(result.commit).tree == repo.info(first).tree
    assert db.state().commit == result.commit == str(repo.head())
    # undo the checkout: back to the pre-checkout snapshot
    checkout(repo, db, AUTHOR, result.pre_commit)
    assert "New Co" in db.companies()


def test_selective_checkout_touches_only_selection(env):
    repo, db = env
    first = snapshot_database(repo, db, AUTHOR).commit
    for rows in db.data.values():
        for k in rows:
            rows[k] = {**rows[k], "status": "A"}
    checkout(repo, db, AUTHOR, first, selection=Selection({"Zeta"}))
    assert {r["company"]: r["status"] for r in db.all_records()} == {"ABC Corp": "A", "Zeta": "P"}


def _two_envs(tmp_path):
    prod_repo = Repository.init(tmp_path / "prod.git")
    prod = MemoryWorkingCopy.from_records([record("E1"), record("E2", company="Zeta")])
    snapshot_database(prod_repo, prod, AUTHOR)
    dev_repo = Repository.init(tmp_path / "dev.git")
    transport.add_remote(dev_repo, "prod", str(prod_repo.path))
    transport.add_remote(prod_repo, "dev", str(dev_repo.path))
    dev = MemoryWorkingCopy()
    return prod_repo, prod, dev_repo, dev


def _pull(repo, db, name, strategy="theirs", preview=False):
    reconcile(repo, db)  # what every writing command does first
    transport.fetch(repo, name)
    return pull_commit(repo, db, AUTHOR, transport.remote_tip(repo, name), name, strategy, preview)


def test_first_pull_fast_forwards_then_merges_cell_by_cell(tmp_path):
    prod_repo, prod, dev_repo, dev = _two_envs(tmp_path)
    result = _pull(dev_repo, dev, "prod")
    assert result.status == "fast-forward" and dev.all_records() == prod.all_records()
    # different fields of the same record on each side: merged, no conflict
    dev.data["ABC Corp"][("E1", "ABC Corp", "2025-11-20")]["in_time"] = "08:00"
    prod.data["ABC Corp"][("E1", "ABC Corp", "2025-11-20")]["status"] = "HD"
    snapshot_database(prod_repo, prod, AUTHOR)
    merged = _pull(dev_repo, dev, "prod", strategy="manual")
    assert merged.status == "merged" and not merged.conflicts
    row = dev.data["ABC Corp"][("E1", "ABC Corp", "2025-11-20")]
    assert (row["in_time"], row["status"]) == ("08:00", "HD")
    assert len(dev_repo.info(merged.commit).parents) == 2
    transport.push(dev_repo, "prod")
    _pull(prod_repo, prod, "dev")
    assert prod.all_records() == dev.all_records()
    fsck(dev_repo.path), fsck(prod_repo.path)


def test_manual_conflict_resolve_and_conclude(tmp_path):
    prod_repo, prod, dev_repo, dev = _two_envs(tmp_path)
    _pull(dev_repo, dev, "prod")
    k = ("E1", "ABC Corp", "2025-11-20")
    dev.data["ABC Corp"][k]["status"] = "A"
    prod.data["ABC Corp"][k]["status"] = "L"
    prod.data["Zeta"][("E2", "Zeta", "2025-11-20")]["shift"] = "Night"
    snapshot_database(prod_repo, prod, AUTHOR)
    result = _pull(dev_repo, dev, "prod", strategy="manual")
    assert result.status == "conflicts" and len(result.conflicts) == 1
    assert dev.data["ABC Corp"][k]["status"] == "A"  # ours kept while pending
    assert dev.data["Zeta"][("E2", "Zeta", "2025-11-20")]["shift"] == "Night"  # clean part applied
    assert reconcile(dev_repo, dev) is None
    with pytest.raises(ConflictsPending):
        conclude(dev_repo, dev, AUTHOR)
    state = MergeState.load(dev_repo)
    state.resolve(state.conflicts[0].id, {"status": "theirs"})
    state.save(dev_repo)
    commit = conclude(dev_repo, dev, AUTHOR)
    assert dev.data["ABC Corp"][k]["status"] == "L"
    assert MergeState.load(dev_repo) is None and str(dev_repo.head()) == commit == dev.state().commit
    assert len(dev_repo.info(commit).parents) == 2
    fsck(dev_repo.path)


def test_manual_abort_returns_to_before(tmp_path):
    prod_repo, prod, dev_repo, dev = _two_envs(tmp_path)
    _pull(dev_repo, dev, "prod")
    k = ("E1", "ABC Corp", "2025-11-20")
    dev.data["ABC Corp"][k]["status"] = "A"
    prod.data["ABC Corp"][k]["status"] = "L"
    prod.data["Zeta"].clear()
    snapshot_database(prod_repo, prod, AUTHOR)
    before_head = dev_repo.head()
    before = [dict(r) for r in dev.all_records()]
    _pull(dev_repo, dev, "prod", strategy="manual")
    pre = dev_repo.head()
    abort(dev_repo, dev, AUTHOR)
    assert dev.all_records() == before and dev_repo.head() == pre and pre != before_head


def test_strategies_on_same_field(tmp_path):
    for strategy, expected in (("theirs", "L"), ("ours", "A")):
        prod_repo, prod, dev_repo, dev = _two_envs(tmp_path / strategy)
        _pull(dev_repo, dev, "prod")
        k = ("E1", "ABC Corp", "2025-11-20")
        dev.data["ABC Corp"][k]["status"] = "A"
        prod.data["ABC Corp"][k]["status"] = "L"
        snapshot_database(prod_repo, prod, AUTHOR)
        preview = _pull(dev_repo, dev, "prod", strategy=strategy, preview=True)
        assert preview.status == "preview" and dev.data["ABC Corp"][k]["status"] == "A"
        result = _pull(dev_repo, dev, "prod", strategy=strategy)
        assert result.status == "merged" and dev.data["ABC Corp"][k]["status"] == expected


def test_push_is_fast_forward_only(tmp_path):
    prod_repo, prod, dev_repo, dev = _two_envs(tmp_path)
    _pull(dev_repo, dev, "prod")
    dev.data["ABC Corp"][("E1", "ABC Corp", "2025-11-20")]["status"] = "A"
    snapshot_database(dev_repo, dev, AUTHOR)
    prod.data["Zeta"][("E2", "Zeta", "2025-11-20")]["status"] = "A"
    snapshot_database(prod_repo, prod, AUTHOR)
    with pytest.raises(Rejected, match="pull"):
        transport.push(dev_repo, "prod")


def test_reconcile_finishes_an_apply_whose_ref_did_not_move(env):
    repo, db = env
    first = snapshot_database(repo, db, AUTHOR)
    db.data["Zeta"].clear()
    second = snapshot_database(repo, db, AUTHOR)
    # simulate: database applied `second`, crash before the branch moved
    repo.git.references.create("refs/heads/main", repo.resolve(first.commit), force=True)
    assert "finished" in reconcile(repo, db)
    assert str(repo.head()) == second.commit


def test_repository_lock_refuses_second_writer(env):
    repo, _ = env
    with repo.lock():
        with pytest.raises(Locked, match="locked by another attgit process"):
            with repo.lock():
                pass


def test_empty_never_synced_database_loads_main_instead_of_deleting_it(env):
    repo, db = env
    first = snapshot_database(repo, db, AUTHOR)
    fresh = MemoryWorkingCopy()  # a new environment beside a copied repository
    assert not snapshot_database(repo, fresh, AUTHOR).created
    assert str(repo.head()) == first.commit
    assert "loaded main" in reconcile(repo, fresh)
    assert fresh.all_records() == db.all_records() and fresh.state().commit == first.commit
