"""Remotes over every URL C git speaks: a local path, file://, git:// (a
real ``git daemon``), smart HTTP (a real ``git http-backend``) and ssh:// (a
real ``sshd`` on 127.0.0.1 with a throwaway key).

The library's fetch, push, clone and pull run over each; so does the
``attgit`` command on the example site's databases.  A remote that cannot
be reached, that does not exist, or that is an ordinary git repository
gets a clear message and exit code 9 (ExitCode.REMOTE) and changes
nothing: not the attendance data, not main, not refs/remotes/*.
"""

from __future__ import annotations

import shutil

import pytest

from attgit.errors import ConfigError, ExitCode, Rejected, RemoteError
from attgit.ops.commit import snapshot_database
from attgit.ops.pull import pull_commit
from attgit.repo import cgit, transport
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from ..helpers import AUTHOR, as_set, fsck, git, record
from .conftest import free_port
from .envs import Env, new_hub, plain_git_repo, postgres_url

URL_KINDS = ("path", "file", "git", "http", "ssh")
only_once = pytest.mark.skipif(bool(postgres_url()), reason="no database involved: the SQLite run covers it")


@pytest.fixture
def url_of(git_daemon, git_http, served, request):
    """url_of(kind, path): the URL of a repository in ``served`` (the ssh
    server starts on first use, so only ssh tests skip without sshd)."""

    def url(kind: str, path) -> str:
        if kind == "ssh":
            return request.getfixturevalue("git_ssh") + path.name
        return {"path": str(path), "file": path.as_uri(), "git": git_daemon + path.name,
                "http": git_http + path.name}[kind]

    url.served = served
    return url


# --- the library -----------------------------------------------------------------------

def _pull(repo, db, name="hub"):
    transport.fetch(repo, name)
    return pull_commit(repo, db, AUTHOR, transport.remote_tip(repo, name), name)


@only_once
@pytest.mark.parametrize("kind", URL_KINDS)
def test_library_push_clone_fetch_pull_over(kind, url_of, served, tmp_path):
    hub = new_hub(served)
    url = url_of(kind, hub)
    a_repo, a_db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy.from_records(
        [record("E1"), record("E2"), record("E1", company="Zeta")])
    snapshot_database(a_repo, a_db, AUTHOR)
    transport.add_remote(a_repo, "hub", url)
    pushed = transport.push(a_repo, "hub")
    assert (pushed.previous, pushed.pushed, pushed.up_to_date) == (None, str(a_repo.head()), False)
    assert git("-C", str(hub), "rev-parse", "main").strip() == str(a_repo.head())

    b_repo, b_db = transport.clone(url, tmp_path / "b.git", "hub"), MemoryWorkingCopy()
    assert b_repo.head() == a_repo.head()
    b_db.apply(_plan_from_empty(b_repo), str(b_repo.head()))  # what `attgit clone` does next
    assert as_set(b_db) == as_set(a_db)

    a_db.data["ABC Corp"][("E1", "ABC Corp", "2025-11-20")]["status"] = "A"
    snapshot_database(a_repo, a_db, AUTHOR)
    assert transport.push(a_repo, "hub").previous == pushed.pushed
    fetched = transport.fetch(b_repo, "hub")
    assert fetched.changed and fetched.after == str(a_repo.head())
    assert _pull(b_repo, b_db).status == "fast-forward"
    assert as_set(b_db) == as_set(a_db)

    b_db.data["Zeta"][("E1", "Zeta", "2025-11-20")]["shift"] = "Night"
    snapshot_database(b_repo, b_db, AUTHOR)
    transport.push(b_repo, "hub")
    a_db.data["ABC Corp"][("E2", "ABC Corp", "2025-11-20")]["overstay"] = "2"
    snapshot_database(a_repo, a_db, AUTHOR)
    with pytest.raises(Rejected, match="run `attgit pull hub` first"):
        transport.push(a_repo, "hub")
    assert _pull(a_repo, a_db).status == "merged"
    transport.push(a_repo, "hub")
    assert _pull(b_repo, b_db).status == "fast-forward"
    assert as_set(b_db) == as_set(a_db)
    assert a_repo.info(a_repo.head()).tree == b_repo.info(b_repo.head()).tree
    assert transport.push(b_repo, "hub").up_to_date
    for path in (hub, a_repo.path, b_repo.path):
        fsck(path)


@only_once
def test_library_file_url_with_escapes(tmp_path):
    """file:// URLs are percent-encoded (a space is %20): decoded, as git does."""
    folder = tmp_path / "shared drive é"
    folder.mkdir()
    hub = new_hub(folder)
    url = hub.as_uri()
    assert "%20" in url
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy.from_records([record("E1")])
    snapshot_database(repo, db, AUTHOR)
    transport.add_remote(repo, "hub", url)
    transport.push(repo, "hub")
    assert git("-C", str(hub), "rev-parse", "main").strip() == str(repo.head())
    clone = transport.clone(url, tmp_path / "b.git")
    assert clone.head() == repo.head() and transport.fetch(clone, "origin").after == str(repo.head())
    fsck(hub)


@only_once
@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-url"])
def test_a_push_to_this_machine_lands_as_a_pack_and_is_fetched_back(as_uri, tmp_path):
    """A remote on this machine keeps a push as the pack it came in (git would
    unpack fewer than 100 objects into loose ones, deflating every company file
    again), and serves a fetch from it as it is: both ends stay whole."""
    hub = new_hub(tmp_path)
    url = hub.as_uri() if as_uri else str(hub)
    repo, db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy.from_records([record("E1"), record("E2")])
    snapshot_database(repo, db, AUTHOR)
    transport.add_remote(repo, "hub", url)
    transport.push(repo, "hub")
    db.data["ABC Corp"][("E1", "ABC Corp", "2025-11-20")]["shift"] = "Night"
    snapshot_database(repo, db, AUTHOR)
    transport.push(repo, "hub")
    counts = dict(line.split(": ") for line in git("-C", str(hub), "count-objects", "-v").splitlines())
    assert counts["count"] == "0" and int(counts["packs"]) == 2, counts
    clone = transport.clone(url, tmp_path / "b.git")
    assert clone.head() == repo.head() and transport.fetch(clone, "origin").after == str(repo.head())
    for path in (hub, clone.path):
        fsck(path)


def _plan_from_empty(repo):
    from attgit.merge.plan import plan_between

    return plan_between(repo.snapshot(None), repo.snapshot(repo.head())).changes()


@only_once
@pytest.mark.parametrize("kind", URL_KINDS)
def test_library_clone_of_a_missing_repository_leaves_no_directory(kind, url_of, served, tmp_path):
    with pytest.raises(RemoteError, match="cannot fetch from remote 'origin'"):
        transport.clone(url_of(kind, served / "nosuch.git"), tmp_path / "c.git")
    assert not (tmp_path / "c.git").exists()


def _diverged(url, tmp_path):
    """a and b cloned from one hub; b pushed a change, a committed another:
    a's push is not a fast-forward.  Returns a's repo and the first tip."""
    a_repo, a_db = Repository.init(tmp_path / "a.git"), MemoryWorkingCopy.from_records([record("E1"), record("E2")])
    snapshot_database(a_repo, a_db, AUTHOR)
    transport.add_remote(a_repo, "hub", url)
    first = transport.push(a_repo, "hub").pushed
    b_repo, b_db = transport.clone(url, tmp_path / "b.git", "hub"), MemoryWorkingCopy()
    b_db.apply(_plan_from_empty(b_repo), str(b_repo.head()))
    b_db.data["ABC Corp"][("E1", "ABC Corp", "2025-11-20")]["status"] = "A"
    snapshot_database(b_repo, b_db, AUTHOR)
    transport.push(b_repo, "hub")
    a_db.data["ABC Corp"][("E2", "ABC Corp", "2025-11-20")]["status"] = "L"
    snapshot_database(a_repo, a_db, AUTHOR)
    return a_repo, b_repo, first


@only_once
@pytest.mark.parametrize("kind", URL_KINDS)
def test_library_a_rejected_push_changes_nothing(kind, url_of, tmp_path):
    hub = new_hub(url_of.served)
    url = url_of(kind, hub)
    a_repo, b_repo, first = _diverged(url, tmp_path)
    a_head = a_repo.head()
    with pytest.raises(Rejected, match="it has commits that main does not; run `attgit pull hub` first"):
        transport.push(a_repo, "hub")
    assert git("-C", str(hub), "rev-parse", "main").strip() == str(b_repo.head())
    assert a_repo.head() == a_head and transport.remote_tip(a_repo, "hub") == b_repo.head()
    # the compare-and-swap itself: another writer moves the hub's main after git read it (a hook
    # runs between the read and the update) and the remote refuses to move main from a tip it left
    on_top = a_repo.write_commit(a_repo.commit(b_repo.head()).tree_id, [b_repo.head()], "on top of hub", {}, AUTHOR)
    hook = hub / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\nenv -u GIT_QUARANTINE_PATH git update-ref refs/heads/main {first}\n")
    hook.chmod(0o755)
    try:
        with pytest.raises(Rejected, match="it moved while pushing; run `attgit pull hub` first"):
            transport._send(a_repo, "hub", url, on_top, None)
    finally:
        hook.unlink()
    assert git("-C", str(hub), "rev-parse", "main").strip() == first
    fsck(hub)
    fsck(a_repo.path)


@only_once
@pytest.mark.parametrize("kind", URL_KINDS)
def test_library_progress_is_git_progress(kind, url_of, tmp_path):
    """git's --progress lines on stderr become progress(done, total) calls."""
    hub = new_hub(url_of.served)
    url = url_of(kind, hub)
    repo = Repository.init(tmp_path / "a.git")
    snapshot_database(repo, MemoryWorkingCopy.from_records([record(f"E{i}", company=f"C{i % 7}") for i in range(300)]),
                      AUTHOR)
    transport.add_remote(repo, "hub", url)
    pushed, fetched = [], []
    transport.push(repo, "hub", lambda done, total: pushed.append((done, total)))
    other = Repository.init(tmp_path / "b.git")
    transport.add_remote(other, "hub", url)
    transport.fetch(other, "hub", lambda done, total: fetched.append((done, total)))
    for calls in (pushed, fetched):
        assert calls and all(0 <= done <= total for done, total in calls), calls
        assert calls[-1][0] == calls[-1][1]
    assert other.git.references["refs/remotes/hub/main"].target == repo.head()


@only_once
def test_without_git_a_clear_configuration_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no git here
    cgit.version.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"attgit needs C git \(the `git` command\).*none is on PATH"):
            transport.clone("git://127.0.0.1:9/hub.git", tmp_path / "c.git")
    finally:
        cgit.version.cache_clear()
    assert not (tmp_path / "c.git").exists()


# --- the attgit command on the example site ----------------------------------------------

@pytest.fixture(scope="module")
def origin(databases, tmp_path_factory):
    """An environment with 300 records committed; saved, to be copied."""
    root = tmp_path_factory.mktemp("origin")
    env = Env("origin", root, databases.create("origin"))
    env.seed(300, 3)
    env.attgit("init")
    env.attgit("commit", "-m", "first")
    return env


def copy_env(databases, origin: Env, name: str, root) -> Env:
    env = Env(name, root, databases.copy(origin.db, name))
    shutil.copytree(origin.repo_path, env.repo_path)
    return env


@pytest.mark.parametrize("kind", URL_KINDS)
def test_cli_push_clone_fetch_pull_over(kind, origin, databases, make_env, url_of, served, tmp_path):
    a = copy_env(databases, origin, "a", tmp_path)
    hub = new_hub(served)
    url = url_of(kind, hub)
    transport.add_remote(Repository.open(a.repo_path), "hub", url)
    assert f"hub: (empty) -> {a.head()[:10]}" in a.attgit("push", "hub").out
    b = make_env("b")
    assert "300 records loaded" in b.attgit("clone", url, "--name", "hub").out
    assert b.assert_in_sync() == a.main_tree()

    company = a.snapshot().companies()[0]
    first = min(a.snapshot().records(company).values(), key=lambda r: (r["date"], r["ep_no"]))
    b.edit({"op": "set", "company": company, "ep_no": first["ep_no"], "date": first["date"],
            "fields": {"status": "OD"}})
    b.attgit("commit", "-m", "on duty")
    b.attgit("push", "hub")
    assert f"hub/main: {a.head()[:10]} -> {b.head()[:10]}" in a.attgit("fetch", "hub").out
    pulled = a.attgit("pull", "hub", "--json").json()
    assert (pulled["status"], pulled["commit"], pulled["counts"]["updates"]) == ("fast-forward", b.head(), 1)
    assert a.assert_in_sync() == b.main_tree()
    for path in (hub, a.repo_path, b.repo_path):
        fsck(path)


# --- bad remotes ---------------------------------------------------------------------------

BAD = {
    "unreachable git://": ("cannot fetch from remote", lambda u: f"git://127.0.0.1:{free_port()}/hub.git"),
    "unreachable http://": ("cannot fetch from remote", lambda u: f"http://127.0.0.1:{free_port()}/hub.git"),
    "unreachable ssh://": ("cannot fetch from remote", lambda u: f"ssh://127.0.0.1:{free_port()}/hub.git"),
    "no such path": ("cannot fetch from remote", lambda u: u("path", u.served / "nosuch.git")),
    "no such file://": ("cannot fetch from remote", lambda u: u("file", u.served / "nosuch.git")),
    "no such git://": ("cannot fetch from remote", lambda u: u("git", u.served / "nosuch.git")),
    "no such http://": ("cannot fetch from remote", lambda u: u("http", u.served / "nosuch.git")),
    "no such ssh://": ("cannot fetch from remote", lambda u: u("ssh", u.served / "nosuch.git")),
    "a folder inside a repository": ("cannot fetch from remote", lambda u: str(plain_git_repo(u.served) / "refs")),
    "plain repo path": ("is not an attgit repository", lambda u: u("path", plain_git_repo(u.served))),
    "plain repo file://": ("is not an attgit repository", lambda u: u("file", plain_git_repo(u.served))),
    "plain repo git://": ("is not an attgit repository", lambda u: u("git", plain_git_repo(u.served))),
    "plain repo http://": ("is not an attgit repository", lambda u: u("http", plain_git_repo(u.served))),
    "plain repo ssh://": ("is not an attgit repository", lambda u: u("ssh", plain_git_repo(u.served))),
}


@pytest.fixture(scope="module")
def victim(origin, databases, tmp_path_factory):
    """An environment with data, a commit and a good remote already fetched,
    and an empty one for clones: what every bad remote must leave alone."""
    root = tmp_path_factory.mktemp("victim")
    env = copy_env(databases, origin, "victim", root)
    hub = new_hub(root)
    env.attgit("remote", "add", "good", str(hub))
    env.attgit("push", "good")
    empty = Env("empty", root, databases.create("empty"))
    with env.inspector() as inspect, empty.inspector() as inspect_empty:
        yield env, inspect, empty, inspect_empty


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_remote_gets_a_clear_error_and_changes_nothing(case, victim, url_of):
    env, inspect, empty, inspect_empty = victim
    message, make_url = BAD[case]
    url = make_url(url_of)
    name = "bad-" + "".join(c if c.isalnum() else "-" for c in case)
    transport.add_remote(Repository.open(env.repo_path), name, url)
    before, refs = inspect.ask("tree"), env.refs()
    clone = empty.start("clone", url)  # meanwhile, in the other environment
    for command in (("fetch", name), ("pull", name, "--json"), ("push", name)):
        result = env.attgit(*command, code=ExitCode.REMOTE)
        # a push names the push, not the fetch it starts with (issue 11)
        said = message.replace("cannot fetch from", "cannot push to") if command[0] == "push" else message
        assert result.err.startswith("attgit: error: ") and said in result.err and url in result.err, result
        assert "Traceback" not in result.err and result.out == ""
    assert inspect.ask("tree") == before and env.refs() == refs
    fsck(env.repo_path)

    out, err = clone.communicate(timeout=300)
    assert clone.returncode == ExitCode.REMOTE and message in err and url in err, err
    assert not empty.repo_path.exists()
    assert inspect_empty.ask("tree")["records"] == 0
