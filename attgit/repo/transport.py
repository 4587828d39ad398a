"""Remotes, fetch, push and clone over any URL libgit2 speaks.

Remotes are ordinary git remotes in the repository's config, so ``git
remote -v`` shows them and any git host can be one.  Fetched tips land in
``refs/remotes/<name>/main``; push is fast-forward only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pygit2

from attgit.errors import NotFound, Rejected, RemoteError, UsageError, ValidationError
from attgit.repo import localcopy
from attgit.repo.repository import BRANCH, CONFIG_KEY, Repository

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
TransferProgress = Optional[Callable[[int, int], None]]


def tracking_ref(name: str) -> str:
    return f"refs/remotes/{name}/main"


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name) or name.endswith(".lock") or ".." in name:
        raise UsageError(f"invalid remote name {name!r}: use letters, digits, '.', '_' or '-'")


def add_remote(repo: Repository, name: str, url: str) -> None:
    _check_name(name)
    if not url.strip():
        raise UsageError("the remote URL is empty")
    if name in repo.git.remotes.names():
        raise UsageError(f"remote {name!r} already exists ({repo.git.remotes[name].url}); remove it first")
    repo.git.remotes.create(name, url, f"+refs/heads/main:{tracking_ref(name)}")


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


class _Callbacks(pygit2.RemoteCallbacks):
    def __init__(self, progress: TransferProgress):
        super().__init__()
        self._progress = progress
        self.rejected: dict = {}

    def transfer_progress(self, stats):
        if self._progress:
            self._progress(stats.received_objects, stats.total_objects)

    def push_update_reference(self, refname, message):
        if message:
            self.rejected[refname] = message


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
    """Fetch the remote's main into refs/remotes/<name>/main and check it is
    an attgit history (else the ref is put back and RemoteError raised)."""
    remote = _remote(repo, name)
    ref = tracking_ref(name)
    before = _target(repo, ref)
    try:
        if localcopy.local_path(remote.url) is not None:
            _fetch_local(repo, remote, ref, progress)
        else:
            remote.fetch([f"+refs/heads/main:{ref}"], callbacks=_Callbacks(progress))
    except pygit2.GitError as exc:
        raise RemoteError(f"cannot fetch from remote {name!r} ({remote.url}): {exc}") from None
    after = _target(repo, ref)
    if after is None:
        raise RemoteError(f"remote {name!r} ({remote.url}) has no main branch: nothing to fetch "
                          "(push to it first, or check the URL)")
    try:
        repo.snapshot(after)
    except ValidationError as exc:
        repo.set_ref(ref, before)
        raise RemoteError(f"remote {name!r} ({remote.url}) is not an attgit repository: {exc}") from None
    return FetchResult(name, remote.url, str(before) if before else None, str(after))


def _fetch_local(repo: Repository, remote: pygit2.Remote, ref: str, progress: TransferProgress) -> None:
    """Fetch from a repository on this machine by copying objects."""
    other = localcopy.open_local(localcopy.local_path(remote.url))
    try:
        tip = other.references[BRANCH].target
    except KeyError:
        return  # no main there: the caller says so
    localcopy.copy_history(other, repo.git, tip, progress)
    repo.set_ref(ref, tip)


def _push_local(repo: Repository, remote: pygit2.Remote, expected: Optional[pygit2.Oid],
                progress: TransferProgress) -> None:
    """Push to a repository on this machine: copy objects, then move its
    main by compare-and-swap under its attgit lock."""
    path = localcopy.local_path(remote.url)
    other = localcopy.open_local(path)
    with Repository(other, path).lock():
        current = other.references[BRANCH].target if BRANCH in other.references else None
        if current != expected:
            raise Rejected(f"push to {remote.name!r} rejected: it moved while pushing; "
                           f"run `attgit pull {remote.name}` first")
        localcopy.copy_history(repo.git, other, repo.head(), progress)
        other.create_reference_direct(BRANCH, repo.head(), True, message=f"push from {repo.path}")


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
    theirs = _fetch_quietly(repo, name)
    if theirs is not None and theirs == head:
        return PushResult(name, remote.url, str(head), str(theirs), True)
    if theirs is not None and not repo.is_ancestor(theirs, head):
        raise Rejected(f"push to {name!r} rejected: it has commits that main does not; "
                       f"run `attgit pull {name}` first, then push again")
    callbacks = _Callbacks(progress)
    try:
        if localcopy.local_path(remote.url) is not None:
            _push_local(repo, remote, theirs, progress)
        else:
            remote.push([f"{BRANCH}:{BRANCH}"], callbacks=callbacks, threads=0)
    except pygit2.GitError as exc:
        raise RemoteError(f"cannot push to remote {name!r} ({remote.url}): {exc}") from None
    if callbacks.rejected:
        raise Rejected(f"push to {name!r} rejected: {callbacks.rejected}; run `attgit pull {name}` first")
    repo.set_ref(tracking_ref(name), head)
    return PushResult(name, remote.url, str(head), str(theirs) if theirs else None, False)


def _fetch_quietly(repo: Repository, name: str) -> Optional[pygit2.Oid]:
    """The remote's main after a fetch, or None when the remote is empty."""
    try:
        return pygit2.Oid(hex=fetch(repo, name).after)
    except RemoteError as exc:
        if "has no main branch" in str(exc):
            return None
        raise


def clone(url: str, path: str | Path, name: str = "origin", progress: TransferProgress = None) -> Repository:
    """A new bare repository with ``url`` as remote ``name`` and its main."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not empty; clone into a new path")
    repo = Repository.init(path)
    add_remote(repo, name, url)
    try:
        result = fetch(repo, name, progress)
    except Exception:
        _remove_tree(path)
        raise
    repo.git.create_reference_direct(BRANCH, pygit2.Oid(hex=result.after), True, message=f"clone from {url}")
    repo.git.config[CONFIG_KEY] = "1"
    return repo


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
