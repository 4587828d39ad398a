"""A packed blob read a few bytes at a time, through its delta chain.

A record's history reads one line from each version of its company's file.
In a pack, the versions of a file are deltas of one another in chains up to
git's depth (50): rebuilding one version whole means rebuilding its chain
(libgit2 keeps no delta base over 1 MB), ~80 ms for a 5 MB file, seconds
for a year of versions.  But a delta is a short list of "copy these bytes
of the base" and "insert these bytes": the bytes at any position of a
version are found by following that list down the chain to a whole object
or an inserted literal.  So a version here is its parsed delta (a few
hundred bytes inflated) over its base; whole objects are inflated once and
kept, a few at a time.  Bisecting a version for one key reads ~20 lines.

What is checked: entry types and sizes, delta headers against their base
and result sizes, copies inside their base (a damaged pack raises
ValueError, and the caller reads the object through libgit2); the line
found carries its own SHA-256, checked when it is parsed.
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections import OrderedDict
from pathlib import Path
from typing import Optional

from attgit.format import packs

_OFS_DELTA, _REF_DELTA = 6, 7
_BLOB = 3
#: whole objects kept inflated at once (each a version of a company file)
_WHOLE_KEPT = 4
#: parsed deltas kept (a version is asked for once, and as the base of the
#: next few in its chain: memory stays bounded over a year of versions)
_DELTAS_KEPT = 64
#: bytes per block of a whole object's running newline count
_BLOCK = 16 * 1024


class Source:
    """Bytes that can be read by range: ``size`` and ``read(start, end)``."""

    size: int

    def read(self, start: int, end: int) -> bytes:
        raise NotImplementedError

    def lines(self) -> int:
        """The number of lines (newlines) in the bytes."""
        raise NotImplementedError


class Whole(Source):
    """Bytes held in memory."""

    def __init__(self, data: bytes):
        self.data, self.size = data, len(data)
        self._running: Optional[list] = None  # newlines before each block

    def read(self, start: int, end: int) -> bytes:
        return self.data[start:end]

    def lines(self, start: int = 0, end: Optional[int] = None) -> int:
        """Newlines in [start, end): the blocks inside the range from a
        running count made once (a version's copies of this object count
        in microseconds, not a scan each)."""
        end = self.size if end is None else min(end, self.size)
        first, last = -(-start // _BLOCK), end // _BLOCK  # whole blocks [first, last)
        if last - first < 2:
            return self.data.count(b"\n", start, end)
        if self._running is None:
            self._running = list(itertools.accumulate(
                (self.data.count(b"\n", b, b + _BLOCK) for b in range(0, self.size, _BLOCK)), initial=0))
        return (self.data.count(b"\n", start, first * _BLOCK) + self._running[last] - self._running[first]
                + self.data.count(b"\n", last * _BLOCK, end))


class _Delta(Source):
    """A version as its delta's instructions over its base: ``starts[i]``
    is where instruction i's bytes begin in this version; ``ops[i]`` is
    (base offset, length) for a copy or the inserted bytes."""

    def __init__(self, base: Source, delta: bytes):
        pos, base_size = _varint(delta, 0)
        pos, self.size = _varint(delta, pos)
        if base_size != base.size:
            raise ValueError("damaged pack: a delta's base is not the size it says")
        # A copy from a base that is itself a delta is replaced by the
        # base's own pieces for those bytes: every copy then reads the
        # chain's whole object, so a read costs one lookup, not one per link.
        self.base: Source = base.base if isinstance(base, _Delta) else base
        self.starts: list = []
        self.ops: list = []
        done = 0
        while pos < len(delta):
            pos, op = _instruction(delta, pos, base_size)
            for piece in base.pieces(*op) if isinstance(op, tuple) and isinstance(base, _Delta) else (op,):
                last = self.ops[-1] if self.ops else None
                if isinstance(piece, tuple) and isinstance(last, tuple) and last[0] + last[1] == piece[0]:
                    self.ops[-1] = (last[0], last[1] + piece[1])  # git copies 64 KB at most at a time
                else:
                    self.starts.append(done)
                    self.ops.append(piece)
                done += piece[1] if isinstance(piece, tuple) else len(piece)
        if done != self.size:
            raise ValueError("damaged pack: a delta does not build the size it says")

    def pieces(self, start: int, length: int) -> list:
        """This version's bytes [start, start + length) as copies from the
        whole object and inserted bytes."""
        end, out = start + length, []
        i = bisect.bisect_right(self.starts, start) - 1
        while start < end:
            op, first = self.ops[i], self.starts[i]
            stop = min(end, first + (op[1] if isinstance(op, tuple) else len(op)))
            out.append((op[0] + start - first, stop - start) if isinstance(op, tuple)
                       else op[start - first:stop - first])
            start, i = stop, i + 1
        return out

    def lines(self) -> int:
        """Counted over the pieces: copies are counted in the whole object
        where they lie (no copy made), a version costs a scan, not a rebuild."""
        base = self.base
        assert isinstance(base, Whole)  # copies are flattened onto the chain's whole object
        return sum(base.lines(op[0], op[0] + op[1]) if isinstance(op, tuple) else op.count(b"\n")
                   for op in self.ops)

    def read(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        if start >= end:
            return b""
        return b"".join(self.base.read(p[0], p[0] + p[1]) if isinstance(p, tuple) else p
                        for p in self.pieces(start, end - start))


def pieces(source: Source) -> tuple:
    """(whole, pieces): a version as copies (offset, length) of ``whole``,
    its chain's whole object, and inserted bytes, each piece as (where in
    the version, copy or bytes); (None, []) for a version that is neither
    packed whole nor a delta over a whole object."""
    if isinstance(source, _Delta) and isinstance(source.base, Whole):
        return source.base, list(zip(source.starts, source.ops))
    if isinstance(source, Whole):
        return source, [(0, (0, source.size))]
    return None, []


def _varint(data: bytes, pos: int) -> tuple:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return pos, value


def _instruction(delta: bytes, pos: int, base_size: int) -> tuple:
    """(next position, op): a copy (offset, length) or inserted bytes."""
    op = delta[pos]
    pos += 1
    if not op & 0x80:
        if not op:
            raise ValueError("damaged pack: a delta instruction 0")
        return pos + op, delta[pos:pos + op]
    offset = length = 0
    for bit in range(4):
        if op & (1 << bit):
            offset |= delta[pos] << (8 * bit)
            pos += 1
    for bit in range(3):
        if op & (0x10 << bit):
            length |= delta[pos] << (8 * bit)
            pos += 1
    length = length or 0x10000
    if offset + length > base_size:
        raise ValueError("damaged pack: a delta copies past its base")
    return pos, (offset, length)


class Reader:
    """Blobs of one repository's packs as :class:`Source` objects; the
    versions met last (parsed deltas, a few whole objects) are kept for the
    next ones, which are usually their neighbours in the chain."""

    def __init__(self, repo_path: str):
        self.packs = packs.Packs(Path(repo_path) / "objects")
        self._deltas: OrderedDict = OrderedDict()
        self._wholes: OrderedDict = OrderedDict()

    def blob(self, hexsha: str) -> Optional[Source]:
        """Blob ``hexsha`` as a Source, or None when no pack holds it."""
        found = self._locate(bytes.fromhex(hexsha))
        return self._version(*found) if found is not None else None

    def _locate(self, sha: bytes) -> Optional[tuple]:
        for attempt in (0, 1):
            for pack in list(self.packs.packs.values()):
                offset = pack.offset(sha)
                if offset is not None:
                    return pack, offset
            if attempt == 0 and not self.packs._refresh():
                return None
        return None

    def _version(self, pack, offset: int) -> Source:
        key = (id(pack), offset)
        if key in self._deltas:
            self._deltas.move_to_end(key)
            return self._deltas[key]
        if key in self._wholes:
            self._wholes.move_to_end(key)
            return self._wholes[key]
        kind, size, pos = packs.entry_head(pack.fd, offset)
        if kind == _BLOB:
            source: Source = Whole(packs._inflate(pack.fd, pos, size))
            self._wholes[key] = source
            if len(self._wholes) > _WHOLE_KEPT:
                self._wholes.popitem(last=False)
            return source
        base = self._base(pack, offset, kind, pos)
        data_pos = pos + (20 if kind == _REF_DELTA else _ofs_length(pack.fd, pos))
        self._deltas[key] = source = _Delta(base[0], packs._inflate(pack.fd, data_pos, size))
        if len(self._deltas) > _DELTAS_KEPT:
            self._deltas.popitem(last=False)
        return source

    def _base(self, pack, offset: int, kind: int, pos: int) -> tuple:
        if kind == _OFS_DELTA:
            distance, _ = _ofs_distance(pack.fd, pos)
            if not 0 < distance <= offset:
                raise ValueError("damaged pack: a delta's base lies outside the pack")
            return self._version(pack, offset - distance), None
        if kind == _REF_DELTA:
            found = self._locate(os.pread(pack.fd, 20, pos))
            if found is None:
                raise ValueError("a delta's base is in no pack")
            return self._version(*found), None
        raise ValueError(f"not a blob (pack entry type {kind})")


def _ofs_distance(fd: int, pos: int) -> tuple:
    """(distance back to the base, bytes the distance takes) of an OFS_DELTA."""
    head = os.pread(fd, 10, pos)
    n, byte = 0, head[0]
    distance = byte & 0x7F
    while byte & 0x80:
        n += 1
        if n >= len(head):
            raise ValueError("damaged pack: a delta's base offset runs on")
        byte = head[n]
        distance = ((distance + 1) << 7) | (byte & 0x7F)
    return distance, n + 1


def _ofs_length(fd: int, pos: int) -> int:
    return _ofs_distance(fd, pos)[1]
