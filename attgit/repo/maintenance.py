"""Repositories that stay small: git's own packing, on attgit's terms.

Every commit stores each changed company's whole file as a new loose object;
a year of nightly commits would keep a full compressed copy of the data per
day.  Packed, older versions become deltas of newer ones.  So after every
write, :func:`auto` looks at the loose objects (a directory listing, no
object is read) and when they pass a threshold :func:`repack` writes one
new pack of every object, reusing the deltas already made and searching
deltas only for the objects stored whole.  ``attgit gc`` (:func:`gc`) runs
``git gc`` by hand, then the same repack.

Why each file's newest version is kept whole, in a delta island of its path.
``git verify-pack -v`` of the growth scenario (bench/growth.py) after 60
days of plain ``git repack -a -d``: 1,208 of 2,902 company blobs were
deltas of *another company's* file, 28 KB each on average, 98% of a
34.6 MB pack (13.7x the gzip of a full backup); the deltas between versions
of one file were 33 bytes.  git sorts the objects it searches by path, then
size, largest first, so a file's newest (largest) version opens its path's
group and its search window holds only the previous group: another
company's file of about the same size.  A delta under half the size is
accepted (every record's checksum makes it little smaller than the file
compressed), and since ``-a -d`` searches only objects stored whole, that
delta is reused by every later repack; the day after, the new version does
the same.  ``-f`` finds the good deltas (3.4 MB) but searches the whole
history each time (1.8 s of CPU at 60 days, growing with every day).

git's delta islands (``pack.island``, ``--delta-islands``) are the fix: an
object marked in an island is never stored as a delta of an object outside
its islands, and such a delta is not reused.  For the repack, each blob of
a commit that a ref points at (branch, remote-tracking, incoming fetch)
gets a temporary ref ``refs/attgit/pack-islands/<n>/<blob>``, island ``n`` being
its path.  So a newest version stays whole; the previous newest, stored
whole and unmarked now, is searched again and finds the newest of its own
path right before it in the sorted list: a ~30-byte delta.  60 days: 3.7 MB
(1.20x); 365 days: 22.5 MB against an 18.6 MB gzip (1.21x), the daily
commit with its repack 1.5 s of CPU at the median, 3.2 s at worst
(bench/growth-365.md); each repack searches about two objects per company.

Why ``git pack-objects`` and not ``git repack -i``: rev-list names an object
a ref points at directly with an empty path, so through ``--all`` the newest
versions would leave their path's group and the previous version would open
it again, with the same bad delta.  The repack gives pack-objects every
ref's tip but the island refs (islands are read from the ref store anyway),
then does what ``git repack -a -d -k`` does: replaced packs removed,
``git prune-packed``.

Why depth 1000: daily versions form a chain, each a delta of the next.
git's default depth (50) would cut it every 51 days and keep that day's
version whole: a whole copy of the data for each 51 days, 4x the data in a
year.  Reading version k back from the newest applies k small deltas.

Why this is safe beside attgit's own writers: every object of the packs it
read goes into the new pack, reachable or not (``--keep-unreachable``: a
``git fetch`` keeps its pack and moves its ref afterwards; plain ``-a -d``
would drop such a pack's objects), loose objects included
(``--pack-loose-unreachable``: a commit being written); only the packs
listed before packing are removed, after the new pack is in place, and
loose objects only once packed.  Readers (libgit2 too) find an object again
in the new pack when an old one vanishes.  The island refs point at blobs
the branches reach anyway; a run that was killed leaves them for the next
run to remove.  So maintenance takes its own lock (two repacks at once
waste work), not the repository's: it never makes another attgit command
wait or fail.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import pygit2

from attgit.errors import AttgitError, Locked
from attgit.repo import cgit, locking

LOCK_FILE = "attgit-maintenance.lock"
# Pack when the loose objects weigh this much and more than LOOSE_RATIO of the packs:
# the repository then never holds much more than the packs plus a quarter, and a
# repack, which costs about the size of the packs, runs at most once per quarter grown.
# The floor is low: a new repository's first days (a few hundred KB loose, four times
# their gzip) pack too, and packing a small repository costs a few tens of ms.
LOOSE_MIN_BYTES = 64 * 1024
LOOSE_RATIO = 0.25
LOOSE_MAX_OBJECTS = 2_000  # however small: thousands of files make every listing slow
PACK_LIMIT = 20  # fetches each leave a pack; consolidate them
# Delta search window for a repack.  Objects are sorted by path then size, so the
# previous version of a company's file sits right next to the new one; a wider window
# (git's default is 10) tries other companies' files: more memory, nothing saved.
REPACK_WINDOW = 3
REPACK_DEPTH = 1000  # daily versions chain; see the module's docstring
# zlib level of what a repack compresses anew: mostly each file's newest version, whole.
# At day 270 of bench/growth.py, level 6 (git's default) spent 0.45 s more CPU than
# level 1 per daily repack (2.15 s against 1.7 s) for a 14% larger pack; level 3 takes
# most of the time back for about half of the size.
REPACK_COMPRESSION = 3
ISLAND_REFS = "refs/attgit/pack-islands/"  # temporary, during a repack only
ISLAND_RE = ISLAND_REFS + "([0-9]+)/"  # pack.island: the capture names the island (a path's number)
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Usage:
    """What the object store holds, by a directory listing."""

    loose_objects: int
    loose_bytes: int
    packs: int
    pack_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.loose_bytes + self.pack_bytes


@dataclass
class MaintenanceResult:
    """What a maintenance run did: why it ran (None: it did not), the
    object store before and after, and how long it took."""

    reason: Optional[str]
    before: Usage
    after: Usage
    seconds: float = 0.0

    @property
    def ran(self) -> bool:
        return self.reason is not None

    def to_dict(self) -> dict:
        return {"ran": self.ran, "reason": self.reason, "before": asdict(self.before),
                "after": asdict(self.after), "seconds": round(self.seconds, 3)}


def usage(path: Path) -> Usage:
    """Count loose objects and their bytes, packs and theirs."""
    objects = Path(path) / "objects"
    count = size = 0
    for fan in _fanout_dirs(objects):
        for entry in os.scandir(fan):
            if len(entry.name) >= 38 and entry.is_file(follow_symlinks=False):
                count += 1
                size += entry.stat(follow_symlinks=False).st_size
    packs = [e for e in _scan(objects / "pack") if e.name.endswith(".pack") and e.is_file()]
    return Usage(count, size, len(packs), sum(e.stat().st_size for e in packs))


def _fanout_dirs(objects: Path) -> list:
    return [e.path for e in _scan(objects) if len(e.name) == 2 and set(e.name) <= _HEX and e.is_dir()]


def _scan(path: Path) -> list:
    try:
        return list(os.scandir(path))
    except FileNotFoundError:
        return []


def reason_to_pack(u: Usage) -> Optional[str]:
    """Why the store should be packed now, or None."""
    if u.loose_objects >= LOOSE_MAX_OBJECTS:
        return f"{u.loose_objects:,} loose objects"
    if u.loose_bytes >= max(LOOSE_MIN_BYTES, LOOSE_RATIO * u.pack_bytes):
        return f"{_mb(u.loose_bytes)} of loose objects beside {_mb(u.pack_bytes)} of packs"
    if u.packs >= PACK_LIMIT:
        return f"{u.packs:,} packs"
    return None


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def auto(path: Path, background: bool = False) -> MaintenanceResult:
    """Pack the repository at ``path`` if it is past a threshold; called
    after every write.  Quietly does nothing when another process is
    packing it, and never fails the write that called it.

    ``background`` leaves the packing to a detached process (the command
    that wrote returns at once: packing a large first commit costs more than
    the commit); the environment variable ``ATTGIT_MAINTENANCE`` can say
    ``sync`` (pack before returning: tests, benchmarks that count it) or
    ``off``."""
    mode = os.environ.get("ATTGIT_MAINTENANCE", "background" if background else "sync")
    before = usage(path)
    reason = reason_to_pack(before)
    if reason is None or mode == "off":
        return MaintenanceResult(None, before, before)
    if mode == "background":
        _detach(path)
        return MaintenanceResult(f"{reason} (packing in the background)", before, before)
    try:
        with locking.file_lock(Path(path) / LOCK_FILE, f"maintenance of {path}"):
            return _timed(path, reason, before, repack)
    except (Locked, AttgitError, pygit2.GitError, OSError):  # never fail the write that called it
        return MaintenanceResult(None, before, usage(path))


def _detach(path: Path) -> None:
    """Start ``python -m attgit.repo.maintenance PATH`` in its own session,
    not waited for; it takes the maintenance lock itself."""
    with contextlib.suppress(OSError):
        subprocess.Popen([sys.executable, "-m", "attgit.repo.maintenance", str(path)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, close_fds=True,
                         env={**os.environ, "ATTGIT_MAINTENANCE": "sync"})


def gc(path: Path, wait: float = 0.0) -> MaintenanceResult:
    """``attgit gc``: git's full garbage collection (pack everything, drop
    unreachable objects older than two weeks, pack refs)."""
    before = usage(path)
    with locking.file_lock(Path(path) / LOCK_FILE, f"maintenance of {path}", wait):
        return _timed(path, "by hand", before, _full_gc)


def _timed(path: Path, reason: str, before: Usage, work) -> MaintenanceResult:
    started = time.monotonic()
    work(Path(path))
    return MaintenanceResult(reason, before, usage(path), time.monotonic() - started)


def repack(path: Path) -> None:
    """One new pack of every object (deltas already made are reused), then
    the packs it replaced and the loose copies go, as ``git repack -a -d
    -k`` does; each file's newest version stays whole (see the module's
    docstring)."""
    path = Path(path)
    folder = path / "objects" / "pack"
    old = [p for p in _scan(folder) if p.name.endswith(".pack") and not Path(p.path[:-5] + ".keep").exists()]
    repo = pygit2.Repository(str(path))
    _serve_whole_chains(repo)
    tips = _tips(repo)
    if not tips:
        return
    with _islands(repo):
        done = _pack_objects(path, folder, tips)
    _check(done, "git pack-objects")
    new = {f"pack-{h}.pack" for h in done.stdout.split()}
    if not new:  # nothing to pack (--non-empty): the old packs stay
        return
    for entry in old:
        if entry.name not in new:
            _drop_pack(Path(entry.path))
    _check(cgit.run(["prune-packed", "-q"], path), "git prune-packed")


def _serve_whole_chains(repo) -> None:
    """``pack.depth`` in the repository's config, once: ``git upload-pack``
    (a clone or fetch served from this repository) would otherwise cut the
    daily chains at git's default depth, 50, and send a whole copy every 50
    versions (a clone of the 365-day growth repository: 77 MB and 52 s of
    CPU instead of 22 MB and 32 s)."""
    with contextlib.suppress(pygit2.GitError, OSError, ValueError):
        if "pack.depth" not in repo.config:
            repo.config["pack.depth"] = REPACK_DEPTH


def _refs(repo) -> list:
    """Every ref but the island refs, resolved: what ``--all`` would walk."""
    out = []
    for name in list(repo.references):
        if not name.startswith(ISLAND_REFS):
            with contextlib.suppress(pygit2.GitError, KeyError, ValueError):
                out.append(repo.references[name].resolve())
    return out


def _tips(repo) -> list:
    """Every ref's object and a detached HEAD, but not the island refs."""
    tips = {ref.target for ref in _refs(repo)}
    with contextlib.suppress(pygit2.GitError):
        if repo.head_is_detached:
            tips.add(repo.head.target)
    return sorted(str(t) for t in tips if isinstance(t, pygit2.Oid))


def _pack_objects(path: Path, folder: Path, tips: list) -> cgit.Result:
    config = (*cgit.QUIET_CONFIG, f"pack.island={ISLAND_RE}", f"pack.compression={REPACK_COMPRESSION}")
    return cgit.run(["pack-objects", "--revs", "--reflog", "--keep-true-parents", "--honor-pack-keep",
                     "--non-empty", "--delta-base-offset", "--delta-islands", "--keep-unreachable",
                     "--pack-loose-unreachable", f"--window={REPACK_WINDOW}", f"--depth={REPACK_DEPTH}", "-q",
                     str(folder / "pack")], path, config=config, input="".join(f"{t}\n" for t in tips).encode())


def _drop_pack(pack: Path) -> None:
    """Remove a replaced pack, its index last (readers find a pack by its index)."""
    stem = str(pack)[:-5]
    for suffix in (".bitmap", ".rev", ".promisor", ".mtimes", ".pack", ".idx"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stem + suffix)


@contextlib.contextmanager
def _islands(repo):
    """Temporary refs, one per newest version of a file (the blobs of the
    commits refs point at: branches, remote-tracking, incoming fetches, a
    merge's work), each in the island of its path: git then never stores a
    newest version as a delta of another path's file."""
    _drop_islands(repo)
    paths: dict = {}
    for ref in _refs(repo):
        with contextlib.suppress(pygit2.GitError, KeyError, ValueError):
            obj = ref.peel()
            if isinstance(obj, pygit2.Commit):
                _blobs(repo, obj.tree, "", paths)
    try:
        for n, (_, blobs) in enumerate(sorted(paths.items())):
            for blob in sorted(blobs):
                repo.references.create(f"{ISLAND_REFS}{n}/{blob}", blob, force=True)
        yield
    finally:
        _drop_islands(repo)


def _drop_islands(repo) -> None:
    for name in list(repo.references):
        if name.startswith(ISLAND_REFS):
            with contextlib.suppress(KeyError, pygit2.GitError):
                repo.references.delete(name)


def _blobs(repo, tree, prefix: str, out: dict) -> None:
    for entry in tree:
        if entry.type_str == "tree":
            _blobs(repo, repo[entry.id], f"{prefix}{entry.name}/", out)
        elif entry.type_str == "blob":
            out.setdefault(prefix + entry.name, set()).add(entry.id)


def _full_gc(path: Path) -> None:
    """``git gc`` drops old unreachable objects and packs refs; its repack
    knows no islands, so :func:`repack` runs after it."""
    _check(cgit.run(["gc", "--quiet"], path, config=(*cgit.QUIET_CONFIG, f"pack.window={REPACK_WINDOW}")), "git gc",
           path)
    repack(path)


def _check(done: cgit.Result, what: str, path: Optional[Path] = None) -> None:
    """Turn git's failure into attgit's error: another git gc running is a
    held lock (exit 6); damage in the repository is damage (exit 12)."""
    if done.ok:
        return
    if "gc is already running" in done.error():
        raise Locked(f"{what} refused: another git gc is running on this repository ({done.error()}); "
                     "wait for it to finish, then run `attgit gc` again")
    if path is not None:
        from attgit.repo.transport import check_local_damage

        check_local_damage(path)
    raise AttgitError(f"{what} failed: {done.error()}")


if __name__ == "__main__":  # the detached packer of auto(background=True)
    auto(Path(sys.argv[1]))
