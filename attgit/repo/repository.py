"""The one door to pygit2: a bare git repository of attendance snapshots.

Commits are written without an index: blobs and trees along changed paths
(:mod:`attgit.format.snapshot`), then a commit object, then the branch moves with
a compare-and-swap under the repository lock.  Everything here is plain git,
so ``git log``, ``git show``, ``git fsck --strict`` and ``git clone`` accept
it, and any git host can be a remote.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import pygit2
from pygit2.enums import SortMode

from attgit.errors import CorruptObject, IntegrityError, Locked, NotARepository, NotFound, Rejected, UsageError
from attgit.format import objects
from attgit.format.snapshot import Snapshot
from attgit.fsutil import process_alive
from attgit.repo import locking, stalelocks

BRANCH = "refs/heads/main"
CONFIG_KEY = "attgit.format"
LOCK_FILE = "attgit.lock"
SHARED_KEY = "core.sharedRepository"
#: core.sharedRepository for each choice: git reads "0600" as files 0600
#: (read-only ones 0400) and folders 0700; "0660" as 0660/0440 and 02770.
SHARED_MODES = {"private": "0600", "group": "0660"}


def _file_mode(path: Path) -> int:
    """The mode a file of the repository at ``path`` may have at most
    (0600, or 0660 when the team opted into group sharing)."""
    try:
        text = (path / "config").read_text()
    except OSError:
        return 0o600
    match = re.search(r"(?im)^\s*sharedrepository\s*=\s*(\S+)", text)
    value = match.group(1).lower() if match else "0600"
    return 0o660 if value in ("group", "true", "1", "0660", "0640", "all", "world", "everybody", "2") else 0o600


def keep_private(path: Path) -> None:
    """Make every file attgit, libgit2 and git write in this process
    private by tightening the umask (never loosening it), or group-shared
    (umask 007) when the team opted in: libgit2 ignores
    core.sharedRepository, and attgit's own loose objects are made
    read-only with :data:`attgit.format.objects.OBJECT_MODE`."""
    mode = _file_mode(path)
    if mode == 0o600:
        os.umask(os.umask(0o077) | 0o077)
    else:  # the team chose group sharing: members read and write (others still nothing)
        os.umask(0o007)
    objects.OBJECT_MODE = 0o400 if mode == 0o600 else 0o440


def _fix_modes(path: Path, mode: int) -> None:
    """Every folder 0700 (02770 shared) and file at most ``mode`` (read-only
    files stay read-only): a repository made before privacy, or re-shared."""
    folder_mode = 0o700 if mode == 0o600 else 0o2770
    for root, _dirs, files in os.walk(path):
        os.chmod(root, folder_mode)
        for name in files:
            file = os.path.join(root, name)
            current = os.lstat(file).st_mode
            if not stat.S_ISLNK(current):
                os.chmod(file, mode & (0o777 if current & 0o200 else 0o555))


#: Where previews keep their throwaway repositories (see Repository.scratch).
SCRATCH_DIR = "attgit-tmp"
_HEAD_RE = re.compile(r"ref: refs/heads/[^\x00-\x20~^:?*\[\\]+\n?|[0-9a-f]{40}\n?")


def check_head_file(path: Path) -> None:
    """Raise IntegrityError when the repository's HEAD file is not a ref or
    a commit id: libgit2 reads main directly and would carry on, while C git
    (fsck, fetch, push, gc) says the folder is no git repository at all."""
    try:
        text = (path / "HEAD").read_bytes().decode("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        text = f"<unreadable: {exc}>"
    if not _HEAD_RE.fullmatch(text):
        raise IntegrityError(f"{path}: the repository's HEAD file is damaged ({text[:40]!r}); put it back with "
                             f"`git --git-dir={path} symbolic-ref HEAD {BRANCH}`, then run `attgit verify`")


def _sweep_scratch(parent: Path) -> None:
    """Remove preview folders whose process is gone (killed before it could)."""
    for folder in parent.glob("preview-*"):
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


TRAILER_PREFIX = "Attgit-"
_TRAILER_RE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): (.*)$")


@dataclass(frozen=True)
class Author:
    """Who acts: the commit's author and the log's created_by."""

    name: str
    email: str = ""
    time: Optional[int] = None  # seconds since the epoch; None = now

    def signature(self) -> pygit2.Signature:
        email = self.email or f"{_safe_local(self.name)}@attgit.invalid"
        if self.time is None:
            return pygit2.Signature(self.name, email)
        return pygit2.Signature(self.name, email, self.time, 0)


def _safe_local(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "user"


def default_author() -> Author:
    """The acting user when none is given: $ATTGIT_USER, else the login name."""
    name = os.environ.get("ATTGIT_USER") or os.environ.get("USER") or "attgit"
    when = os.environ.get("ATTGIT_COMMIT_TIME")
    return Author(name, os.environ.get("ATTGIT_EMAIL", ""), int(when) if when else None)


@dataclass
class CommitInfo:
    """A commit as data: what `log` and `show` print."""

    id: str
    parents: list
    author: str
    email: str
    time: _dt.datetime
    summary: str
    trailers: dict = field(default_factory=dict)
    tree: str = ""

    @property
    def short(self) -> str:
        return self.id[:10]

    @property
    def type(self) -> str:
        return self.trailers.get("Type", "")

    def count(self, name: str) -> Optional[int]:
        value = self.trailers.get(name)
        return int(value) if value is not None and value.isdigit() else None

    def to_dict(self) -> dict:
        return {
            "id": self.id, "parents": self.parents, "author": self.author, "email": self.email,
            "time": self.time.isoformat(), "summary": self.summary, "type": self.type,
            "created_by": self.trailers.get("Created-By", self.author),
            "companies": self.count("Companies"), "records": self.count("Records"),
            "trailers": self.trailers, "tree": self.tree,
        }


def format_message(summary: str, trailers: dict) -> str:
    """A commit message: a summary line, then ``Attgit-Key: value`` trailers."""
    body = "\n".join(f"{TRAILER_PREFIX}{k}: {v}" for k, v in trailers.items())
    return f"{summary}\n\n{body}\n"


def parse_trailers(message: str) -> dict:
    """The Attgit-* trailers of a commit message, prefix removed."""
    last = message.strip().split("\n\n")[-1]
    out = {}
    for line in last.splitlines():
        match = _TRAILER_RE.match(line)
        if match and match.group(1).startswith(TRAILER_PREFIX):
            out[match.group(1)[len(TRAILER_PREFIX):]] = match.group(2)
    return out


class Repository:
    """A bare attgit repository on disk."""

    def __init__(self, git: pygit2.Repository, path: Path):
        self.git = git
        self.path = path
        self._sound: set = set()  # commits read whole once: libgit2 may walk them
        #: this open made a plain git repository an attgit one (init says so)
        self.adopted = False
        #: what taking the lock cleared after a killed holder (see take_recovered)
        self._recovered: list[str] = []

    # --- opening ---------------------------------------------------------

    @classmethod
    def init(cls, path: os.PathLike | str, shared: Optional[str] = None) -> "Repository":
        """Create a bare repository (or adopt an empty/attgit one at ``path``).

        It is private to its owner (folders 0700, files 0600 or 0400) unless
        ``shared="group"`` opts a team into group sharing (0770/0660): git's
        ``core.sharedRepository`` records the choice, C git keeps it for what
        it writes, and :func:`keep_private` for what attgit and libgit2 write.
        Initialising an existing repository again applies ``shared`` (when
        given) and puts every file back to the recorded mode."""
        path = Path(path)
        if shared not in (None, "private", "group"):
            raise UsageError(f"--shared={shared!r}: use 'private' (the default) or 'group'")
        if path.exists() and any(path.iterdir()):
            repo = cls.open(path)
        else:
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700, parents=True)
            repo = cls(pygit2.init_repository(str(path), bare=True, initial_head="main"), path)
            repo.git.config[CONFIG_KEY] = "1"
        if shared is not None or SHARED_KEY not in repo.git.config:
            repo.git.config[SHARED_KEY] = SHARED_MODES[shared or "private"]
        keep_private(path)
        _fix_modes(path, _file_mode(path))
        return repo

    @classmethod
    def open(cls, path: os.PathLike | str) -> "Repository":
        """Open an attgit repository, or raise NotARepository saying why."""
        path = Path(path)
        if not path.exists():
            raise NotARepository(f"{path}: no such repository; create one with `attgit init`")
        try:
            git = pygit2.Repository(str(path))
        except pygit2.GitError:
            raise NotARepository(f"{path}: not a git repository; create one with `attgit init`") from None
        if not git.is_bare:
            raise NotARepository(f"{path}: a work-tree git repository; attgit keeps a bare repository")
        check_head_file(path)
        repo = cls(git, path)
        repo._check_attgit()
        keep_private(path)
        return repo

    def _check_attgit(self) -> None:
        if self.git.config.get_bool(CONFIG_KEY) if CONFIG_KEY in self.git.config else False:
            return
        head = self.head()
        if head is not None:
            Snapshot(self.git, self.git[head].tree)  # raises when not an attgit snapshot
        self.git.config[CONFIG_KEY] = "1"
        self.adopted = True

    # --- reading ---------------------------------------------------------

    def head(self) -> Optional[pygit2.Oid]:
        """The tip of main, or None before the first commit."""
        try:
            return self.git.references[BRANCH].target
        except KeyError:
            return None

    def resolve(self, rev: str) -> pygit2.Oid:
        """A commit id from a revision (id, prefix, HEAD~2, main, prod/main, …).

        A revision that names a commit which is there but cannot be read is
        CorruptObject, not "unknown commit"."""
        self._raise_damage_behind(rev)
        try:
            obj = self.git.revparse_single(rev)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise NotFound(f"unknown commit {rev!r}; see `attgit log` for the commits there are") from None
        return commit.id

    def _raise_damage_behind(self, rev: str) -> None:
        """Raise CorruptObject when a commit on ``rev``'s way (the one it
        starts from, the first parents it steps through) is damaged; checked
        before libgit2 parses the revision, which may hang on such a commit."""
        base = re.split(r"[~^]", rev, maxsplit=1)[0]
        steps = 1 + sum(int(n) if n else 1 for n in re.findall(r"[~^](\d*)", rev[len(base):]))
        for start in self._candidates(base):
            oid = start
            for _ in range(steps):
                obj = objects.get(self.git, oid, "commit", commit=oid)
                if not isinstance(obj, pygit2.Commit) or not obj.parent_ids:
                    break
                self._sound.add(oid)
                oid = obj.parent_ids[0]

    def _candidates(self, name: str) -> list:
        """Objects ``name`` may mean: a ref's target, or the ids it prefixes."""
        if name == "HEAD":
            head = self.head()
            return [head] if head is not None else []
        for ref in (name, f"refs/heads/{name}", f"refs/remotes/{name}", f"refs/remotes/{name}/main"):
            if ref in self.git.references:
                try:
                    target = self.git.references[ref].resolve().target
                except (KeyError, pygit2.GitError):  # a symbolic ref to a branch not born yet
                    return []
                return [target] if isinstance(target, pygit2.Oid) else []
        if not re.fullmatch(r"[0-9a-fA-F]{4,40}", name):
            return []
        folder = self.path / "objects" / name[:2].lower()  # loose ones: packed objects libgit2 reads safely
        rest = name[2:].lower()
        names = sorted(p.name for p in folder.iterdir() if p.name.startswith(rest)) if folder.is_dir() else []
        return [pygit2.Oid(hex=name[:2].lower() + n) for n in names if len(n) == 38]

    def snapshot(self, commit: Optional[pygit2.Oid | str]) -> Snapshot:
        """The snapshot of a commit; the empty snapshot for None."""
        if commit is None:
            return Snapshot.empty(self.git)
        oid = commit if isinstance(commit, pygit2.Oid) else self.resolve(commit)
        tree_id = self.commit(oid).tree_id
        return Snapshot(self.git, objects.get(self.git, tree_id, "tree", "/", oid), commit=oid)

    def commit(self, oid: pygit2.Oid) -> pygit2.Commit:
        """The commit object ``oid``, read through the damage guard."""
        obj = self.git[oid] if oid in self._sound else objects.get(self.git, oid, "commit", commit=oid)
        with objects.reading(oid, "commit", commit=oid):
            commit = obj.peel(pygit2.Commit)
        self._sound.add(oid)
        return commit

    def check_history(self, *starts) -> None:
        """Raise CorruptObject for the first damaged commit reachable from
        ``starts``: libgit2's walks must only meet commits read whole (a
        damaged loose object can make it loop)."""
        for start in starts:
            for _oid, damage in self.commit_ids(start):
                if damage is not None:
                    raise damage

    def info(self, oid: pygit2.Oid | str) -> CommitInfo:
        commit = self.commit(oid if isinstance(oid, pygit2.Oid) else self.resolve(oid))
        tz = _dt.timezone(_dt.timedelta(minutes=commit.author.offset))
        return CommitInfo(
            id=str(commit.id),
            parents=[str(p) for p in commit.parent_ids],
            author=commit.author.name,
            email=commit.author.email,
            time=_dt.datetime.fromtimestamp(commit.author.time, tz),
            summary=commit.message.split("\n", 1)[0],
            trailers=parse_trailers(commit.message),
            tree=str(commit.tree_id),
        )

    def log(self, start: Optional[pygit2.Oid] = None, limit: Optional[int] = None,
            first_parent: bool = False) -> Iterator[CommitInfo]:
        """Commits from ``start`` (default: main) newest first; with
        ``first_parent``, only this environment's own line (a merge's first
        parent), as ``git log --first-parent``: not the other side's commits."""
        start = start if start is not None else self.head()
        if start is None:
            return
        self.check_history(start)
        with self._walking(start):
            walker = self.git.walk(start, SortMode.TOPOLOGICAL | SortMode.TIME)
            if first_parent:
                walker.simplify_first_parent()
            for n, commit in enumerate(walker):
                if limit is not None and n >= limit:
                    return
                yield self.info(commit.id)

    def commit_ids(self, start: Optional[pygit2.Oid] = None):
        """Every commit reachable from ``start`` (default: main), each read
        through the damage guard, parents after children; a damaged commit
        is yielded as its CorruptObject and its parents are not reached."""
        start = start if start is not None else self.head()
        todo, seen = ([start] if start is not None else []), set()
        while todo:
            oid = todo.pop()
            if oid in seen:
                continue
            seen.add(oid)
            try:
                commit = self.commit(oid)
            except CorruptObject as exc:
                yield oid, exc
                continue
            yield oid, None
            todo.extend(reversed(commit.parent_ids))

    @contextlib.contextmanager
    def _walking(self, *starts):
        """libgit2's history walks say "incorrect data check" and nothing
        more: on failure, find and name the damaged commit."""
        try:
            yield
        except (pygit2.GitError, KeyError, ValueError) as exc:
            for start in starts:
                for _oid, damage in self.commit_ids(start):
                    if damage is not None:
                        raise damage from None
            raise CorruptObject("(unknown)", objects.describe_error(exc), kind="commit") from None

    def merge_base(self, a: Optional[pygit2.Oid], b: Optional[pygit2.Oid]) -> Optional[pygit2.Oid]:
        """The last commit both histories share (None: no shared history)."""
        if a is None or b is None:
            return None
        self.check_history(a, b)
        with self._walking(a, b):
            return self.git.merge_base(a, b)

    def is_ancestor(self, ancestor: pygit2.Oid, descendant: pygit2.Oid) -> bool:
        if ancestor == descendant:
            return True
        self.check_history(descendant, ancestor)
        with self._walking(descendant, ancestor):
            return self.git.descendant_of(descendant, ancestor)

    def contains(self, oid: str | pygit2.Oid | None) -> bool:
        """Whether commit ``oid`` is here (CorruptObject if it is, damaged)."""
        if not oid:
            return False
        try:
            oid = oid if isinstance(oid, pygit2.Oid) else pygit2.Oid(hex=oid)
        except ValueError:
            return False
        if oid not in self.git.odb:
            return False
        return isinstance(objects.get(self.git, oid, "commit", commit=oid), pygit2.Commit)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Repository]:
        """A throwaway repository that reads every object of this one and
        keeps whatever is written to it in a folder of its own, removed on
        exit.  Previews build their trees there, so they write nothing here.

        It borrows this repository's objects through git's alternates file,
        which the damage guard reads too (a damaged loose object read from
        there must be named, not handed to libgit2, which can loop on it).
        The folder is under ``attgit-tmp/`` in this repository (private like
        it); one a killed process left behind is swept by the next preview."""
        parent = self.path / SCRATCH_DIR
        with contextlib.suppress(FileExistsError):
            parent.mkdir(mode=0o700)
        _sweep_scratch(parent)
        tmp = tempfile.mkdtemp(prefix=f"preview-{os.getpid()}-", dir=parent)
        try:
            pygit2.init_repository(tmp, bare=True)
            alternates = Path(tmp, "objects", "info", "alternates")
            alternates.parent.mkdir(parents=True, exist_ok=True)
            alternates.write_text(os.path.abspath(os.path.join(self.git.path, "objects")) + "\n")
            yield Repository(pygit2.Repository(tmp), Path(tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # --- writing ---------------------------------------------------------

    def lock(self, wait: float = 0.0):
        """The repository's single-writer lock (see :mod:`attgit.repo.locking`).
        Taken after a holder that was killed, it first removes the git lock
        files that holder left (:mod:`attgit.repo.stalelocks`), which would
        fail every later update of their refs."""
        return locking.file_lock(self.path / LOCK_FILE, f"repository {self.path}", wait,
                                 after_crash=self._clear_after_crash)

    def _clear_after_crash(self, killed_pid: int) -> None:
        note = stalelocks.clear_after_crash(self.path, killed_pid)
        if note:
            self._recovered.append(note)

    def take_recovered(self) -> list[str]:
        """What the lock cleared after a killed holder, said once."""
        notes, self._recovered = self._recovered, []
        return notes

    def write_commit(self, tree: pygit2.Oid, parents: list, summary: str, trailers: dict,
                     author: Author) -> pygit2.Oid:
        """Write a commit object; no ref moves (see :meth:`move_head`)."""
        signature = author.signature()
        message = format_message(summary, trailers)
        return self.git.create_commit(None, signature, signature, message, tree, list(parents))

    def move_head(self, expected: Optional[pygit2.Oid], new: pygit2.Oid, reason: str) -> None:
        """Point main at ``new`` if it still points at ``expected``.

        Called with the repository lock held; the check refuses when another
        writer (a `git push` into this repository, say) moved the tip.
        """
        current = self.head()
        if current != expected:
            raise Rejected(
                f"main moved from {str(expected)[:10]} to {str(current)[:10]} while attgit worked; "
                "nothing was changed, run the command again"
            )
        try:
            self.git.create_reference_direct(BRANCH, new, True, message=reason)
        except OSError as exc:
            raise _ref_locked(exc) from None

    def set_ref(self, name: str, target: Optional[pygit2.Oid]) -> None:
        """Create, move or (target None) delete a ref outside main."""
        if target is None:
            if name in self.git.references:
                self.git.references.delete(name)
            return
        self.git.references.create(name, target, force=True)


_LOCK_FAILED = re.compile(r"failed to lock file '([^']+)'")


def _ref_locked(exc: OSError) -> Exception:
    """libgit2's "failed to lock file" said as git says it: whose lock it is
    and what to do (an attgit that was killed has its files cleared by the
    next lock holder, see :mod:`attgit.repo.stalelocks`; this is another
    git's).  Any other error is returned as it was."""
    found = _LOCK_FAILED.search(str(exc))
    if not found:
        return exc
    return Locked(f"git's lock file {found.group(1)} exists: another git process is writing this repository, "
                  "or one was killed while it did; if no git process is running, remove that file and "
                  "run the command again")
