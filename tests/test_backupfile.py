"""The JSON backup file: round trips, any formatting, and hostile files
(Properties 3, 4 and 14)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attgit.errors import ChecksumMismatch, NotFound, UsageError, ValidationError
from attgit.format import backup as bf
from attgit.format import records as rec
from attgit.format.backup import ERROR_MESSAGES, MESSAGES, read_backup, write_backup
from attgit.format.backup import reader as reader_module
from attgit.format.backup import spool as spool_module
from attgit.format.backup.common import _Canon
from attgit.format.backup.spool import _Spool
from attgit.format.backup.validator import _Validator

from .strategies import (
    ANY_COMPANY_NAME,
    COMPANY_NAMES,
    JSON_VALUES,
    datasets,
    keyed,
    records,
)

WHEN = dt.datetime(2025, 11, 25, 10, 30, tzinfo=dt.timezone.utc)
SOME_COMPANIES = st.one_of(COMPANY_NAMES, ANY_COMPANY_NAME)


def write(records, companies=(), **kw) -> bytes:
    out = io.BytesIO()
    kw = {"backup_type": "full", "created_by": "root", "created_at": WHEN, **kw}
    summary = write_backup(out, companies, records, **kw)
    assert summary.bytes == len(out.getvalue())
    return out.getvalue()


def read(data: bytes, **kw) -> bf.BackupFile:
    return read_backup(io.BytesIO(data), **kw)


def content(backup: bf.BackupFile) -> dict:
    return {k: r for c in backup.companies() for k, r in backup.records(c).items()}


def rejected(data: bytes, kind: str | None = None, **kw) -> ValidationError:
    """The ValidationError reading ``data`` raises (and its message kind)."""
    with pytest.raises(ValidationError) as info:
        read(data, **kw).close()
    message = str(info.value)
    assert message and any(message.startswith(m) for m in MESSAGES.values()), message
    if kind:
        assert message.startswith(MESSAGES[kind]), message
    return info.value


def sample(n=3, company="ABC Corp"):
    return [
        rec.normalise({
            "ep_no": f"E{i:03d}", "ep_name": "Ann", "company": company, "date": "2024-01-02",
            "shift": "Day", "status": "P", "in_time": "09:00", "out_time": None, "overstay": "0",
        })
        for i in range(n)
    ]


def doc(records=None, companies=("ABC Corp",)) -> dict:
    records = sample() if records is None else records
    return json.loads(write(records, [{"name": c} for c in companies]))


def dumps(document) -> bytes:
    return json.dumps(document, indent=1).encode()


def compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def fast_layout(document: dict) -> bytes:
    """``document`` in write_backup's one-item-per-line layout (if it can be)."""
    sections = ("metadata", "companies", "attendance_records")
    lists = all(isinstance(document[s], list) for s in sections[1:] if s in document)
    if list(document) != list(sections) or not lists:
        return compact(document)

    def items(values):
        return b",\n".join(map(compact, values)) + (b"\n" if values else b"")

    return (b'{"metadata":' + compact(document["metadata"]) + b',\n"companies":[\n'
            + items(document["companies"]) + b'],\n"attendance_records":[\n'
            + items(document["attendance_records"]) + b"]}\n")


# --- round trips --------------------------------------------------------------------


@given(datasets(company=SOME_COMPANIES), st.booleans())
def test_round_trip_and_metadata_counts(dataset, list_companies):
    """Property 3 (metadata counts are the content's) and the round trip."""
    companies = sorted({r["company"] for r in dataset}) if list_companies else []
    data = write(dataset, [{"name": c, "created_at": WHEN} for c in companies])
    document = json.loads(data)
    meta = document["metadata"]
    assert meta["total_attendance_records"] == len(document["attendance_records"]) == len(dataset)
    names = {r["company"] for r in dataset}
    assert meta["total_companies"] == len(document["companies"]) == len(names)
    with read(data) as backup:
        assert content(backup) == keyed(dataset)
        assert backup.total_records == len(dataset) and not backup.warnings
        assert backup.companies() == sorted({r["company"] for r in dataset})
        for c in companies:
            assert backup.declared_companies[c] == WHEN


STYLES = st.sampled_from(["indent", "line", "reorder"])


@given(datasets(max_size=10, company=SOME_COMPANIES), STYLES)
def test_other_formatting_reads_the_same(dataset, style):
    document = json.loads(write(dataset))
    if style == "reorder":
        document = {k: document[k] for k in ("attendance_records", "companies", "metadata")}
    indent = 2 if style == "indent" else None
    text = json.dumps(document, indent=indent, ensure_ascii=style != "line")
    with read(text.encode()) as backup:
        assert content(backup) == keyed(dataset)


def test_written_files_take_the_fast_path(monkeypatch):
    def refuse(*args):
        raise AssertionError("the streaming parser was used")
    monkeypatch.setattr(reader_module, "_read_stream", refuse)
    with read(write(sample(50))) as backup:
        assert backup.total_records == 50


@given(records())
def test_property_4_record_checksums_are_stable(record):
    line = json.loads(write([record]))["attendance_records"][0]
    assert line["checksum"] == rec.checksum(record) == rec.checksum(dict(record))
    assert line["company_name"] == record["company"]


def test_incremental_backups_say_since_when():
    data = write(sample(), backup_type="incremental", since=dt.date(2025, 11, 1))
    meta = json.loads(data)["metadata"]
    assert meta["backup_type"] == "incremental" and meta["since"] == "2025-11-01"
    assert meta["created_at"] == "2025-11-25T10:30:00Z"
    assert "since" not in json.loads(write(sample()))["metadata"]


def test_writer_refuses_bad_arguments():
    with pytest.raises(UsageError):
        write(sample(), backup_type="partial")
    with pytest.raises(ValidationError, match="given twice"):
        write(sample(), ["ABC Corp", "ABC Corp"])
    with pytest.raises(ValidationError, match="'status'"):
        write([{**sample(1)[0], "status": "?"}])


def test_empty_backup_round_trips():
    with read(write([])) as backup:
        assert backup.companies() == [] and backup.total_records == 0


def test_unlisted_companies_are_warned_about_and_listed():
    document = doc(sample(2) + sample(1, company="New Co"))
    document["companies"] = [c for c in document["companies"] if c["name"] == "ABC Corp"]
    document["metadata"]["total_companies"] = 1
    with read(dumps(document)) as backup:
        assert backup.companies() == ["ABC Corp", "New Co"]
        assert backup.warnings and backup.warnings[0].startswith(ERROR_MESSAGES["company_mismatch"])
        assert list(backup.records("New Co")) == [rec.key(sample(1, company="New Co")[0])]
        with pytest.raises(NotFound):
            backup.records("Nobody")


def test_sources_paths_streams_and_bom(tmp_path):
    data = write(sample())
    path = tmp_path / "b.json"
    path.write_bytes(b"\xef\xbb\xbf" + data)
    with read_backup(path) as backup:
        assert backup.total_records == 3

    class Pipe(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            chunk = self.inner.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    with read_backup(io.BufferedReader(Pipe())) as backup:
        assert backup.total_records == 3
    with pytest.raises(NotFound):
        read_backup(tmp_path / "missing.json")
    with pytest.raises(UsageError):
        read_backup(io.StringIO(data.decode()))


def test_temporary_files_are_removed(tmp_path, monkeypatch):
    spool_root = tmp_path / "tmp"
    spool_root.mkdir()
    monkeypatch.setattr(spool_module.tempfile, "tempdir", str(spool_root))
    backup = read(write(sample()))
    assert os.listdir(spool_root)
    backup.close()
    assert os.listdir(spool_root) == []
    rejected(write(sample())[:-5])
    assert os.listdir(spool_root) == []


def test_progress_is_reported():
    calls = []
    read(write(sample(2500)), progress=lambda done, total: calls.append((done, total))).close()
    assert calls == [(1000, 2500), (2000, 2500)]


def test_a_hash_collision_is_not_a_duplicate():
    validator = _Validator(_Spool())
    for raw in json.loads(write(sample(2)))["attendance_records"]:
        validator.on_record(raw)
    validator.suspects.append((2, rec.key(sample(2)[1])))  # as if hash() had collided
    validator.metadata = {"total_companies": 0, "total_attendance_records": 2}
    validator.finish()
    validator.spool.close()


TRICKY = st.sampled_from([
    "E1", " E1", "2024-02-29", "2023-02-29", "9:05", "09:05", "09:05:00", "23:59:59", "P", " A ",
    "24:00",
])
RAW_VALUES = st.one_of(st.none(), st.text(max_size=12), TRICKY)


@given(st.fixed_dictionaries({f: RAW_VALUES for f in rec.FIELDS}))
def test_the_fast_check_agrees_with_normalise(raw):
    canon = _Canon("company")
    for _ in range(2):  # the second time, from what the first taught it
        try:
            expected = rec.normalise(raw)
        except ValidationError:
            with pytest.raises(ValidationError):
                canon(raw, None)
            return
        assert canon(raw, None) == expected


# --- Property 14: what is not a backup file is rejected -----------------------------------


def test_the_design_documents_messages_are_kept():
    assert ERROR_MESSAGES["invalid_json"] == "The uploaded file is not valid JSON"
    assert ERROR_MESSAGES["missing_metadata"] == "Backup file is missing required metadata"
    expected = "Backup file structure does not match expected format"
    assert ERROR_MESSAGES["invalid_schema"] == expected
    assert ERROR_MESSAGES["company_mismatch"] == "Some records reference non-existent companies"


@pytest.mark.parametrize(
    "data, kind",
    [
        (b"", "invalid_json"),
        (b"not json", "invalid_json"),
        (b"[]", "invalid_schema"),
        (b'"text"', "invalid_schema"),
        (b"{}", "missing_metadata"),
        (b'{"companies": [], "attendance_records": []}', "missing_metadata"),
        (b'{"metadata": [], "companies": [], "attendance_records": []}', "missing_metadata"),
        (b'{"metadata": {"version": "1.0"}, "companies": []}', "missing_metadata"),
        (b'{"companies": [], "companies": [], "metadata": {}}', "invalid_schema"),
        (b'{"metadata":' + b"[" * 5000 + b"]" * 5000 + b"}", "invalid_schema"),
        (b'{"attendance_records":[' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"]}",
         "invalid_schema"),
        (b"[" * 100000, "invalid_schema"),
        (b'{"metadata": 1e999}', "invalid_json"),
    ],
)
def test_files_that_are_not_backups(data, kind):
    rejected(data, kind)


DROP = object()  # "remove this field"


def _set(*path_and_value):
    """A change to a backup document: put the value at the path (or drop it)."""
    *path, value = path_and_value

    def change(document):
        *parents, last = path
        target = document
        for step in parents:
            target = target[step]
        if value is DROP:
            del target[last]
        else:
            target[last] = value
    return change


def _append(section, index, count_field):
    """A change: repeat an item of a section and fix the metadata count."""
    def change(document):
        document[section].append(document[section][index])
        document["metadata"][count_field] += 1
    return change


R, M = "attendance_records", "metadata"
CASES = {  # name: (change, message kind, text the error's place contains)
    "no companies list": (_set("companies", DROP), "invalid_schema", None),
    "records not a list": (_set(R, {}), "invalid_schema", None),
    "version": (_set(M, "version", "2.0"), "unsupported_version", "metadata"),
    "backup type": (_set(M, "backup_type", "weekly"), "invalid_schema", "metadata"),
    "count as text": (_set(M, "total_companies", "1"), "invalid_schema", "metadata"),
    "huge count": (_set(M, "total_attendance_records", 10**30), None, None),
    "bad created_at": (_set(M, "created_at", "yesterday"), "invalid_schema", "metadata"),
    "record count": (_set(M, "total_attendance_records", 4), "count_mismatch", "records"),
    "company count": (_set(M, "total_companies", 0), "count_mismatch", "total_companies"),
    "real date": (_set(R, 1, "date", "2024-02-30"), "invalid_schema",
                  "record 2: E001 @ ABC Corp on 2024-02-30"),
    "date format": (_set(R, 0, "date", "02/01/2024"), "invalid_schema", "record 1"),
    "status": (_set(R, 2, "status", "X"), "invalid_schema", "record 3"),
    "time": (_set(R, 0, "in_time", "25:00"), "invalid_schema", "record 1"),
    "long name": (_set(R, 0, "ep_name", "x" * 200), "invalid_schema", "record 1"),
    "huge string": (_set(R, 0, "ep_name", "x" * 10**6), "invalid_schema", "record 1"),
    "number as text": (_set(R, 0, "ep_no", 7), "invalid_schema", "record 1"),
    "nested value": (_set(R, 0, "shift", [[["Day"]]]), "invalid_schema", "record 1"),
    "missing key field": (_set(R, 0, "ep_no", DROP), "invalid_schema", "record 1"),
    "unknown field": (_set(R, 0, "ep_nmae", "Ann"), "invalid_schema", "record 1"),
    "record not object": (_set(R, 2, "E9"), "invalid_schema", "record 3"),
    "tampered record": (_set(R, 1, "ep_name", "Bob"), "checksum_mismatch",
                        "record 2: E001 @ ABC Corp on 2024-01-02"),
    "missing checksum": (_set(R, 0, "checksum", DROP), "invalid_schema", "record 1"),
    "null checksum": (_set(R, 0, "checksum", None), "checksum_mismatch", "record 1"),
    "duplicate record": (_append(R, 0, "total_attendance_records"), "duplicate_record", "record 4"),
    "tampered company": (_set("companies", 0, "name", "ABC Co"), "checksum_mismatch", "company 1"),
    "company twice": (_append("companies", 0, "total_companies"), "invalid_schema", "company 2"),
    "company id": (_set("companies", 0, "id", "one"), "invalid_schema", "company 1"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
@pytest.mark.parametrize("layout", ["fast", "indented"])
def test_hostile_content_is_rejected_precisely(case, layout):
    change, kind, where = CASES[case]
    document = doc()
    change(document)
    error = rejected(fast_layout(document) if layout == "fast" else dumps(document), kind)
    if where:
        assert where in (error.where or ""), (error.where, str(error))
    if kind == "checksum_mismatch":
        assert isinstance(error, ChecksumMismatch)


@pytest.mark.parametrize("layout", ["fast", "indented"])
def test_a_tampered_records_message_shows_12_characters_of_each_checksum(layout):
    document = doc()
    _set(R, 1, "ep_name", "Bob")(document)
    error = rejected(fast_layout(document) if layout == "fast" else dumps(document), "checksum_mismatch")
    stored, got = document[R][1]["checksum"], error.got
    said = re.search(r"stored '([0-9a-f]+)…', content hashes to '([0-9a-f]+)…'", str(error))
    assert said and said.groups() == (stored[:12], got[:12]), str(error)
    assert len(stored) == len(got) == 64 and got not in str(error)


def test_size_limit():
    data = write(sample())
    rejected(data, "too_large", max_bytes=len(data) - 1)
    read(data, max_bytes=len(data)).close()


def test_records_may_carry_timestamps_and_null_times():
    document = doc()
    first = document["attendance_records"][0]
    first.update(created_at="2025-01-01T00:00:00Z", updated_at=None, in_time="09:00")
    document["attendance_records"][1]["out_time"] = ""
    with read(dumps(document)) as backup:
        assert content(backup) == keyed(sample())


# --- fuzz ------------------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_random_bytes_are_rejected(data):
    rejected(data)


@given(datasets(max_size=5), st.data())
def test_every_truncation_is_rejected(dataset, data):
    full = write(dataset)
    cut = data.draw(st.integers(min_value=0, max_value=len(full) - 2))  # the last byte is a newline
    rejected(full[:cut])
    rejected(dumps(json.loads(full))[:cut])


def _places(document):
    """Every place a value can be put: (container, key) pairs."""
    yield document, "metadata"
    for k in [*document["metadata"], "extra"]:
        yield document["metadata"], k
    for section in ("companies", "attendance_records"):
        yield document, section
        for i, item in enumerate(document[section]):
            yield document[section], i
            for k in [*item, "extra"]:
                yield item, k


@given(datasets(min_size=1, max_size=4), st.data(), JSON_VALUES)
def test_wrong_values_anywhere_are_rejected_or_harmless(dataset, data, value):
    """Put any JSON value anywhere: the file is rejected with a
    ValidationError, or accepted with exactly the records it had (the
    checksums prove them), and both parsers reach the same verdict."""
    document = json.loads(write(dataset))
    container, k = data.draw(st.sampled_from(list(_places(document))))
    container[k] = value
    verdicts = []
    for encoded in (fast_layout(document), dumps(document)):
        try:
            with read(encoded) as backup:
                assert content(backup) == keyed(dataset)
                verdicts.append("accepted")
        except ValidationError as exc:
            message = str(exc)
            assert any(message.startswith(m) for m in MESSAGES.values()), message
            verdicts.append(str(exc))
    assert verdicts[0] == verdicts[1]


@given(datasets(min_size=1, max_size=4), st.data())
def test_tampered_bytes_are_rejected_or_harmless(dataset, data):
    """Flip one byte of a valid file: rejected, or still the same records."""
    full = bytearray(write(dataset))
    i = data.draw(st.integers(min_value=0, max_value=len(full) - 1))
    full[i] = data.draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != full[i]))
    try:
        with read(bytes(full)) as backup:
            assert content(backup) == keyed(dataset)
    except ValidationError as exc:
        assert str(exc)


# --- every problem, with its place (issue 12.2) and messages a person can act on (11.3) ------


def test_every_problem_is_listed_with_record_key_and_field():
    document = doc(sample(6))
    records = document["attendance_records"]
    records[1]["status"] = "X"
    records[3]["in_time"] = "25:00"
    records[3]["out_time"] = "9 o'clock"
    records[5]["ep_name"] = "Tampered"
    for data in (fast_layout(document), dumps(document)):
        error = rejected(data, "invalid_schema")
        assert error.total == 4 and len(error.problems) == 4
        places = [p.where for p in error.problems]
        assert places[0] == "record 2: E001 @ ABC Corp on 2024-01-02"
        assert places[1] == places[2] == "record 4: E003 @ ABC Corp on 2024-01-02"
        assert "field 'status'" in error.problems[0].message
        assert "field 'in_time'" in error.problems[1].message and "field 'out_time'" in error.problems[2].message
        assert isinstance(error.problems[3], ChecksumMismatch) and places[3].startswith("record 6: E005")
        assert str(error).endswith("; and 3 more problems")


def test_problems_are_capped_and_counted_beyond():
    from attgit.format.backup.validator import MAX_PROBLEMS

    document = doc(sample(150))
    for r in document["attendance_records"]:
        r["status"] = "X"
    error = rejected(fast_layout(document), "invalid_schema")
    assert len(error.problems) == MAX_PROBLEMS and error.total == 150
    from attgit.errors import problem_lines

    assert problem_lines(error)[-1] == "  ... and 50 more"


def test_a_clean_file_after_problems_in_the_structure_lists_both():
    document = doc(sample(5))
    document["attendance_records"][0]["status"] = "X"
    data = fast_layout(document).replace(b'"E003"', b'E003"')
    error = rejected(data)
    assert error.total == 2
    assert "field 'status'" in error.problems[0].message
    assert "at byte" in str(error.problems[1]) and "(record 4)" in str(error.problems[1])


@pytest.mark.parametrize("data, says", [
    (b"", "it is empty (0 bytes)"),
    (b" \n\t\n", "it is empty: its 4 bytes are all blank space"),
    (b"\xef\xbb\xbf", "it is empty (0 bytes)"),
])
def test_an_empty_file_says_it_is_empty(data, says):
    error = rejected(data, "invalid_json")
    assert str(error) == f"The file is not valid JSON: {says}"


@given(datasets(min_size=2, max_size=6), st.data())
def test_a_truncated_file_says_where_it_ends(dataset, data):
    full = write(dataset)
    records_start = full.index(b'"attendance_records":[\n') + 23
    cut = data.draw(st.integers(min_value=records_start + 2, max_value=len(full) - 3))
    message = str(rejected(full[:cut], "invalid_json"))
    assert f"it ends at byte {cut:,}" in message and "cut short" in message
    number = full[records_start:cut].count(b"\n") + 1  # the line being read when the file ends
    # (cut just after a record's closing brace, that record is complete: the next one is named)
    assert f"inside record {number}" in message or f"inside record {number + 1}" in message, message


@given(st.binary(min_size=1, max_size=200))
def test_no_parser_caret_debris(data):
    try:
        read(b'{"metadata":' + data).close()
    except ValidationError as exc:
        assert "^" not in str(exc) and "(right here)" not in str(exc) and "\n" not in str(exc)


def test_the_library_says_file_and_the_web_says_uploaded_file():
    from attgit.format.backup import for_upload

    message = str(rejected(b"not json", "invalid_json"))
    assert message.startswith("The file is not valid JSON") and "uploaded" not in message
    assert for_upload(message).startswith("The uploaded file is not valid JSON")
