"""``attgit pull NAME [--strategy theirs|ours|manual] [--preview] [--json]``
as a person runs it: the real command in its own process, on the example
site (settings ``attendance_site.settings``, DATABASE_URL / ATTGIT_REPO
from the environment); its JSON, its words and its exit codes."""

from __future__ import annotations

from attgit.errors import ExitCode

from .envs import Pair


def first_key(pair: Pair) -> tuple:
    snapshot = pair.a.snapshot()
    return min(snapshot.records(snapshot.companies()[0]))


def set_status(env, key, status: str) -> None:
    env.edit({"op": "set", "ep_no": key[0], "company": key[1], "date": key[2], "fields": {"status": status}})


def test_preview_fast_forward_then_up_to_date(pair):
    key = first_key(pair)
    set_status(pair.a, key, "HD")
    pair.a.attgit("commit", "-m", "half day")
    pair.a.attgit("push", "hub")
    before, main = pair.b.db_tree(), pair.b.head()

    preview = pair.b.attgit("pull", "hub", "--preview", "--json").json()
    assert (preview["status"], preview["fast_forward"], preview["counts"]["updates"]) == ("preview", True, 1)
    assert preview["commit"] is None and preview["theirs"] == pair.a.head()
    assert pair.b.db_tree() == before and pair.b.head() == main, "a preview wrote something"
    assert "fast-forward from hub: would insert 0, update 1, delete 0; 0 conflicts" in \
        pair.b.attgit("pull", "hub", "--preview").out

    pulled = pair.b.attgit("pull", "hub", "--json").json()
    assert (pulled["status"], pulled["commit"], pulled["head"]) == ("fast-forward", pair.a.head(), main)
    assert pulled["counts"] == {"inserts": 0, "updates": 1, "deletes": 0, "companies_created": 0,
                                "companies_dropped": 0, "total": 1}
    assert pair.b.assert_in_sync() == pair.a.main_tree()
    assert pair.b.attgit("pull", "hub", "--json").json()["status"] == "up-to-date"
    assert pair.b.attgit("pull", "hub").out.strip() == "Already up to date with hub."


def test_conflicts_exit_7_until_resolved_or_aborted(pair):
    key = first_key(pair)
    set_status(pair.a, key, "L")
    pair.a.attgit("commit", "-m", "leave")
    pair.a.attgit("push", "hub")
    set_status(pair.b, key, "A")
    before = pair.b.db_tree()["tree"]

    manual = pair.b.attgit("pull", "hub", "--strategy", "manual", "--json", code=ExitCode.CONFLICTS)
    report = manual.json()
    assert report["status"] == "conflicts" and len(report["conflicts"]) == 1
    conflict = report["conflicts"][0]
    assert (tuple(conflict["key"]), conflict["fields"], conflict["resolution"]) == (key, ["status"], None)
    assert (conflict["ours"]["status"], conflict["theirs"]["status"], conflict["base"]["status"]) == \
        ("A", "L", conflict["base"]["status"])
    assert "1 conflict waits for you" in manual.err and "attgit conflicts" in manual.err
    assert pair.b.db_tree()["tree"] == before, "the database keeps its own version of a pending conflict"

    again = pair.b.attgit("pull", "hub", code=ExitCode.CONFLICTS)
    assert "a merge is in progress" in again.err and "attgit merge --continue" in again.err
    assert "merge aborted" in pair.b.attgit("merge", "--abort").out
    assert pair.b.db_tree()["tree"] == before

    # No --strategy: manual, git's habit (issue 10.4; this used to be theirs).
    default = pair.b.attgit("pull", "hub", "--json", code=ExitCode.CONFLICTS).json()
    assert default["status"] == "conflicts" and default["conflicts"][0]["resolution"] is None
    assert pair.b.db_tree()["tree"] == before
    assert "merge aborted" in pair.b.attgit("merge", "--abort").out

    theirs = pair.b.attgit("pull", "hub", "--strategy", "theirs", "--json").json()
    assert theirs["status"] == "merged" and theirs["conflicts"][0]["resolution"] == "theirs"
    pair.b.assert_in_sync()
    assert pair.b.records()[key]["status"] == "L"


def test_preview_lists_conflicts_and_exits_0(pair):
    key = first_key(pair)
    set_status(pair.a, key, "L")
    pair.a.attgit("commit")
    pair.a.attgit("push", "hub")
    set_status(pair.b, key, "A")
    preview = pair.b.attgit("pull", "hub", "--preview", "--strategy", "manual")
    assert "merge from hub: would insert 0, update 0, delete 0; 1 conflict" in preview.out
    assert "(pending)" in preview.out and "status: base" in preview.out
    assert pair.b.attgit("status", "--json").json()["merge_in_progress"] is False


def test_pull_errors_have_their_exit_codes(pair, tmp_path):
    unknown = pair.b.attgit("pull", "nowhere", code=ExitCode.NOT_FOUND)
    assert "no remote named 'nowhere' (remotes: hub)" in unknown.err
    strategy = pair.b.attgit("pull", "hub", "--strategy", "whoever-shouts", code=ExitCode.USAGE)
    assert "unknown merge strategy 'whoever-shouts'" in strategy.err
    missing = pair.b.attgit("--repo", str(tmp_path / "nothing.git"), "pull", "hub", code=ExitCode.NOT_A_REPOSITORY)
    assert "no such repository" in missing.err
    for result in (unknown, strategy, missing):
        assert "Traceback" not in result.err and result.out == ""
    # no name: the only remote (git's habit; issue 11 changed this from a usage error)
    assert pair.b.attgit("pull").out.strip() == "Already up to date with hub."


def _objects(env) -> set:
    root = env.repo_path / "objects"
    return {p for p in root.rglob("*") if p.is_file()}


def test_dry_run_is_a_preview_that_writes_nothing(pair):
    key = first_key(pair)
    set_status(pair.a, key, "L")
    pair.a.attgit("commit")
    pair.a.attgit("push", "hub")
    set_status(pair.b, key, "A")  # an uncommitted edit: a real pull would commit it first
    pair.b.attgit("fetch", "hub")
    before = (_objects(pair.b), pair.b.refs(), pair.b.db_tree())
    dry = pair.b.attgit("pull", "hub", "--dry-run", "--json").json()
    assert dry["status"] == "preview" and dry["pre_commit"] is None and len(dry["conflicts"]) == 1
    assert (_objects(pair.b), pair.b.refs(), pair.b.db_tree()) == before, "a dry run wrote something"


def test_unrelated_histories_are_refused_unless_allowed(pair, make_env):
    other = make_env("other")
    other.seed(30, 2, seed=5)
    other.attgit("init")
    other.attgit("commit", "-m", "a history of its own")
    other.attgit("remote", "add", "hub", str(pair.hub))
    before = (other.head(), other.db_tree())
    refused = other.attgit("pull", "hub", "--strategy", "theirs", code=ExitCode.REJECTED)
    assert "shares no commit with main" in refused.err and "--allow-unrelated-histories" in refused.err
    assert "Traceback" not in refused.err and (other.head(), other.db_tree()) == before
    merged = other.attgit("pull", "hub", "--strategy", "theirs", "--allow-unrelated-histories", "--json").json()
    assert merged["status"] == "merged" and merged["base"] is None
    other.assert_in_sync()
