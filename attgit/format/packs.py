"""Whole objects read straight from git's packs, inflated by ISA-L.

A status, diff or pull reads each touched company's file whole: at a
million records twenty 13 MB files, inflated by libgit2 with zlib (~1 s).
Maintenance keeps each file's newest version whole in its pack (not a
delta: see :mod:`attgit.repo.maintenance`), which is exactly the version
these commands read most, and ISA-L inflates it in well under half zlib's
time.  So a whole (undeltified) object is read here from the pack index
(version 2, git's default since 2007) and the pack, mapped read-only; a
delta, an index of another version, a pack that vanished or anything odd
gives None and the caller reads through libgit2, which knows every case.

What is checked is what libgit2 checks on a read without re-hashing (see
``objects._read_packed``): the entry's type and size, a zlib stream that
ends (Adler-32) exactly at the size its header gives; damage is an
exception the damage guard names.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path
from typing import Optional

from attgit.format.compression import fastest_zlib

_zlib = fastest_zlib()
_IDX_MAGIC = b"\377tOc"
_HEADER = 8 + 256 * 4  # magic, version, fan-out table
_WHOLE_KINDS = {1, 2, 3, 4}  # commit, tree, blob, tag (6 and 7 are deltas)
_CHUNK = 1 << 20  # compressed bytes fed at a time: the leftover copied at the end stays small


class _Pack:
    """One ``.idx``/``.pack`` pair: the index mapped, the pack read by position
    (a mapped pack would keep every page read resident: a 1M pull's peak grew
    from 160 to 250 MB)."""

    def __init__(self, idx_path: str) -> None:
        self.idx = _map(idx_path)
        if self.idx[:4] != _IDX_MAGIC or struct.unpack_from(">I", self.idx, 4)[0] != 2:
            raise ValueError(f"{idx_path}: not a version 2 pack index")
        self.fanout = struct.unpack_from(">256I", self.idx, 8)
        self.count = self.fanout[255]
        if len(self.idx) < index_size(self.count):  # cut short: libgit2 reads (and names) it instead
            raise ValueError(f"{idx_path}: a pack index cut short")
        self.fd = os.open(idx_path[:-4] + ".pack", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def __del__(self) -> None:
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)

    def offset(self, sha: bytes) -> Optional[int]:
        """Where object ``sha`` (20 bytes) starts in the pack, or None."""
        lo = self.fanout[sha[0] - 1] if sha[0] else 0
        hi = self.fanout[sha[0]]
        names = _HEADER
        while lo < hi:
            mid = (lo + hi) // 2
            name = self.idx[names + 20 * mid:names + 20 * mid + 20]
            if name < sha:
                lo = mid + 1
            elif name > sha:
                hi = mid
            else:
                return self._offset_at(mid)
        return None

    def _offset_at(self, i: int) -> int:
        small = _HEADER + 24 * self.count  # after the names and the CRCs
        off = struct.unpack_from(">I", self.idx, small + 4 * i)[0]
        if off & 0x80000000:
            large = small + 4 * self.count + 8 * (off & 0x7FFFFFFF)
            off = struct.unpack_from(">Q", self.idx, large)[0]
        return off

    def whole(self, offset: int) -> Optional[bytes]:
        """The content of the entry at ``offset`` when it is a whole object; None for a delta."""
        kind, size, start = entry_head(self.fd, offset)
        if kind not in _WHOLE_KINDS:
            return None
        return _inflate(self.fd, start, size)


def entry_head(fd: int, offset: int) -> tuple:
    """(type, size, position after the header) of the pack entry at ``offset``."""
    head = os.pread(fd, 16, offset)
    if not head:
        raise ValueError("damaged pack: an object starts past its end")
    byte = head[0]
    kind, size, shift, pos = (byte >> 4) & 7, byte & 15, 4, 1
    while byte & 0x80:
        if pos >= len(head):
            raise ValueError("damaged pack: an object's size runs on")
        byte = head[pos]
        size |= (byte & 0x7F) << shift
        shift, pos = shift + 7, pos + 1
    return kind, size, offset + pos


def index_size(count: int) -> int:
    """The least size of a version 2 index of ``count`` objects: header and
    fan-out, names, CRCs, offsets, and the two checksums at its end."""
    return _HEADER + count * (20 + 4 + 4) + 40


def _map(path: str) -> mmap.mmap:
    with open(path, "rb") as file:
        return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)


def _inflate(fd: int, pos: int, size: int) -> bytes:
    """Inflate the zlib stream at ``pos``: exactly ``size`` bytes and its end, else ValueError."""
    inflater, parts, done = _zlib.decompressobj(), [], 0
    while not inflater.eof:
        chunk = os.pread(fd, _CHUNK, pos)
        if not chunk:
            raise ValueError("damaged pack: an object's compressed data is cut short")
        part = inflater.decompress(chunk, size + 1 - done)
        if inflater.unconsumed_tail:
            raise ValueError("damaged pack: an object is larger than its header says")
        parts.append(part)
        done += len(part)
        pos += len(chunk)
    if done != size:
        raise ValueError(f"damaged pack: an object is {done:,} bytes, its header says {size:,}")
    return b"".join(parts)


class Packs:
    """The packs of one repository, opened once and looked up by object id."""

    def __init__(self, objects_dir: Path) -> None:
        self.folder = Path(objects_dir) / "pack"
        self.packs: dict[str, _Pack] = {}
        self.listed: Optional[int] = None

    def read_whole(self, hexsha: str) -> Optional[bytes]:
        sha = bytes.fromhex(hexsha)
        for attempt in (0, 1):
            for pack in list(self.packs.values()):
                offset = pack.offset(sha)
                if offset is not None:
                    return pack.whole(offset)
            if attempt == 0 and not self._refresh():
                return None
        return None

    def _refresh(self) -> bool:
        """Open packs that appeared since the last listing; whether anything did."""
        try:
            stamp = os.stat(self.folder).st_mtime_ns
        except OSError:
            return False
        if stamp == self.listed:
            return False
        self.listed = stamp
        names = {e.name for e in os.scandir(self.folder) if e.name.endswith(".idx")}
        for gone in set(self.packs) - names:
            del self.packs[gone]
        opened = False
        for name in sorted(names - set(self.packs)):
            try:
                self.packs[name] = _Pack(str(self.folder / name))
                opened = True
            except (OSError, ValueError):
                continue  # half written, or vanished: libgit2 reads it instead
        return opened


_OPEN: dict[str, Packs] = {}


def read_whole(repo_path: str, hexsha: str) -> Optional[bytes]:
    """The content of object ``hexsha`` when a pack of the repository at
    ``repo_path`` holds it whole; None when not (a delta, a loose object,
    an unreadable pack): then read it through libgit2."""
    packs = _OPEN.get(repo_path)
    if packs is None:
        packs = _OPEN[repo_path] = Packs(Path(repo_path) / "objects")
    return packs.read_whole(hexsha)


def forget(repo_path: str) -> None:
    """Drop the packs opened for ``repo_path``: after a repair replaced a
    pack by one of the same name (same objects), the old descriptor would
    still read the damaged file set aside."""
    _OPEN.pop(str(repo_path), None)
