"""What one version of a company's file adds, changes and deletes against
another, counted by record, reading only where the two differ.

A company's log shows, for each commit that changed the company, the
records it added, changed and deleted there and the company's total.  A
diff of the two versions would read both whole: seconds over a year of
5 MB versions.  But in a pack the versions of a file are deltas over one
whole version (:mod:`attgit.format.packdelta` flattens each delta onto its
chain's whole object): "copy these bytes of the whole object" and "insert
these bytes".  A line both versions copy from the same place of the whole
object is the same line in both: the same record, unchanged.  So only the
lines outside those shared copies are read and their keys compared; a
version's total is counted over its pieces (no copy made).

Why that is exact, for valid files (each line a record, keys unique and
sorted, :mod:`attgit.format.lines`): a line *held* by a version is a whole
line of the whole object that the version copies whole, its newline and the
end of the line before it included (or at a line start in both).  A line
held by both versions is in both, unchanged, and its key can be on no other
line of either.  Every other line of each version is read: the keys found
only in the newer version were added, only in the older deleted, in both
with another line changed.  Versions over different whole objects (another
chain, a loose object) are compared line by line, read whole.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Optional

from attgit.format import packdelta
from attgit.format.lines import trusted_key
from attgit.format.packdelta import Source


@dataclass(frozen=True)
class FileChanges:
    """Records a version of a company's file added, changed and deleted
    against an earlier one, and the records it holds."""

    added: int
    changed: int
    deleted: int
    records: int

    def to_dict(self) -> dict:
        return {"added": self.added, "changed": self.changed, "deleted": self.deleted, "records": self.records}


def file_changes(old: Optional[Source], new: Optional[Source]) -> FileChanges:
    """The records ``new`` adds, changes and deletes against ``old`` (None:
    the file is absent in that version)."""
    if new is None or old is None:
        gone, now = (old.lines() if old is not None else 0), (new.lines() if new is not None else 0)
        return FileChanges(now, 0, gone, now)
    (root, new_pieces), (old_root, old_pieces) = packdelta.pieces(new), packdelta.pieces(old)
    if root is not None and old_root is not None and (root is old_root or root.data == old_root.data):
        old_spans, new_spans = _spans(root.data, old_pieces), _spans(root.data, new_pieces)
        shared = _intersect(_held(old_spans), _held(new_spans))
        before, after = _rest(root.data, old_pieces, old_spans, shared), _rest(root.data, new_pieces, new_spans, shared)
    else:
        before, after = _differing_lines(old, new)
    added = sum(1 for k in after if k not in before)
    changed = sum(1 for k, line in after.items() if k in before and before[k] != line)
    return FileChanges(added, changed, sum(1 for k in before if k not in after), new.lines())


def _spans(data: bytes, pieces: list) -> list:
    """(where in the version, copy offset, lo, hi) for each copy: [lo, hi)
    are the whole lines of ``data`` (the whole object) it puts whole into
    the version -- after the first newline it copies, unless it starts a
    line in both; lo == hi when none."""
    out = []
    line_start = True  # the version's next piece begins a line
    for at, op in pieces:
        if not isinstance(op, tuple):
            line_start = op[-1] == 10
            continue
        a, b = op[0], op[0] + op[1]
        lo = a if line_start and (a == 0 or data[a - 1] == 10) else (data.find(b"\n", a, b) + 1 or b)
        hi = data.rfind(b"\n", lo, b) + 1
        out.append((at, a, lo, hi if hi > lo else lo))
        line_start = data[b - 1] == 10
    return out


def _held(spans: list) -> list:
    """The byte ranges of the whole object whose lines a version holds
    (its ``spans``), sorted and merged."""
    out: list = []
    for lo, hi in sorted((lo, hi) for _, _, lo, hi in spans if lo < hi):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], hi if hi > out[-1][1] else out[-1][1])
        else:
            out.append((lo, hi))
    return out


def _intersect(x: list, y: list) -> list:
    """The ranges in both sorted, disjoint lists of ranges."""
    out, i, j = [], 0, 0
    while i < len(x) and j < len(y):
        lo, hi = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        if lo < hi:
            out.append((lo, hi))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def _rest(data: bytes, pieces: list, spans: list, shared: list) -> dict:
    """Key -> line of every line of a version (its ``pieces`` over ``data``)
    outside the ``shared`` lines."""
    covered = _covered(spans, shared)
    chunks, c = [], 0
    for at, op in pieces:
        end, pos = at + (op[1] if isinstance(op, tuple) else len(op)), at
        while pos < end:
            while c < len(covered) and covered[c][1] <= pos:
                c += 1
            if c < len(covered) and covered[c][0] <= pos:
                pos = min(end, covered[c][1])
                continue
            stop = min(end, covered[c][0]) if c < len(covered) else end
            chunks.append(data[op[0] + pos - at:op[0] + stop - at] if isinstance(op, tuple) else op[pos - at:stop - at])
            pos = stop
    return _keyed(b"".join(chunks).split(b"\n"))  # the gaps between shared lines are whole lines


def _covered(spans: list, shared: list) -> list:
    """Where in a version (its ``spans``) the ``shared`` lines lie, in order."""
    starts = [a for a, _ in shared]
    out = []
    for at, a, lo, hi in spans:
        k = max(0, bisect.bisect_right(starts, lo) - 1) if lo < hi else len(shared)
        while k < len(shared) and shared[k][0] < hi:
            x, y = shared[k]
            x, y = x if x > lo else lo, y if y < hi else hi
            if x < y:
                out.append((at + x - a, at + y - a))
            k += 1
    return out


def _keyed(lines) -> dict:
    """Sort key (date, ep_no) -> line, for each non-empty line."""
    return {trusted_key(line): line for line in lines if line}


def _differing_lines(old: Source, new: Source) -> tuple:
    """(old's, new's) lines the other lacks, keyed: both read whole."""
    a, b = set(old.read(0, old.size).split(b"\n")), set(new.read(0, new.size).split(b"\n"))
    return _keyed(a - b), _keyed(b - a)
