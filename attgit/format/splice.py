"""Edit a company blob in place of re-encoding it: the merge-join that
makes a commit cost what changed.

A company's blob is its canonical lines sorted by (date, ep_no).  To
replace a few records, each changed key is located by binary search over
the blob's bytes (only the ~log2(n) lines a search lands on are parsed),
and the output is the old blob's untouched stretches, copied as bytes,
interleaved with the new lines.  The result is byte-identical to encoding
the whole company again, because both are the same sorted canonical lines.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

import orjson

from attgit.errors import ValidationError
from attgit.format import records as rec


def line_order(data: bytes, start: int) -> tuple[tuple, int]:
    """The (date, ep_no) of the line starting at ``start``, and where the
    next line starts."""
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end + 1
    try:
        value = orjson.loads(data[start:end])
        return (value["date"], value["ep_no"]), end
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ValidationError("not a canonical snapshot line", f"byte {start}") from None


def lower_bound(data: bytes, lo: int, order: tuple) -> int:
    """The start of the first line at or after ``lo`` whose (date, ep_no)
    is >= ``order`` (``len(data)`` when none is): a binary search over
    byte offsets, snapped back to line starts."""
    hi = len(data)
    while lo < hi:
        mid = (lo + hi) // 2
        newline = data.rfind(b"\n", lo, mid)
        start = lo if newline < 0 else newline + 1
        found, after = line_order(data, start)
        if found < order:
            lo = after
        else:
            hi = start
    return lo


def find_lines(data: bytes, orders: Iterable[tuple]) -> dict:
    """{(date, ep_no): line} for those of ``orders`` present in the blob."""
    out, pos = {}, 0
    for order in sorted(set(orders)):
        pos = lower_bound(data, pos, order)
        if pos >= len(data):
            break
        found, after = line_order(data, pos)
        if found == order:
            out[order] = data[pos:after]
    return out


def splice(data: bytes, changed: Mapping[tuple, Optional[bytes]]) -> bytes:
    """The blob ``data`` with the line of each (date, ep_no) in ``changed``
    replaced by its new line, added when absent, removed when None."""
    parts, pos = [], 0
    for order in sorted(changed):
        start = lower_bound(data, pos, order)
        parts.append(data[pos:start])
        pos = start
        if pos < len(data):
            found, after = line_order(data, pos)
            if found == order:
                pos = after
        line = changed[order]
        if line is not None:
            parts.append(line)
    parts.append(data[pos:])
    return b"".join(parts)


def splice_records(company: str, data: bytes, keys: Iterable[tuple], current: Iterable[dict]) -> bytes:
    """The company's blob after the rows under ``keys`` (as logged) became
    ``current`` (the records the database now holds under those keys).

    Refuses a record of another company, as encoding the company whole does.
    """
    changed: dict = {(k[2], k[0].strip()): None for k in keys}
    for record in current:
        if record["company"] != company:
            raise ValidationError(f"record of company {record['company']!r} in the file of {company!r}",
                                  rec.describe_key(rec.key(record)))
        changed[rec.sort_key(record)] = rec.to_line(record)
    return splice(data, changed)
