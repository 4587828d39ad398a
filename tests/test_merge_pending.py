"""While a manual merge waits for a person nothing moves main, and no
reconcile settles it behind the person's back (issue 9, point 5)."""

from __future__ import annotations

import pytest

from attgit.errors import ConflictsPending, ExitCode
from attgit.ops.commit import snapshot_database
from attgit.ops.manual import conclude
from attgit.ops.mergestate import MergeState
from attgit.ops.reconcile import reconcile
from attgit.ops.restore import checkout
from attgit.repo.repository import Author

from .helpers import AUTHOR, fsck
from .test_flow import _pull, _two_envs

K1 = ("E1", "ABC Corp", "2025-11-20")
K2 = ("E2", "Zeta", "2025-11-20")


@pytest.fixture
def waiting(tmp_path):
    """dev has a manual merge of prod waiting, two conflicts, one resolved."""
    prod_repo, prod, dev_repo, dev = _two_envs(tmp_path)
    _pull(dev_repo, dev, "prod")
    dev.data["ABC Corp"][K1]["status"] = "A"
    prod.data["ABC Corp"][K1]["status"] = "L"
    dev.data["Zeta"][K2]["shift"] = "Night"
    prod.data["Zeta"][K2]["shift"] = "General"
    snapshot_database(prod_repo, prod, AUTHOR)
    result = _pull(dev_repo, dev, "prod", strategy="manual")
    assert result.status == "conflicts" and len(result.conflicts) == 2
    state = MergeState.load(dev_repo)
    first = next(c for c in state.conflicts if tuple(c.key) == K1)
    state.resolve(first.id, "theirs")
    state.save(dev_repo)
    return prod_repo, prod, dev_repo, dev


def _assert_merge_kept(repo, head_before):
    state = MergeState.load(repo)
    assert state is not None and len(state.conflicts) == 2 and len(state.pending()) == 1
    resolved = next(c for c in state.conflicts if tuple(c.key) == K1)
    assert state.resolutions[resolved.id]["status"] == "L"
    assert repo.head() == head_before


def _assert_refusal(exc):
    text = str(exc.value)
    assert exc.value.exit_code == ExitCode.CONFLICTS
    for part in ("a merge is in progress", "the merge of prod waits for you", "1 of 2 conflicts unresolved",
                 "attgit resolve",
                 "attgit merge --continue", "attgit merge --abort"):
        assert part in text, text


def test_commit_checkout_pull_refuse_while_a_merge_waits(waiting):
    prod_repo, prod, dev_repo, dev = waiting
    head = dev_repo.head()
    dev.data["ABC Corp"][("E5", "ABC Corp", "2025-11-22")] = {**dev.data["ABC Corp"][K1], "ep_no": "E5",
                                                               "date": "2025-11-22"}
    with pytest.raises(ConflictsPending) as err:
        snapshot_database(dev_repo, dev, AUTHOR)
    _assert_refusal(err)
    with pytest.raises(ConflictsPending) as err:
        checkout(dev_repo, dev, AUTHOR, str(head))
    _assert_refusal(err)
    with pytest.raises(ConflictsPending) as err:
        _pull(dev_repo, dev, "prod")
    _assert_refusal(err)
    _assert_merge_kept(dev_repo, head)
    assert dev.data["ABC Corp"][K1]["status"] == "A"  # ours until concluded


def test_a_merge_the_database_moved_away_from_is_kept_not_discarded(waiting):
    """What an earlier attgit left: a commit made over the waiting merge.
    The next command used to discard the merge and settle its conflicts as
    theirs; now the merge waits, and concluding it keeps every edit."""
    prod_repo, prod, dev_repo, dev = waiting
    head = dev_repo.head()
    state = MergeState.load(dev_repo)
    tree = dev_repo.snapshot(state.work).tree.id
    stray = dev_repo.write_commit(tree, [head], "a commit over the merge", {}, AUTHOR)
    dev.set_state(type(dev.state())(str(stray), dev.state().watermark))
    note = reconcile(dev_repo, dev)
    assert "still waits for you" in note and "attgit merge --abort" in note
    _assert_merge_kept(dev_repo, head)
    with pytest.raises(ConflictsPending):
        _pull(dev_repo, dev, "prod")
    _assert_merge_kept(dev_repo, head)
    state = MergeState.load(dev_repo)
    state.resolve(state.pending()[0].id, "ours")
    state.save(dev_repo)
    commit = conclude(dev_repo, dev, AUTHOR)
    assert dev.data["ABC Corp"][K1]["status"] == "L" and dev.data["Zeta"][K2]["shift"] == "Night"
    assert str(dev_repo.head()) == commit == dev.state().commit and MergeState.load(dev_repo) is None
    fsck(dev_repo.path)


def test_a_merge_interrupted_before_it_changed_the_database_is_discarded(waiting):
    prod_repo, prod, dev_repo, dev = waiting
    state = MergeState.load(dev_repo)
    dev.set_state(type(dev.state())(state.ours, dev.state().watermark))  # as if start_manual never applied
    assert "interrupted before it changed the database" in reconcile(dev_repo, dev)
    assert MergeState.load(dev_repo) is None


def test_a_conclude_interrupted_after_its_apply_is_finished(waiting, monkeypatch):
    prod_repo, prod, dev_repo, dev = waiting
    state = MergeState.load(dev_repo)
    state.resolve(state.pending()[0].id, "theirs")
    state.save(dev_repo)
    head = dev_repo.head()

    def crash(*args, **kwargs):
        raise RuntimeError("crash between the database and the ref")

    monkeypatch.setattr(type(dev_repo), "move_head", crash)
    with pytest.raises(RuntimeError):
        conclude(dev_repo, dev, Author("tester"))
    monkeypatch.undo()
    assert dev_repo.head() == head and dev.state().commit != state.work
    note = reconcile(dev_repo, dev)
    assert note.startswith("finished concluding the merge of prod")
    assert str(dev_repo.head()) == dev.state().commit and MergeState.load(dev_repo) is None
    assert dev.data["Zeta"][K2]["shift"] == "General"
