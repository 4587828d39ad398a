"""Two parsers feeding the validator: a line-by-line fast path (orjson, one
item per line: the layout the writer produces) and a streaming fallback
(ijson) for any other formatting of the same JSON.
"""


from __future__ import annotations

import functools
import json
from typing import Any, BinaryIO, Callable, Iterator

import ijson
import orjson

from attgit.errors import ValidationError
from attgit.format.backup.common import _JSON_WS, _MAX_LINE, MAX_DEPTH, _fail, _short
from attgit.format.backup.validator import _Validator


class _NotFast(Exception):
    """The file is not in the one-item-per-line layout; use the streaming parser."""


class _DuplicateKey(Exception):
    """An object names one key twice (its first argument)."""


def _duplicate_key(key: Any, where: str) -> ValidationError:
    return _fail("invalid_schema", f"key {_short(key)} appears twice in one object (which value was meant "
                 "cannot be known: fix the file)", where)


def _pairs(pairs: list) -> dict:
    """json's object hook refusing a key given twice (orjson keeps the last)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _check_unique_keys(line: bytes, item: Any, where: str) -> None:
    """Refuse an item line whose objects repeat a key.  A line as the writer
    writes it is orjson's own output for the parsed item, so it is checked
    by one comparison; any other line is parsed again, keeping every pair."""
    if type(item) is not dict or orjson.dumps(item) == line:
        return
    try:
        json.loads(line, object_pairs_hook=_pairs)
    except _DuplicateKey as exc:
        raise _duplicate_key(exc.args[0], where) from None
    except ValueError:
        pass  # orjson read it: a difference of dialect (the validator judges the values)


def _read_fast(f: BinaryIO, v: _Validator) -> None:
    """Parse the layout :func:`write_backup` writes, line by line.

    Any deviation raises _NotFast: the streaming parser then decides,
    so this path never rejects valid JSON for its formatting.  Where an
    item's line is not JSON, _NotFast carries the place (byte offset, item)
    for the streaming parser's message.
    """
    lines = iter(functools.partial(f.readline, _MAX_LINE), b"")
    first = _line(lines)
    if not (first.startswith(b'{"metadata":') and first.endswith(b",")):
        raise _NotFast
    metadata = _loads(first[12:-1])
    _check_unique_keys(first[12:-1], metadata, "metadata")
    v.on_metadata(metadata)
    _expect(lines, b'"companies":[')
    _items(lines, v.on_company, (b"],",), _Place(f, v, "company"))
    _expect(lines, b'"attendance_records":[')
    if _items(lines, v.on_record, (b"]}", b"]"), _Place(f, v, "record")) == b"]":
        _expect(lines, b"}")
    for rest in lines:
        if rest.strip(_JSON_WS):
            raise _NotFast


def _line(lines: Iterator[bytes]) -> bytes:
    raw = next(lines, b"")
    if len(raw) >= _MAX_LINE and not raw.endswith(b"\n"):
        raise _NotFast
    return raw.strip(_JSON_WS)


def _expect(lines: Iterator[bytes], wanted: bytes) -> None:
    if _line(lines) != wanted:
        raise _NotFast


def _loads(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise _NotFast from None


class _Place:
    """Where an item line of the fast path sits: for messages only."""

    def __init__(self, f: BinaryIO, v: _Validator, what: str):
        self.f, self.v, self.what = f, v, what

    def where(self) -> str:
        """The item about to be handed over ("record 12")."""
        number = self.v.record_count + 1 if self.what == "record" else self.v.company_entries + 1
        return f"{self.what} {number}"

    def broken(self, raw: bytes, exc: Exception) -> "_NotFast":
        """_NotFast carrying the byte offset where the line's JSON broke and
        which item it is (for the streaming parser's message)."""
        try:
            start = self.f.tell() - len(raw)
        except (OSError, ValueError):
            return _NotFast()
        lead = len(raw) - len(raw.lstrip(_JSON_WS))
        number = self.v.record_count + 1 if self.what == "record" else self.v.company_entries + 1
        at_end = not raw.endswith(b"\n")  # the file's last line, with no end: cut short
        return _NotFast((start + lead + getattr(exc, "pos", 0), f"{self.what} {number}", at_end))


def _items(lines: Iterator[bytes], handle: Callable[[Any], None], closing: tuple, place: _Place) -> bytes:
    """Hand each item line to ``handle``; return the closing line."""
    loads, comma = orjson.loads, None
    for raw in lines:
        line = raw.strip(_JSON_WS)
        if line in closing:
            if comma:
                raise _NotFast
            return line
        if comma is False or (len(raw) >= _MAX_LINE and not raw.endswith(b"\n")):
            raise _NotFast
        comma = line.endswith(b",")
        body = line[:-1] if comma else line
        try:
            item = loads(body)
        except orjson.JSONDecodeError as exc:
            raise place.broken(raw, exc) from None
        _check_unique_keys(body, item, place.where())
        handle(item)
    raise _NotFast


_SCALAR_EVENTS = frozenset(("null", "boolean", "integer", "double", "number", "string"))


_EVENT_KINDS = {"start_map": "an object", "string": "text", "boolean": "true/false", "null": "null",
                "integer": "a number", "double": "a number", "number": "a number"}


def _read_stream(f: BinaryIO, v: _Validator) -> None:
    """Parse any formatting with ijson's event stream, in bounded memory."""
    events = ijson.basic_parse(f, use_float=True)
    try:
        _document(events, v)
        for _ in events:  # ijson rejects anything after the document
            raise _fail("invalid_json", "content after the end of the document")
    except _Truncated:
        raise _cut_short(f, v) from None
    except _DuplicateKey as exc:
        raise _duplicate_key(exc.args[0], _section_place(v)) from None
    except ValidationError:
        raise
    except ijson.JSONError as exc:
        text = _json_error_text(exc)
        if "premature EOF" in text or "incomplete" in text.lower() or _ends_broken(v):
            raise _cut_short(f, v) from None
        raise _fail("invalid_json", _located(text, v)) from None
    except (ValueError, UnicodeError, OverflowError) as exc:
        if _ends_broken(v):
            raise _cut_short(f, v) from None
        raise _fail("invalid_json", _located(_short(str(exc), 120), v)) from None


def _ends_broken(v: _Validator) -> bool:
    """Whether the fast path saw the break on the file's last, unfinished
    line (a file cut inside a character reads as bad UTF-8, not as EOF)."""
    return v.broken_at is not None and v.broken_at[2]


class _Truncated(Exception):
    """The event stream ended inside the document."""


def _cut_short(f: BinaryIO, v: _Validator) -> ValidationError:
    """The file stops before the document ends: say so, where, and in which item."""
    try:
        end = f.seek(0, 2)
    except (OSError, ValueError):
        end = None
    at = f"at byte {end:,}" if end is not None else "early"
    return _fail("invalid_json", f"it is cut short: it ends {at}, inside {_section_place(v)} "
                 "(truncated: copy or download it again)")


def _section_place(v: _Validator) -> str:
    if v.in_section == "attendance_records":
        return f"record {v.record_count + 1}"
    if v.in_section == "companies":
        return f"company {v.company_entries + 1} of the company list"
    return "the metadata" if v.in_section == "metadata" else "the document"


def _located(text: str, v: _Validator) -> str:
    """The parser's complaint with its place: the fast path's byte offset and
    item when it saw the same break, else the item being read."""
    text = text.rstrip(". ")
    if v.broken_at is not None:
        offset, item, _at_end = v.broken_at
        return f"{text} at byte {offset:,} ({item})"
    return f"{text} (in {_section_place(v)})"


def _json_error_text(exc: Exception) -> str:
    """The parser's message, first line only: its caret drawing of the
    context is no help in a one-line message."""
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return " ".join(first.split())[:160] or "unexpected content"


def _next(events: Iterator[tuple]) -> tuple:
    try:
        return next(events)
    except StopIteration:
        raise _Truncated from None


_SECTIONS = {"companies": "on_company", "attendance_records": "on_record"}


def _document(events: Iterator[tuple], v: _Validator) -> None:
    event, _ = _next(events)
    if event != "start_map":
        raise _fail("invalid_schema", "the file must hold one JSON object")
    seen = set()
    while True:
        event, name = _next(events)
        if event == "end_map":
            break
        if name in seen:
            raise _fail("invalid_schema", f"top-level key {_short(name)} appears twice")
        seen.add(name)
        event, value = _next(events)
        v.in_section = name
        if name == "metadata":
            v.on_metadata(_build(event, value, events, MAX_DEPTH))
        elif name in _SECTIONS:
            _array(name, event, events, getattr(v, _SECTIONS[name]))
        else:
            _build(event, value, events, MAX_DEPTH)
            v.warnings.append(f"unknown top-level key {_short(name)} ignored")
        v.in_section = None
    if "metadata" not in seen:
        raise _fail("missing_metadata", "there is no 'metadata' object")
    for name in ("companies", "attendance_records"):
        if name not in seen:
            raise _fail("invalid_schema", f"there is no {name!r} list")


def _array(name: str, event: str, events: Iterator[tuple], handle: Callable[[Any], None]) -> None:
    if event != "start_array":
        kind = _EVENT_KINDS.get(event, event)
        raise _fail("invalid_schema", f"{name!r} must be a list, not {kind}")
    while True:
        event, value = _next(events)
        if event == "end_array":
            return
        handle(_build(event, value, events, MAX_DEPTH - 2))


def _build(event: str, value: Any, events: Iterator[tuple], depth: int) -> Any:
    """The Python value starting with this event, at most ``depth`` deep."""
    if event in _SCALAR_EVENTS:
        return value
    if depth <= 0:
        raise _fail("invalid_schema", f"values nest deeper than {MAX_DEPTH} levels")
    if event == "start_map":
        obj: dict = {}
        while True:
            event, key = _next(events)
            if event == "end_map":
                return obj
            if key in obj:
                raise _DuplicateKey(key)
            event, value = _next(events)
            obj[key] = value if event in _SCALAR_EVENTS else _build(event, value, events, depth - 1)
    items: list = []
    while True:
        event, value = _next(events)
        if event == "end_array":
            return items
        items.append(value if event in _SCALAR_EVENTS else _build(event, value, events, depth - 1))
