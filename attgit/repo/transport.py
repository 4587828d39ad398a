"""Remotes, fetch, push and clone over every URL C git speaks.

Remotes are ordinary git remotes in the repository's config, so ``git
remote -v`` shows them and any git host can be one.  The bytes move with C
git (:mod:`attgit.repo.cgit`): ``git fetch``, ``git push`` and ``git clone``
over a path, file://, git://, ssh:// or https://.

The promises:

- fetch lands the remote's main in a private ref first, checks it is an
  attgit snapshot, and only then moves ``refs/remotes/<name>/main``; a
  remote that cannot be reached or is not attgit raises RemoteError and
  moves no ref;
- push is fast-forward only (Rejected otherwise) and a compare-and-swap:
  git's push is never forced, and the remote moves main only from the tip
  git read and checked, so a remote that moved meanwhile refuses the update;
- git's ``--progress`` drives the same ``progress(done, total)`` callback.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import unquote, urlsplit

import pygit2

from attgit.errors import IntegrityError, NotFound, Rejected, RemoteError, UsageError, ValidationError
from attgit.fsutil import process_alive
from attgit.repo import cgit, locking
from attgit.repo.repository import BRANCH, CONFIG_KEY, LOCK_FILE, Repository

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[^/:]+:")
_NO_MAIN = "couldn't find remote ref"
_BEHIND = ("non-fast-forward", "fetch first")  # git's reasons to refuse a push that is not a fast-forward
_MOVED = "but expected"  # receive-pack: "cannot lock ref 'refs/heads/main': is at X but expected Y"
PUSH_WINDOW = 1  # pack.window of a push over a network; see _push_config
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


_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_TRANSPORT_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)::")
ALLOWED_SCHEMES = ("file", "git", "ssh", "http", "https")


def check_url(url: str) -> None:
    """Refuse (UsageError) a remote URL whose transport attgit does not
    allow: only a path, file://, git://, ssh:// (or user@host:path),
    http:// and https://.  git's ``<transport>::<address>`` form (ext::
    runs a command, fd:: waits on a file descriptor for ever) and other
    schemes are refused before git sees them; GIT_ALLOW_PROTOCOL (see
    :mod:`attgit.repo.cgit`) holds the same line inside git."""
    if not url.strip():
        raise UsageError("the remote URL is empty")
    found = _TRANSPORT_RE.match(url) or _SCHEME_RE.match(url)
    allowed = found is None or ("://" in found.group(0) and found.group(1).lower() in ALLOWED_SCHEMES)
    if not allowed or url.startswith("-"):
        used = found.group(1) if found is not None else url[:20]
        raise UsageError(f"remote URL {url!r} uses a transport attgit does not allow ({used}); use a path, "
                         "file://, git://, ssh:// (or user@host:path), http:// or https:// URL")


def add_remote(repo: Repository, name: str, url: str) -> None:
    _check_name(name)
    check_url(url)
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
    check_url(url)
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
    check_url(url)  # the git config may have been edited by hand
    done = cgit.run(["fetch", "--no-tags", "--no-write-fetch-head", "--progress", *_local_server(url), "--", url,
                     f"+{BRANCH}:{landing}"], repo.path, progress)
    if not done.ok:
        if _NO_MAIN in done.error():
            raise RemoteError(f"remote {name!r} ({url}) has no main branch: nothing to fetch "
                              "(push to it first, or check the URL)")
        _check_local(repo)
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
    """Push main, fast-forward only: refuses to overwrite the remote's commits.

    One ``git push`` does it all in one connection: git reads the remote's
    main, refuses anything but a fast-forward of it, and the remote moves
    main only if it still points where it was read (receive-pack checks the
    old value under its ref lock), so the update is a compare-and-swap with
    no ``ls-remote`` round trip before it."""
    head = repo.head()
    if head is None:
        raise UsageError("nothing to push: no commits yet (attgit commit)")
    remote = _remote(repo, name)
    repo.check_history(head)  # what is sent must read whole here first (damage: exit 12, not a remote's fault)
    with _lock_if_local(remote.url):
        sent = _send(repo, name, remote.url, head, progress)
    if sent.behind:
        fetch(repo, name)  # says RemoteError when it is not attgit at all
        raise Rejected(f"push to {name!r} rejected: it has commits that main does not; "
                       f"run `attgit pull {name}` first, then push again")
    repo.set_ref(tracking_ref(name), head)
    return PushResult(name, remote.url, str(head), sent.previous, sent.up_to_date)


@dataclass(frozen=True)
class _Sent:
    """What ``git push --porcelain`` said about main."""

    previous: Optional[str]  # the remote's main before (None: it had none)
    up_to_date: bool
    behind: bool  # refused: the remote's main is not an ancestor of ours


def _send(repo: Repository, name: str, url: str, head: pygit2.Oid, progress: TransferProgress) -> _Sent:
    """``git push`` of ``head`` to the remote's main, never forced."""
    check_url(url)
    done = cgit.run(["push", "--porcelain", "--progress", "--no-verify", *_local_server(url, push=True), "--", url,
                     f"{head}:{BRANCH}"],
                    repo.path, progress, _push_config(url))
    flag, summary = _porcelain(done.stdout)
    if done.ok and flag in ("=", " ", "*"):
        previous = str(head) if flag == "=" else summary.partition("..")[0] if flag == " " else None
        return _Sent(previous, flag == "=", False)
    if flag == "!" and summary.startswith("[rejected]") and any(w in summary for w in _BEHIND):
        return _Sent(None, False, True)
    if flag == "!" and any(_MOVED in m for m in done.messages):
        raise Rejected(f"push to {name!r} rejected: it moved while pushing; run `attgit pull {name}` first")
    reason = f"{summary}: {done.error()}" if flag == "!" else done.error()
    _check_local(repo)
    raise RemoteError(f"cannot push to remote {name!r} ({url}): {reason}")


def _check_local(repo: Repository) -> None:
    """After git failed to fetch or push: damage on this side (a pack index
    cut short, a damaged pack or commit) is named as damage (exit 12), not
    blamed on the remote."""
    from attgit.repo.repair import damaged_indexes

    problems = damaged_indexes(repo)
    if problems:
        raise IntegrityError(f"{repo.path}: {problems[0]}; run `attgit verify` to list the damage and "
                             "`attgit fetch --repair REMOTE` to fetch the objects again from a remote that has them")
    head = repo.head()
    if head is not None:
        repo.check_history(head)


def check_local_damage(path: Path) -> None:
    """:func:`_check_local` for a repository known by its path (maintenance),
    then any damaged object at all (git gc reads every one)."""
    from attgit.errors import CorruptObject
    from attgit.repo.repair import find_damaged

    repo = Repository(pygit2.Repository(str(path)), Path(path))
    _check_local(repo)
    for oid in find_damaged(repo):
        raise CorruptObject(oid, "cannot be read (git gc stopped on it)")


def _porcelain(stdout: str) -> tuple:
    """The flag and summary of main's line of ``git push --porcelain``
    ("flag TAB from:to TAB summary"); ("", "") when there is none."""
    for line in stdout.splitlines():
        flag, _, rest = line.partition("\t")
        to, _, summary = rest.partition("\t")
        if len(flag) == 1 and to.endswith(f":{BRANCH}"):
            return flag, summary
    return "", ""


def _push_config(url: str) -> tuple:
    """Full object names in git's report, no reachability bitmaps, and a
    small delta search.

    A repository that attgit's maintenance packed has a bitmap; with one,
    ``git push`` counts objects from it and so knows no path for the
    remote's files: a thin pack then cannot make the new version of a
    company file a delta of the version the remote has, and every changed
    company goes whole (at 100K records a 1% push sent 5.7 MB and spent
    3.3 s of CPU searching deltas among other companies' files; without the
    bitmap 73 KB and 0.35 s).  Objects are sorted by path, so the remote's
    version of a file sits right before the new one: a window of one finds
    it, a wider one only tries other companies' files (at 1M records git's
    window of 10 cost a first push 65 s of CPU and 650 MB).  To a
    repository on this machine no search at all: the bytes cross no
    network (a 1M first push from loose objects: 14 s of CPU against 29 s
    with a window of two)."""
    window = 0 if local_path(url) is not None else PUSH_WINDOW
    return (*cgit.QUIET_CONFIG, "core.abbrev=40", "pack.useBitmaps=false", f"pack.window={window}")


# The git programs that serve a remote on this machine, told that they pack for a pipe,
# not a network.  upload-pack: no delta search (a 1M pull fetching 20 new company files
# spent 10 s of CPU and 620 MB searching deltas of 13 MB files; without it 1.3 s and 65 MB)
# and no bitmaps (see _push_config).  receive-pack: keep what it receives as the pack it
# came in (git unpacks a push of fewer than 100 objects into loose objects, inflating and
# deflating every company file again: 6 of a 1M 1% push's 7.5 s), which a later fetch
# then sends as it is.  git runs these through the shell for a local URL only; the
# settings are git's own and the strings hold no user input.
_LOCAL_UPLOAD_PACK = "git -c pack.window=0 -c pack.useBitmaps=false upload-pack"
_LOCAL_RECEIVE_PACK = "git -c receive.unpackLimit=1 receive-pack"


def _local_server(url: str, push: bool = False) -> list:
    """git's --upload-pack/--receive-pack option for a remote on this machine; none for a network one."""
    if local_path(url) is None:
        return []
    return [f"--receive-pack={_LOCAL_RECEIVE_PACK}"] if push else [f"--upload-pack={_LOCAL_UPLOAD_PACK}"]


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
    check_url(url)
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"{path} exists and is not empty; clone into a new path")
    # Cloned beside it, then renamed into place: a clone killed meanwhile
    # leaves no half repository at ``path`` (its folder is swept next time).
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep_clones(path)
    work = path.parent / f".{path.name}.clone-{os.getpid()}"
    try:
        work.mkdir(mode=0o700)  # private from the first byte git writes
        _clone(url, work, name, progress)
        os.rename(work, path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Repository.init(path)  # private to its owner, as every new repository


def _sweep_clones(path: Path) -> None:
    """Remove what clones into ``path`` killed before their rename left."""
    for folder in path.parent.glob(f".{path.name}.clone-*"):
        pid = folder.name.rsplit("-", 1)[1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _clone(url: str, path: Path, name: str, progress: TransferProgress) -> Repository:
    done = cgit.run(["clone", "--bare", "--single-branch", "--branch=main", "--no-tags", "--progress",
                     *_local_server(url), "--", url, str(path)], None, progress)
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
