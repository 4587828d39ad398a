"""Remotes, fetch, push and clone over every URL C git speaks.

Remotes are ordinary git remotes in the repository's config, so ``git
remote -v`` shows them and any git host can be one.  The bytes move with C
git (:mod:`attgit.repo.cgit`): ``git fetch``, ``git push``, ``git clone``
and ``git ls-remote``, over a path, file://, git://, ssh:// or https://.

The promises:

- fetch lands the remote's main in a private ref first, checks it is an
  attgit snapshot, and only then moves ``refs/remotes/<name>/main``; a
  remote that cannot be reached or is not attgit raises RemoteError and
  moves no ref;
- push is fast-forward only (Rejected otherwise) and a compare-and-swap:
  ``--force-with-lease`` names the tip we checked, so a remote that moved
  meanwhile refuses the update;
- git's ``--progress`` drives the same ``progress(done, total)`` callback.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import unquote, urlsplit

import pygit2

from attgit.errors import NotFound, Rejected, RemoteError, UsageError, ValidationError
from attgit.repo import cgit, locking
from attgit.repo.repository import BRANCH, CONFIG_KEY, LOCK_FILE, Repository

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[^/:]+:")
_NO_MAIN = "couldn't find remote ref"
_MOVED = ("stale info", "non-fast-forward", "fetch first")
TransferProgress = Optional[Callable[[int, int], None]]


def tracking_ref(name: str) -> str:
    return f"refs/remotes/{name}/main"


def incoming_ref(name: str) -> str:
    """Where a fetch lands before it is checked; keeps the objects
    reachable (so maintenance cannot drop them) until the tracking ref moves."""
    return f"refs/attgit/incoming/{name}"


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name) or name.endswith(".lock") or ".." in name:
        raise UsageError(f"invalid remote name {name!r}: use letters, digits, '.', '_' or '-'")


def add_remote(repo: Repository, name: str, url: str) -> None:
    _check_name(name)
    if not url.strip():
        raise UsageError("the remote URL is empty")
    if name in repo.git.remotes.names():
        raise UsageError(f"remote {name!r} already exists ({repo.git.remotes[name].url}); remove it first")
    repo.git.remotes.create(name, url, f"+{BRANCH}:{tracking_ref(name)}")


def remove_remote(repo: Repository, name: str) -> None:
    _remote(repo, name)
    repo.git.remotes.delete(name)


def list_remotes(repo: Repository) -> list[dict]:
    return [{"name": r.name, "url": r.url} for r in repo.git.remotes]


def set_remote(repo: Repository, name: str, url: str) -> None:
    """Create or update a remote (used by the Django admin's Remote model)."""
    _check_name(name)
    if name in repo.git.remotes.names():
        repo.git.remotes.set_url(name, url)
    else:
        add_remote(repo, name, url)


def _remote(repo: Repository, name: str) -> pygit2.Remote:
    try:
        return repo.git.remotes[name]
    except KeyError:
        known = ", ".join(repo.git.remotes.names()) or "none"
        raise NotFound(f"no remote named {name!r} (remotes: {known}); add it with `attgit remote add`") from None


# --- fetch ---------------------------------------------------------------------------

@dataclass
class FetchResult:
    name: str
    url: str
    before: Optional[str]
    after: Optional[str]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_dict(self) -> dict:
        return {**self.__dict__, "changed": self.changed}


def fetch(repo: Repository, name: str, progress: TransferProgress = None) -> FetchResult:
    """Fetch the remote's main into refs/remotes/<name>/main, once it is
    known to be an attgit history (else RemoteError and no ref moves)."""
    remote = _remote(repo, name)
    ref = tracking_ref(name)
    before = _target(repo, ref)
    after = _fetch_checked(repo, name, remote.url, progress)
    repo.set_ref(ref, after)
    repo.set_ref(incoming_ref(name), None)
    return FetchResult(name, remote.url, str(before) if before else None, str(after))


def _fetch_checked(repo: Repository, name: str, url: str, progress: TransferProgress) -> pygit2.Oid:
    """The remote's main, fetched into :func:`incoming_ref` and checked."""
    landing = incoming_ref(name)
    done = cgit.run(["fetch", "--no-tags", "--no-write-fetch-head", "--progress", "--", url,
                     f"+{BRANCH}:{landing}"], repo.path, progress)
    if not done.ok:
        if _NO_MAIN in done.error():
            raise RemoteError(f"remote {name!r} ({url}) has no main branch: nothing to fetch "
                              "(push to it first, or check the URL)")
        raise RemoteError(f"cannot fetch from remote {name!r} ({url}): {done.error()}")
    tip = _target(repo, landing)
    try:
        repo.snapshot(tip)
    except (ValidationError, KeyError, ValueError) as exc:
        repo.set_ref(landing, None)
        raise RemoteError(f"remote {name!r} ({url}) is not an attgit repository: {exc}") from None
    return tip


def _target(repo: Repository, ref: str) -> Optional[pygit2.Oid]:
    try:
        return repo.git.references[ref].target
    except KeyError:
        return None


def remote_tip(repo: Repository, name: str) -> pygit2.Oid:
    tip = _target(repo, tracking_ref(name))
    if tip is None:
        raise NotFound(f"nothing fetched from {name!r} yet; run `attgit fetch {name}`")
    return tip


# --- push ----------------------------------------------------------------------------

@dataclass
class PushResult:
    name: str
    url: str
    pushed: Optional[str]
    previous: Optional[str]
    up_to_date: bool

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def push(repo: Repository, name: str, progress: TransferProgress = None) -> PushResult:
    """Push main, fast-forward only: refuses to overwrite the remote's commits."""
    head = repo.head()
    if head is None:
        raise UsageError("nothing to push: no commits yet (attgit commit)")
    remote = _remote(repo, name)
    theirs = _remote_main(repo, name, remote.url)
    if theirs is not None and not (repo.contains(theirs) and repo.is_ancestor(theirs, head)):
        fetch(repo, name)  # says RemoteError when it is not attgit at all
        raise Rejected(f"push to {name!r} rejected: it has commits that main does not; "
                       f"run `attgit pull {name}` first, then push again")
    if theirs != head:
        with _lock_if_local(remote.url):
            _push_lease(repo, name, remote.url, head, theirs, progress)
    repo.set_ref(tracking_ref(name), head)
    return PushResult(name, remote.url, str(head), str(theirs) if theirs else None, theirs == head)


def _remote_main(repo: Repository, name: str, url: str) -> Optional[pygit2.Oid]:
    """The remote's main as it advertises it (None: it has none)."""
    done = cgit.run(["ls-remote", "--", url, BRANCH], repo.path)
    if not done.ok:
        raise RemoteError(f"cannot fetch from remote {name!r} ({url}): {done.error()}")
    for line in done.stdout.splitlines():
        oid, _, ref = line.partition("\t")
        if ref == BRANCH:
            return pygit2.Oid(hex=oid)
    return None


def _push_lease(repo: Repository, name: str, url: str, head: pygit2.Oid, expected: Optional[pygit2.Oid],
                progress: TransferProgress) -> None:
    """Move the remote's main from ``expected`` to ``head`` or fail:
    the lease makes it a compare-and-swap on the remote's side."""
    lease = f"--force-with-lease={BRANCH}:{expected if expected is not None else ''}"
    done = cgit.run(["push", "--porcelain", "--progress", "--no-verify", lease, "--", url, f"{head}:{BRANCH}"],
                    repo.path, progress, _push_config(url))
    if done.ok:
        return
    status = next((line for line in done.stdout.splitlines() if line.startswith("!")), "")
    if any(word in status for word in _MOVED):
        raise Rejected(f"push to {name!r} rejected: it moved while pushing; run `attgit pull {name}` first")
    reason = status.split("\t")[-1] if status else done.error()
    raise RemoteError(f"cannot push to remote {name!r} ({url}): {reason}")


def _push_config(url: str) -> tuple:
    """To a repository on this machine, no delta search: deltas already
    packed are reused and new objects go whole (at 1M records, searching
    deltas of every company file cost a first push 197 s of CPU and 507 MB;
    the bytes do not cross a network).  Elsewhere git's defaults."""
    return (*cgit.QUIET_CONFIG, "pack.window=0") if local_path(url) is not None else cgit.QUIET_CONFIG


def _lock_if_local(url: str):
    """A repository on this machine is pushed into under its attgit lock,
    so its own commits (which check then move main) never race the push."""
    path = local_path(url)
    if path is None or not path.is_dir():
        return contextlib.nullcontext()
    return locking.file_lock(path / LOCK_FILE, f"repository {path}")


def local_path(url: str) -> Optional[Path]:
    """The directory a local remote URL names, or None for a network URL.
    A file:// URL is percent-decoded (``Path.as_uri()`` writes a space as
    %20), as git decodes it."""
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    if "://" in url or _SCP_LIKE.match(url):
        return None
    return Path(url)


# --- clone ---------------------------------------------------------------------------

def clone(url: str, path: str | Path, name: str = "origin", progress: TransferProgress = None) -> Repository:
    """A new bare repository with ``url`` as remote ``name`` and its main."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not empty; clone into a new path")
    try:
        return _clone(url, path, name, progress)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def _clone(url: str, path: Path, name: str, progress: TransferProgress) -> Repository:
    done = cgit.run(["clone", "--bare", "--single-branch", "--branch=main", "--no-tags", "--progress",
                     "--", url, str(path)], None, progress)
    if not done.ok:
        if "not found in upstream" in done.error():
            raise RemoteError(f"remote {name!r} ({url}) has no main branch: nothing to fetch "
                              "(push to it first, or check the URL)")
        raise RemoteError(f"cannot fetch from remote {name!r} ({url}): {done.error()}")
    git = pygit2.Repository(str(path))
    repo = Repository(git, path)
    head = repo.head()
    if head is None:  # an empty repository: git clones it with a warning
        raise RemoteError(f"remote {name!r} ({url}) has no main branch: nothing to fetch "
                          "(push to it first, or check the URL)")
    try:
        repo.snapshot(head)
    except (ValidationError, KeyError, ValueError) as exc:
        raise RemoteError(f"remote {name!r} ({url}) is not an attgit repository: {exc}") from None
    for existing in list(git.remotes.names()):
        git.remotes.delete(existing)
    add_remote(repo, name, url)
    repo.set_ref(tracking_ref(name), head)
    git.config[CONFIG_KEY] = "1"
    return repo
