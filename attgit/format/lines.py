"""Versions of one company's blob compared line by line: parse only what differs.

Snapshot lines are canonical (:func:`records.from_canonical_line` refuses
any other spelling), so within valid blobs a line and a record are the same
thing: equal lines are equal records, and a line present in every version
is a record nobody changed.  A merge, a diff or a plan therefore splits the
versions into the *shared* lines and the rest, parses only the rest, and
copies shared lines as bytes.

Why skipping shared lines keeps every guarantee of a full parse
----------------------------------------------------------------
A blob is *valid* when every line is a canonical record of its company with
the right checksum and the lines are strictly sorted by (date, ep_no) (so
keys are unique).  Validity is a property of the bytes, hence of the blob
id: git objects are content-addressed and never change.

1. A line is only ever treated as shared when it is also in a *trusted*
   blob: one known valid.  The caller names it: the snapshot the database
   matches (``ours`` in a merge, ``old`` in a plan), or main for a read-only
   diff.  Those are valid by induction over every way a snapshot becomes the
   database's: written from database rows (:func:`snapshot.encode_company`
   checks order, :func:`records.from_db_row` content), or accepted by
   :func:`split_versions` against the database's previous (valid) snapshot,
   or parsed whole (a clone or a first load shares nothing with the empty
   snapshot).  With nothing trusted nothing is shared, and every line is
   parsed, as a full parse would.
2. A shared line is byte-equal to a line of the trusted blob of the same
   company, so it is a canonical, checksummed record of that company.
3. Every other line is parsed and checked like a full parse does (content,
   checksum, canonical form, company).
4. Order: in every version the shared lines must appear exactly as in the
   trusted blob (same order, each once), so each adjacent pair of shared
   lines is ordered because the trusted blob is.  Every adjacent pair with
   an unshared line is compared by key (a shared neighbour's key is read
   from its JSON: by 2 it is a valid record).  So every adjacent pair is strictly increasing: the version is
   sorted and its keys unique, and a key cannot hide once shared and once
   not (the two lines would have to be adjacent-ordered with equal keys).
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
from itertools import compress, count
from operator import not_

import orjson

from attgit.errors import ValidationError
from attgit.format import records as rec


@dataclass
class Split:
    """Versions of one company's blob split into shared lines and the rest.

    ``sides[i]`` holds version i's unshared records (key -> record); keys of
    shared lines are in none of them.  ``slots`` gives, for every unshared
    key of any version, how many shared lines precede it: the same in every
    version, since each is sorted and lists the shared lines in one order.
    """

    company: str
    shared: list  # the shared lines (bytes, no newline), in file order
    sides: list = field(default_factory=list)
    slots: dict = field(default_factory=dict)
    sizes: list = field(default_factory=list)  # lines in each version

    def weave(self, records: Mapping) -> bytes:
        """The blob of the shared lines plus ``records`` (unshared keys, each
        with a slot), in file order."""
        by_slot: dict = {}
        for k, record in records.items():
            by_slot.setdefault(self.slots[k], []).append(record)
        if not by_slot:
            return b"".join(line + b"\n" for line in self.shared)
        out = []
        start = 0
        for slot in sorted(by_slot):
            out.extend(self.shared[start:slot])
            out.extend(rec.to_line(r)[:-1] for r in sorted(by_slot[slot], key=rec.sort_key))
            start = slot
        out.extend(self.shared[start:])
        return b"".join(line + b"\n" for line in out)

    def count(self, records: Mapping) -> int:
        """Records in :meth:`weave`'s blob."""
        return len(self.shared) + len(records)


def blob_lines(data: bytes, where: str) -> list:
    """The lines of a blob (no newlines), refusing a non-canonical framing."""
    if not data:
        return []
    if not data.endswith(b"\n"):
        raise ValidationError("the file does not end with a newline", where)
    if b"\r" in data:
        line = data.count(b"\n", 0, data.index(b"\r")) + 1
        raise ValidationError(f"a carriage return on line {line}: lines end with \\n only", where)
    return data.split(b"\n")[:-1]


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
    split: dict = {}  # id(blob) -> its lines: a blob given twice is split once
    lines = []
    for blob, place in zip(blobs, places):
        if id(blob) not in split:
            split[id(blob)] = blob_lines(blob, place.file)
        lines.append(split[id(blob)])
    shared = _shared_lines(lines, blobs, trusted, _Place(path, company, "the trusted version").file)
    result = Split(company, shared[0], sizes=[len(v) for v in lines])
    for version, place in zip(lines, places):
        result.sides.append(_parse_version(company, version, shared, place, result.slots))
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

    def _say(self, what: str) -> str:
        return f"{what} in {self.label}, company {self.company!r}" if self.label else \
            f"{what}, company {self.company!r}"


def _shared_lines(lines: list, blobs: Sequence[bytes], trusted: bytes | None, where: str) -> tuple:
    """(shared lines in the trusted blob's order, their set, the trusted
    blob's lines)."""
    if trusted is None or not trusted or any(not v for v in lines):
        return [], frozenset(), None
    reference = next((v for v, b in zip(lines, blobs) if b is trusted), None)
    if reference is None:
        reference = blob_lines(trusted, where)
    common = set(reference)
    for version in lines:
        if version is not reference:
            common.intersection_update(version)
    return [line for line in reference if line in common], common, reference


def _parse_version(company: str, lines: list, shared: tuple, place: _Place, slots: dict) -> dict:
    """Parse and check one version's unshared lines; check its order."""
    order, common, reference = shared
    if common:
        # C-level passes: the indexes of unshared lines, then slice compares
        unshared: Sequence[int] = list(compress(count(), map(not_, map(common.__contains__, lines))))
        if lines is not reference and not _keeps_order(lines, unshared, order):
            _refuse_shared_order(lines, order, common, place)
    else:
        unshared = range(len(lines))
    out: dict = {}
    keys: dict = {}  # line number -> sort key, filled as needed

    def sort_key(n: int) -> tuple:
        """The sort key of line n: a neighbour, so a shared line (trusted:
        only its key is read) or an unshared one (parsed and checked)."""
        if n not in keys:
            line = lines[n]
            if line in common:
                data = orjson.loads(line)
                keys[n] = (data["date"], data["ep_no"])
            else:
                keys[n] = rec.sort_key(_record(company, line, place.line(n)))
        return keys[n]

    for j, n in enumerate(unshared):
        record = _record(company, lines[n], place.line(n))
        keys[n] = rec.sort_key(record)
        if n > 0 and not sort_key(n - 1) < keys[n]:
            raise ValidationError("records out of order or repeated", place.line(n))
        if n + 1 < len(lines) and lines[n + 1] in common and not keys[n] < sort_key(n + 1):
            raise ValidationError("records out of order or repeated", place.line(n + 1))
        k = rec.key(record)
        out[k] = record
        slots[k] = n - j  # shared lines before line n
    return out


def _keeps_order(lines: list, unshared: Sequence[int], order: list) -> bool:
    """Whether ``lines`` without the lines at ``unshared`` are ``order``."""
    start = done = 0
    for n in [*unshared, len(lines)]:
        run = n - start
        if lines[start:n] != order[done:done + run]:
            return False
        done += run
        start = n + 1
    return done == len(order)


def _record(company: str, line: bytes, where: str) -> dict:
    record = rec.from_canonical_line(line, where)
    if record["company"] != company:
        raise ValidationError(f"record of company {record['company']!r} in the file of {company!r}", where)
    return record


def _refuse_shared_order(lines: list, order: list, common, place: _Place) -> None:
    """Name the first line where the shared lines leave the trusted order."""
    seen = 0
    for n, line in enumerate(lines):
        if line in common:
            if seen >= len(order) or line != order[seen]:
                raise ValidationError("records out of order or repeated", place.line(n))
            seen += 1
    raise ValidationError("records out of order or repeated", place.line(len(lines) - 1))
