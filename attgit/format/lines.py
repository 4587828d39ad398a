"""Versions of one company's blob compared line by line: parse only what differs.

Snapshot lines are canonical (:func:`records.from_canonical_line` refuses
any other spelling), so within valid blobs a line and a record are the same
thing: equal lines are equal records, and a line present in every version
is a record nobody changed.  A merge, a diff or a plan therefore splits the
versions into the *shared* lines and the rest, parses only the rest, and
copies shared lines as bytes.

How the shared lines are found, cheaply
---------------------------------------
Each version is *aligned* against the trusted blob (below): walking both
from the start, the longest byte-equal stretch is found by comparing
growing blocks of bytes (C ``memcmp``: a 1% change leaves runs of ~100
equal lines between differences), cut back to whole lines; where they
differ, the two lines' keys decide which side moves on one line (a key
merge, as both are sorted).  A trusted line is *shared* when every version
aligns a byte-equal line with it.  No list of lines, no set of a million
lines is built: a 1M-record pull touches the bytes of each blob a few times
in C and runs Python only around each difference.  The shared lines stay
byte ranges of the trusted blob, and the merged blob is woven from those
ranges and the few records that differ.

Why skipping shared lines keeps every guarantee of a full parse
----------------------------------------------------------------
A blob is *valid* when every line is a canonical record of its company with
the right checksum and the lines are strictly sorted by (date, ep_no) (so
keys are unique).  Validity is a property of the bytes, hence of the blob
id: git objects are content-addressed and never change.

1. A line is only ever treated as shared when it is byte-equal to a line
   of a *trusted* blob: one known valid.  The caller names it: the snapshot
   the database matches (``ours`` in a merge, ``old`` in a plan), or main
   for a read-only diff.  Those are valid by induction over every way a
   snapshot becomes the database's: written from database rows
   (:func:`snapshot.encode_company` checks order, :func:`records.from_db_row`
   content), or accepted by :func:`split_versions` against the database's
   previous (valid) snapshot, or parsed whole (a clone or a first load
   shares nothing with the empty snapshot).  With nothing trusted nothing
   is shared, and every line is parsed, as a full parse would.
2. A shared line is byte-equal to a line of the trusted blob of the same
   company, so it is a canonical, checksummed record of that company.
3. Every other line is parsed and checked like a full parse does (content,
   checksum, canonical form, company).
4. Order: an alignment only moves forward in both blobs, so in every
   version the shared lines appear in the trusted blob's order, each once;
   each pair of shared lines adjacent in a version is therefore strictly
   ordered because the trusted blob is.  Every adjacent pair with an
   unshared line is compared by key (a shared neighbour's key is read from
   its JSON: by 2 it is a valid record).  So every adjacent pair is strictly
   increasing: the version is sorted and its keys unique, and a key cannot
   hide once shared and once not (the two lines would have to be
   adjacent-ordered with equal keys).  A hostile version can only make the
   alignment share fewer lines: then more lines are parsed and checked.
5. Framing: a blob is empty or ends with a newline, and holds no carriage
   return, so splitting on newlines is exact and no empty line slips by.

Together: a version accepted here is valid, exactly as if it had been parsed
whole, and a version refused by a full parse is refused here, naming the
company file, the line and the version.  (Tested against the full parse with
hostile blobs: repeated keys, reordered and non-canonical lines.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import orjson

from attgit.errors import ValidationError
from attgit.format import records as rec

#: bytes compared at once when looking for the next difference: the first
#: block is small (differences come every ~20 KB in a 1% change), each equal
#: block doubles the next, up to the largest
_FIRST_BLOCK = 1024
_LAST_BLOCK = 256 * 1024
#: below this a differing block is searched byte-wise (as one big integer)
_SMALL = 64


@dataclass
class Split:
    """Versions of one company's blob split into shared lines and the rest.

    ``sides[i]`` holds version i's unshared records (key -> record); keys of
    shared lines are in none of them.  The shared lines are byte ranges
    (``runs``) of the trusted blob.  ``slots`` gives, for every unshared key
    of any version, where it goes among the shared lines: the offset in the
    trusted blob just after the shared line that precedes it (0: before
    every shared line), the same in every version, since each is sorted and
    holds the shared lines in one order.
    """

    company: str
    trusted: bytes = b""
    runs: list = field(default_factory=list)  # shared (start, end) byte ranges of ``trusted``, in order
    shared_count: int = 0  # shared lines
    sides: list = field(default_factory=list)
    slots: dict = field(default_factory=dict)
    sizes: list = field(default_factory=list)  # lines in each version

    @property
    def shared(self) -> list:
        """The shared lines (bytes, no newline), in file order."""
        return [line for a, b in self.runs for line in self.trusted[a:b - 1].split(b"\n")]

    def weave(self, records: Mapping) -> bytes:
        """The blob of the shared lines plus ``records`` (unshared keys, each
        with a slot), in file order."""
        by_slot: dict = {}
        for k, record in records.items():
            by_slot.setdefault(self.slots[k], []).append(record)
        out: list = []

        def put(slot: int) -> None:
            out.extend(rec.to_line(r) for r in sorted(by_slot[slot], key=rec.sort_key))

        if 0 in by_slot:
            put(0)
        slots = sorted(s for s in by_slot if s)
        n = 0
        trusted = memoryview(self.trusted)  # slices of it are not copies
        for a, b in self.runs:
            start = a
            while n < len(slots) and slots[n] <= b:
                out.append(trusted[start:slots[n]])
                put(slots[n])
                start = slots[n]
                n += 1
            out.append(trusted[start:b])
        return b"".join(out)

    def count(self, records: Mapping) -> int:
        """Records in :meth:`weave`'s blob."""
        return self.shared_count + len(records)


def blob_lines(data: bytes, where: str) -> list:
    """The lines of a blob (no newlines), refusing a non-canonical framing."""
    check_framing(data, where)
    return data.split(b"\n")[:-1] if data else []


def check_framing(data: bytes, where: str) -> None:
    """Refuse a blob that is not empty or newline-terminated lines without
    carriage returns."""
    if not data:
        return
    if not data.endswith(b"\n"):
        raise ValidationError("the file does not end with a newline", where)
    if b"\r" in data:
        line = data.count(b"\n", 0, data.index(b"\r")) + 1
        raise ValidationError(f"a carriage return on line {line}: lines end with \\n only", where)


def split_versions(company: str, path: str, blobs: Sequence[bytes], trusted: bytes | None,
                   labels: Sequence[str] | None = None) -> Split:
    """Split ``blobs`` (versions of ``company``'s file at ``path``; b"" when
    absent) into lines shared by all of them and by ``trusted`` (a blob known
    valid, or None: nothing trusted, everything parsed), and the rest parsed.

    Raises ValidationError naming the file, line and version (``labels``)
    for anything a full parse would refuse.
    """
    labels = labels or [f"version {i + 1}" for i in range(len(blobs))]
    places = [_Place(path, company, label) for label in labels]
    checked: set = set()
    for blob, place in zip(blobs, places):
        if id(blob) not in checked:
            check_framing(blob, place.file)
            checked.add(id(blob))
    if not trusted or any(not blob for blob in blobs):
        trusted = b""  # nothing can be shared
    elif all(blob is not trusted for blob in blobs):
        check_framing(trusted, _Place(path, company, "the trusted version").file)
    aligned: dict = {}  # id(blob) -> (its runs, lines parsed on the way)
    for blob, place in zip(blobs, places):
        if trusted and id(blob) not in aligned:
            aligned[id(blob)] = ([(0, len(blob), 0)], {}) if blob is trusted else \
                _align(company, trusted, blob, place)
    shared = _intersect([runs for runs, _ in aligned.values()]) if trusted else []
    result = Split(company, trusted, [(a, b) for a, b in _merge_adjacent(shared)])
    result.shared_count = _count_lines(trusted, result.runs)
    for blob, place in zip(blobs, places):
        runs, parsed = aligned.get(id(blob), ([], {}))
        side = _parse_rest(company, trusted, blob, _in_version(shared, runs), parsed, place, result.slots)
        result.sides.append(side)
        result.sizes.append(result.shared_count + len(side))
    return result


@dataclass(frozen=True)
class _Place:
    """Where a line is, as an error message names it."""

    path: str
    company: str
    label: str

    @property
    def file(self) -> str:
        return self._say(self.path)

    def line(self, n: int) -> str:
        """Line ``n`` (0-based index; people count from 1)."""
        return self._say(f"{self.path} line {n + 1}")

    def at(self, data: bytes, offset: int) -> str:
        """The line starting at byte ``offset`` of ``data`` (counted only
        when an error is raised)."""
        return self.line(data.count(b"\n", 0, offset))

    def _say(self, what: str) -> str:
        return f"{what} in {self.label}, company {self.company!r}" if self.label else \
            f"{what}, company {self.company!r}"


# --- alignment ---------------------------------------------------------------------

def _mismatch(a: bytes, i: int, b: bytes, j: int, n: int) -> int:
    """The first k < n with a[i + k] != b[j + k], else n: equal blocks of
    growing size, then halving, then the last bytes as one integer."""
    done, step = 0, _FIRST_BLOCK
    while done < n:
        size = min(step, n - done)
        if a[i + done:i + done + size] == b[j + done:j + done + size]:
            done += size
            step = min(step * 2, _LAST_BLOCK)
            continue
        lo, hi = done, done + size  # a difference lies in [lo, hi)
        while hi - lo > _SMALL:
            mid = (lo + hi) // 2
            if a[i + lo:i + mid] == b[j + lo:j + mid]:
                lo = mid
            else:
                hi = mid
        x = int.from_bytes(a[i + lo:i + hi], "big") ^ int.from_bytes(b[j + lo:j + hi], "big")
        return hi - 1 - (x.bit_length() - 1) // 8
    return n


def _align(company: str, trusted: bytes, data: bytes, place: _Place) -> tuple:
    """(runs, parsed): ``runs`` are (start, end, at) where data[at:at + end -
    start] == trusted[start:end], whole lines, increasing in both blobs;
    ``parsed`` the lines of ``data`` parsed on the way (offset -> record)."""
    runs: list = []
    parsed: dict = {}
    i = j = 0
    size_t, size_d = len(trusted), len(data)
    while i < size_t and j < size_d:
        k = _mismatch(trusted, i, data, j, min(size_t - i, size_d - j))
        last = trusted.rfind(b"\n", i, i + k)
        if last >= 0:  # equal whole lines (their newlines sit at the same places)
            length = last + 1 - i
            runs.append((i, i + length, j))
            i, j = i + length, j + length
            if i >= size_t or j >= size_d:
                break
        # the lines at i and j differ: the smaller key moves on
        end_t, end_d = trusted.index(b"\n", i) + 1, data.index(b"\n", j) + 1
        mine = trusted_key(trusted[i:end_t - 1])
        record = parsed.get(j)
        if record is None:
            record = parsed[j] = _record_at(company, data, j, end_d, place)
        theirs = rec.sort_key(record)
        if mine <= theirs:
            i = end_t
        if theirs <= mine:
            j = end_d
    return runs, parsed


def trusted_key(line: bytes) -> tuple:
    """The sort key of a trusted line (valid: only the key is read)."""
    data = orjson.loads(line)
    return (data["date"], data["ep_no"])


def _intersect(versions: list) -> list:
    """The trusted byte ranges every version's runs cover, as (start, end)."""
    shared = [(a, b) for a, b, _ in versions[0]]
    for runs in versions[1:]:
        out, n = [], 0
        for a, b, _ in runs:
            while n < len(shared) and shared[n][1] <= a:
                n += 1
            m = n
            while m < len(shared) and shared[m][0] < b:
                out.append((max(a, shared[m][0]), min(b, shared[m][1])))
                m += 1
        shared = out
    return shared


def _merge_adjacent(ranges: list) -> list:
    out: list = []
    for a, b in ranges:
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _count_lines(data: bytes, ranges: list) -> int:
    return sum(data.count(b"\n", a, b) for a, b in ranges)


def _in_version(shared: list, runs: list) -> list:
    """The shared ranges as (start, end, trusted start, trusted end) in the
    version whose runs are ``runs`` (each shared range lies in one run)."""
    out, n = [], 0
    for a, b in shared:
        while runs[n][1] < b:
            n += 1
        start, _, at = runs[n]
        out.append((a - start + at, b - start + at, a, b))
    return out


# --- the rest: parsed and checked ----------------------------------------------------------

def _parse_rest(company: str, trusted: bytes, data: bytes, shared: list, parsed: dict, place: _Place,
                slots: dict) -> dict:
    """Parse and check the lines of ``data`` outside its ``shared`` ranges;
    check each against its neighbours' keys."""
    out: dict = {}
    gaps = []  # (start, end, slot, trusted start of the shared line after it or None)
    previous_end, slot = 0, 0
    for start, end, t_start, t_end in shared:
        gaps.append((previous_end, start, slot, t_start))
        previous_end, slot = end, t_end
    gaps.append((previous_end, len(data), slot, None))
    for gap_start, gap_end, slot, next_shared in gaps:
        if gap_start == gap_end:
            continue
        # the key of the shared line before the gap (none at the start)
        key: Optional[tuple] = None
        if slot:
            key = trusted_key(trusted[trusted.rfind(b"\n", 0, slot - 1) + 1:slot - 1])
        offset = gap_start
        for line in data[gap_start:gap_end - 1].split(b"\n"):
            record = parsed.get(offset)
            if record is None:
                record = _record_at(company, data, offset, offset + len(line) + 1, place, line)
            mine = rec.sort_key(record)
            if key is not None and not key < mine:
                raise ValidationError("records out of order or repeated", place.at(data, offset))
            key = mine
            k = rec.key(record)
            out[k] = record
            slots[k] = slot
            offset += len(line) + 1
        if next_shared is not None:
            after = trusted_key(trusted[next_shared:trusted.index(b"\n", next_shared)])
            if key is not None and not key < after:
                raise ValidationError("records out of order or repeated", place.at(data, gap_end))
    return out


def _record_at(company: str, data: bytes, start: int, end: int, place: _Place,
               line: Optional[bytes] = None) -> dict:
    """The record of the line data[start:end] (its newline included); the
    line number is counted only for an error."""
    line = data[start:end - 1] if line is None else line
    try:
        return _record(company, line, None)
    except ValidationError:
        return _record(company, line, place.at(data, start))  # raises again, naming the line


def _record(company: str, line: bytes, where: Optional[str]) -> dict:
    record = rec.from_canonical_line(line, where)
    if record["company"] != company:
        raise ValidationError(f"record of company {record['company']!r} in the file of {company!r}", where)
    return record


# --- one key in a sorted blob ---------------------------------------------------------

def find_line(data, order: tuple) -> Optional[bytes]:
    """The line (no newline) whose sort key (date, ep_no) is ``order`` in a
    company blob (bytes, or a :class:`attgit.format.packdelta.Source` read
    by range), or None: a bisection over the blob's bytes, reading the key
    of ~log2(lines) lines, so one record's version costs microseconds where
    parsing the file costs a second (a history reads one per commit)."""
    source = _source(data)
    start, found = _bisect(source, order)
    return source.read(start, _newline(source, start)) if found else None


def keys_near(data, order: tuple, count: int) -> list:
    """The sort keys (date, ep_no) of up to ``count`` lines on each side of
    where ``order`` is or would be: what a person who mistyped a key meant."""
    source = _source(data)
    start, _ = _bisect(source, order)
    first = start
    for _ in range(count):
        if first == 0:
            break
        first = _last_newline(source, 0, first - 1) + 1
    keys: list = []
    offset = first
    while offset < source.size and len(keys) < 2 * count + 1:
        end = _newline(source, offset)
        keys.append(trusted_key(source.read(offset, end)))
        offset = end + 1
    return keys


def _source(data):
    from attgit.format.packdelta import Whole

    return Whole(bytes(data)) if isinstance(data, (bytes, bytearray)) else data


def _bisect(source, order: tuple) -> tuple:
    """(offset, found): the start of the line whose key is ``order``, or of
    the first line after it (the size at the end).  The blob is sorted:
    each probe jumps to the middle byte, backs up to its line's start, and
    halves the byte range (lines of a file may differ in length)."""
    lo, hi = 0, source.size  # lo and hi are line starts; the key, if there, starts in [lo, hi)
    while lo < hi:
        mid = (lo + hi) // 2
        start = _last_newline(source, lo, mid) + 1 or lo
        end = _newline(source, start)
        mine = trusted_key(source.read(start, end))
        if mine == order:
            return start, True
        if mine < order:
            lo = end + 1
        else:
            hi = start
    return lo, False


_WINDOW = 1024  # bytes read at once looking for a line's ends (a line is ~250)


def _last_newline(source, lo: int, end: int) -> int:
    """The offset of the last newline in [lo, end), or -1."""
    while end > lo:
        start = max(lo, end - _WINDOW)
        found = source.read(start, end).rfind(b"\n")
        if found >= 0:
            return start + found
        end = start
    return -1


def _newline(source, start: int) -> int:
    """The offset of the first newline at or after ``start``."""
    while True:
        chunk = source.read(start, start + _WINDOW)
        if not chunk:
            raise ValidationError("the file does not end with a newline")
        found = chunk.find(b"\n")
        if found >= 0:
            return start + found
        start += len(chunk)
