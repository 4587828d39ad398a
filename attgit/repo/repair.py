"""Repair a damaged repository from a remote that has the objects.

A fetch does not mend damage by itself: C git (and libgit2) skip objects
they believe they have, and the negotiation tells the remote that every
commit under our refs is here, so a damaged blob under them is never sent
again.  Repair is therefore three steps, each usable alone (the transport
may call :func:`quarantine` before its own ``git fetch --refetch``):

1. :func:`find_damaged` reads every object (loose ones checked whole,
   packed ones through libgit2) and lists those that cannot be read;
2. :func:`quarantine` moves damaged loose objects, and damaged packs after
   their readable objects are rewritten as loose ones, into
   ``attgit-damaged/<time>/`` (kept, never deleted: evidence);
3. :func:`refetch` runs C git ``fetch --refetch`` (git >= 2.36), which asks
   for every object as a clone would.

:func:`repair_from` does all three and says what is still missing.
"""

from __future__ import annotations

import os
import shutil
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pygit2

from attgit.errors import RemoteError
from attgit.format import objects, packs
from attgit.repo import cgit
from attgit.repo.repository import Repository
from attgit.words import plural

_TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_PACK_FILES = (".pack", ".idx", ".rev", ".bitmap", ".keep", ".promisor")


@dataclass
class RepairResult:
    damaged: list = field(default_factory=list)  # object ids found damaged
    repaired: list = field(default_factory=list)  # readable again after the fetch
    missing: list = field(default_factory=list)  # the remote did not have them
    set_aside: str = ""  # the folder the damaged files were moved to
    salvaged: int = 0  # readable objects of damaged packs kept as loose objects

    @property
    def ok(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict:
        return {**self.__dict__, "ok": self.ok}


def repair_from(repo: Repository, name: str, url: str) -> RepairResult:
    """Set damaged objects aside, fetch everything from remote ``name``
    again, and report which damaged objects are whole again."""
    result = RepairResult()
    reindexed = reindex_damaged_indexes(repo)
    if reindexed:
        result.set_aside = str(reindexed)
    damaged = find_damaged(repo)
    result.damaged = sorted(str(oid) for oid in damaged)
    if damaged:
        folder, result.salvaged = quarantine(repo, damaged)
        result.set_aside = str(folder)
    refetch(repo, name, url)
    packs.forget(repo.git.path)
    packs.forget(str(repo.path))
    fresh = pygit2.Repository(str(repo.path))
    for oid in result.damaged:
        (result.repaired if readable(fresh, oid) else result.missing).append(oid)
    return result


# --- 1. find ----------------------------------------------------------------

def find_damaged(repo: Repository, skip: frozenset = frozenset()) -> dict:
    """{object id: the file it lives in} for every object that cannot be
    read (objects in ``skip`` are taken as read already)."""
    damaged: dict = {}
    for pack in sorted((repo.path / "objects" / "pack").glob("*.idx")):
        damaged.update(dict.fromkeys(crc_mismatches(pack), pack.with_suffix(".pack")))
    for oid, path in all_objects(repo):
        if oid not in damaged and oid not in skip and not readable(repo.git, oid):
            damaged[oid] = path
    return damaged


def crc_mismatches(idx: Path) -> list[str]:
    """Objects whose packed bytes no longer match the CRC-32 the index
    (version 2) keeps for them: a flipped bit that inflating ignores (the
    padding of the last deflate block) still reads, yet the pack is damaged,
    as C git's fsck says."""
    data, pack = idx.read_bytes(), idx.with_suffix(".pack")
    ids = _pack_objects(idx)
    if not ids or not pack.exists():
        return []
    count, base = len(ids), 8 + 1024 + 20 * len(ids)
    crcs = struct.unpack(f">{count}I", data[base:base + 4 * count])
    offsets = list(struct.unpack(f">{count}I", data[base + 4 * count:base + 8 * count]))
    large = base + 8 * count
    for i, offset in enumerate(offsets):
        if offset & 0x80000000:
            index = offset & 0x7FFFFFFF
            offsets[i] = struct.unpack(">Q", data[large + 8 * index:large + 8 * index + 8])[0]
    content = pack.read_bytes()
    ends = sorted(offsets) + [len(content) - 20]
    end_of = {start: ends[n + 1] for n, start in enumerate(ends[:-1])}
    return [oid for oid, crc, start in zip(ids, crcs, offsets)
            if zlib.crc32(content[start:end_of[start]]) != crc]


def damaged_indexes(repo: Repository) -> list[str]:
    """What is wrong with each pack index that cannot be read (its objects
    are then unknown: they read as missing, and ``fetch --repair`` fetches
    them again)."""
    problems = []
    for idx in sorted((repo.path / "objects" / "pack").glob("*.idx")):
        data = idx.read_bytes()
        if data[:8] != b"\xfftOc\x00\x00\x00\x02" or len(data) < 8 + 1024:
            problems.append(f"damaged pack index {idx.name}: not a version 2 pack index "
                            f"({plural(len(data), 'byte')})")
            continue
        count = struct.unpack(">I", data[8 + 1020:8 + 1024])[0]
        if len(data) < packs.index_size(count):
            problems.append(f"damaged pack index {idx.name}: cut short ({plural(len(data), 'byte')}; "
                            f"for {plural(count, 'object')} it needs {packs.index_size(count):,})")
    return problems


def reindex_damaged_indexes(repo: Repository) -> Path | None:
    """Set each damaged pack index aside and build it again from its pack
    (``git index-pack`` checks every object as it goes); a pack that cannot
    be indexed is set aside too, and the fetch that follows brings its
    objects.  Returns the folder used, None when every index was sound."""
    bad = [line.split()[3].rstrip(":") for line in damaged_indexes(repo)]
    if not bad:
        return None
    folder = repo.path / "attgit-damaged" / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    for name in bad:
        idx = repo.path / "objects" / "pack" / name
        _move(idx, folder / idx.name)
        pack = idx.with_suffix(".pack")
        if pack.exists() and not cgit.run(["index-pack", str(pack)], repo.path).ok:
            for suffix in _PACK_FILES:
                if idx.with_suffix(suffix).exists():
                    _move(idx.with_suffix(suffix), folder / idx.with_suffix(suffix).name)
    return folder


def all_objects(repo: Repository) -> Iterator[tuple[str, Path]]:
    """Every object id in the repository with the file that holds it
    (loose objects first, then each pack), reachable or not."""
    yield from _loose_objects(repo.path)
    for pack in sorted((repo.path / "objects" / "pack").glob("*.idx")):
        for oid in _pack_objects(pack):
            yield oid, pack.with_suffix(".pack")


def readable(git: pygit2.Repository, oid: str) -> bool:
    """Whether object ``oid`` reads whole (content and id agree)."""
    try:
        objects.read(git, pygit2.Oid(hex=str(oid)))
        return True
    except Exception:  # noqa: BLE001 - any failure to read is damage here
        return False


def _loose_objects(repo_path: Path) -> Iterator[tuple[str, Path]]:
    root = repo_path / "objects"
    for folder in sorted(root.glob("[0-9a-f][0-9a-f]")):
        for path in sorted(folder.iterdir()):
            if len(path.name) == 38:
                yield folder.name + path.name, path


def _pack_objects(idx: Path) -> list[str]:
    """The object ids a pack index (version 2) lists; none if unreadable."""
    data = idx.read_bytes()
    if data[:8] != b"\xfftOc\x00\x00\x00\x02" or len(data) < 8 + 1024:
        return []
    count = struct.unpack(">I", data[8 + 1020:8 + 1024])[0]
    if len(data) < packs.index_size(count):
        return []
    start = 8 + 1024
    return [data[start + 20 * i:start + 20 * (i + 1)].hex() for i in range(count)]


# --- 2. set aside -------------------------------------------------------------

def quarantine(repo: Repository, damaged: dict) -> tuple[Path, int]:
    """Move the files of damaged objects into ``attgit-damaged/<time>/``;
    return the folder and how many objects of damaged packs were kept."""
    folder = repo.path / "attgit-damaged" / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    packs = {path for path in damaged.values() if path.suffix == ".pack"}
    salvaged = sum(_salvage(repo, pack, damaged) for pack in packs)
    for path in set(damaged.values()) - packs:
        _move(path, folder / (path.parent.name + path.name))
    for pack in packs:
        for suffix in _PACK_FILES:
            part = pack.with_suffix(suffix)
            if part.exists():
                _move(part, folder / part.name)
    return folder, salvaged


def _salvage(repo: Repository, pack: Path, damaged: dict) -> int:
    """Write every readable object of ``pack`` as a loose object."""
    kept = 0
    for oid in _pack_objects(pack.with_suffix(".idx")):
        if oid in damaged or objects.loose_path(repo.git, oid).exists():
            continue
        try:
            kind, data = repo.git.odb.read(pygit2.Oid(hex=oid))
        except (pygit2.GitError, KeyError, ValueError):
            continue
        _write_loose(objects.loose_path(repo.git, oid), _TYPE_NAMES[int(kind)], data)
        kept += 1
    return kept


def _write_loose(path: Path, kind: bytes, data: bytes) -> None:
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(zlib.compress(kind + b" " + str(len(data)).encode() + b"\0" + data))
    os.replace(tmp, path)


def _move(src: Path, dst: Path) -> None:
    os.chmod(src, 0o644)
    shutil.move(str(src), str(dst))


# --- 3. fetch again -----------------------------------------------------------

def refetch(repo: Repository, name: str, url: str) -> None:
    """``git fetch --refetch``: every object of the remote's main, sent
    whole as for a clone, whatever this repository believes it has."""
    from attgit.repo.transport import check_url, tracking_ref

    check_url(url)
    # git's own unpack limit (not attgit's keep-every-pack): a small refetch
    # lands as loose objects, never as a pack named like the damaged one set
    # aside, which libgit2 may still hold open in this process
    config = tuple(c for c in cgit.QUIET_CONFIG if not c.startswith("fetch.unpackLimit"))
    done = cgit.run(["fetch", "--refetch", "--quiet", "--no-write-fetch-head", "--", url,
                     f"+refs/heads/main:{tracking_ref(name)}"], repo.path, config=config)
    if not done.ok:
        message = done.error()[:300]
        raise RemoteError(f"cannot fetch from remote {name!r} ({url}) to repair: {message}")
