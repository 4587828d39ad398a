"""What one version of a company's file adds, changes and deletes against
another (attgit.format.filediff), counted through C git's deltas or read
whole, equals a diff of the two versions parsed whole: random versions
(records changed, added, deleted, runs of them cut, at any place, the
first and last lines included), packed in long chains, short chains, or
left loose."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import event, given
from hypothesis import strategies as st

from attgit.format import layout, packdelta
from attgit.format.filediff import FileChanges, file_changes
from attgit.format.snapshot import decode_company
from attgit.ops.commit import snapshot_database
from attgit.repo import cgit
from attgit.repo.pathlog import blob_source
from attgit.repo.repository import Repository
from attgit.workingcopy import MemoryWorkingCopy

from .helpers import AUTHOR, record

CO = "ABC Corp"
PATH = layout.company_path(CO)
DAYS = [f"2025-11-{d:02d}" for d in range(1, 29)]
#: (what, where: a fraction of the file, a seed for the values)
EDITS = st.lists(st.tuples(st.sampled_from(["change", "add", "delete", "cut"]), st.integers(0, 1000),
                           st.integers(0, 2**32 - 1)), max_size=6)
PACKING = st.sampled_from([["--depth=50", "--window=50"], ["-f", "--depth=3", "--window=10"], None])


def _edit(rows: dict, what: str, where: int, seed: int) -> None:
    keys = sorted(rows, key=lambda k: (k[2], k[0]))
    if what == "add" or not keys:
        k = (f"E{seed % 997:03d}", CO, DAYS[seed % len(DAYS)])
        rows[k] = record(k[0], CO, k[2], ep_name=f"New {seed}")
        return
    at = where * (len(keys) - 1) // 1000  # 0: the first line, 1000: the last
    if what == "change":
        rows[keys[at]] = {**rows[keys[at]], "status": "AL"[seed % 2], "overstay": str(seed % 7)}
        return
    for k in keys[at:at + (1 if what == "delete" else 1 + seed % 12)]:  # "cut": a run of records
        del rows[k]


def _full_diff(repo: Repository, old, new) -> FileChanges:
    """The counts from both versions parsed whole."""
    def parsed(oid) -> dict:
        return decode_company(CO, repo.git[oid].data, PATH) if oid is not None else {}

    before, after = parsed(old), parsed(new)
    return FileChanges(sum(k not in before for k in after), sum(k in before and before[k] != r for k, r in after.items()),
                       sum(k not in after for k in before), len(after))


@given(st.lists(EDITS, min_size=1, max_size=6), PACKING, st.data())
def test_the_counts_equal_a_diff_of_the_versions_parsed_whole(versions, packing, data):
    with tempfile.TemporaryDirectory(prefix="attgit-filediff-") as tmp:
        repo = Repository.init(Path(tmp) / "r.git")
        db = MemoryWorkingCopy.from_records([record(f"E{n:03d}", CO, day) for n in range(0, 40, 3)
                                             for day in DAYS[:8]])
        snapshot_database(repo, db, AUTHOR)
        for edits in versions:
            for edit in edits:
                _edit(db.data[CO], *edit)
            snapshot_database(repo, db, AUTHOR)
        if packing is not None:
            cgit.run(["repack", "-a", "-d", "-q", *packing], repo.path)
        blobs = [repo.snapshot(c.id).blob_id(CO) for c in repo.log()][::-1] + [None]  # oldest first, then gone
        pairs = list(zip([None, *blobs], blobs))  # each version against the one before
        pairs += data.draw(st.lists(st.tuples(st.sampled_from(blobs), st.sampled_from(blobs)), max_size=4))
        reader = packdelta.Reader(str(repo.path))

        def source(oid):
            return blob_source(repo, reader, oid, PATH, "test") if oid is not None else None

        for old, new in pairs:
            got = file_changes(source(old), source(new))
            assert got == _full_diff(repo, old, new), (old, new)
            roots = [packdelta.pieces(source(oid))[0] if oid is not None else None for oid in (old, new)]
            event("over one whole object" if roots[0] is not None and roots[0] is roots[1] else "read whole")


def test_a_copy_after_bytes_that_end_mid_line_holds_none_of_its_first_line():
    """A copy that starts at a line of the whole object but follows inserted
    bytes ending mid-line continues the version's line: that line is not
    the whole object's, and is read, never taken as shared."""
    from attgit.format.filediff import _spans

    data = b'{"date":"1","ep_no":"a"}\n{"date":"2","ep_no":"b"}\n'
    second = data.index(b"\n") + 1
    copy = (second, len(data) - second)
    assert _spans(data, [(0, b"xx"), (2, copy)]) == [(2, second, len(data), len(data))]
    assert _spans(data, [(0, b"x\n"), (2, copy)]) == [(2, second, second, len(data))]
    assert _spans(data, [(0, (0, 3)), (3, copy)]) == [(0, 0, 0, 0), (3, second, len(data), len(data))]
