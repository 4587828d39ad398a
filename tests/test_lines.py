"""Parse only what differs: the line-level merge, plan and diff equal the
full-parse ones on random edits, and refuse every hostile blob a full parse
refuses, naming the company, the file and the line (attgit.format.lines)."""

from __future__ import annotations

import json
import tempfile

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

from attgit.errors import ValidationError
from attgit.format import layout
from attgit.format import records as rec
from attgit.format.lines import blob_lines, split_versions
from attgit.format.snapshot import Snapshot, SnapshotBuilder, decode_company, encode_sorted
from attgit.merge.company import MergeCounts, merge_company
from attgit.merge.diff import diff_company
from attgit.merge.plan import Plan, plan_between
from attgit.merge.strategy import Strategy
from attgit.merge.trees import merge_snapshots
from attgit.ops.compare import diff_snapshots
from attgit.repo.repository import Repository

from .helpers import record
from .strategies import FEW_DATES, edits, keyed, records

COMPANIES = ("ABC Corp", "Zeta/Works")
PATH = "records/abc.jsonl"
_REPO = None


def repository() -> Repository:
    """One repository for every example (objects only accumulate)."""
    global _REPO
    if _REPO is None:
        _REPO = Repository.init(tempfile.mkdtemp(prefix="attgit-lines-") + "/r.git")
    return _REPO


# --- generated data ----------------------------------------------------------

def company_records(company):
    return st.lists(records(company=st.just(company), date=FEW_DATES), max_size=10, unique_by=rec.key)


@st.composite
def company_versions(draw, company):
    """(base, ours, theirs) of one company, each None (absent) or key -> record."""
    few = company_records(company)
    base = draw(few)
    ours = draw(edits(base)) + draw(few.map(lambda rs: rs[:3]))
    theirs = draw(edits(base)) + draw(few.map(lambda rs: rs[:3]))
    versions = [keyed(v) for v in (base, ours, theirs)]
    versions = [{k: r for k, r in v.items() if r["company"] == company} for v in versions]
    for i in range(3):
        if draw(st.integers(0, 9)) == 0:
            versions[i] = None  # the company is absent from this version
    if draw(st.booleans()):  # often one side leaves the company alone
        side = draw(st.sampled_from([1, 2]))
        versions[side] = versions[0]
    return versions


#: the structural ones (what line-level reading must still see) come twice
MUTATIONS = ("repeat a line", "repeat a key", "swap two lines") * 2 + (
    "non-canonical line", "foreign company", "no final newline", "carriage return")


def mutate(draw, data: bytes, company: str, kind: str | None = None) -> tuple:
    """(a hostile version of a valid blob or None when it has too few lines,
    the kind of mutation)."""
    lines = blob_lines(data, "test")
    kind = kind or draw(st.sampled_from(MUTATIONS))
    if kind == "repeat a line" and lines:
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines)))
        lines.insert(j, lines[i])
    elif kind == "repeat a key" and lines:
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines)))
        twin = dict(decode_company(company, lines[i] + b"\n", "test").popitem()[1])
        twin["overstay"] = twin["overstay"] + "9"
        lines.insert(j, rec.to_line(twin)[:-1])
    elif kind == "swap two lines" and len(lines) >= 2:
        i = draw(st.integers(0, len(lines) - 2))
        j = draw(st.integers(i + 1, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "non-canonical line" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        r = rec.from_line(lines[i])
        # a valid record and a checksum from_line accepts, spelt otherwise
        lines[i] = json.dumps({"checksum": rec.checksum(r), **r}, sort_keys=True).encode()
    elif kind == "foreign company" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = rec.to_line({**rec.from_line(lines[i]), "company": "Other Co"})[:-1]
    elif kind == "no final newline" and lines:
        return b"\n".join(lines), kind
    elif kind == "carriage return" and lines:
        return b"\r\n".join(lines) + b"\r\n", kind
    else:
        return None, kind
    return b"".join(line + b"\n" for line in lines), kind


@st.composite
def snapshots(draw):
    """Three versions of two companies as raw blobs, perhaps one hostile
    blob in base or theirs (ours is the database's: valid by contract)."""
    blobs = {}  # company -> [base, ours, theirs] blob bytes or None
    for company in COMPANIES:
        blobs[company] = [None if v is None else encode_sorted(company, v)[0]
                          for v in draw(company_versions(company))]
    hostile = None
    if draw(st.integers(0, 2)) > 0:
        company = draw(st.sampled_from(COMPANIES))
        side = draw(st.sampled_from([0, 2, 2]))
        if blobs[company][side]:
            bad, kind = mutate(draw, blobs[company][side], company)
            if bad is not None:
                event(f"hostile: {kind}")
                blobs[company][side] = bad
                hostile = (company, side)
    return blobs, hostile


def build(blobs: dict, side: int) -> Snapshot:
    repo = repository()
    builder = SnapshotBuilder(repo.git, Snapshot.empty(repo.git))
    for company, versions in blobs.items():
        if versions[side] is not None:
            builder.put_blob(company, versions[side])
    return Snapshot(repo.git, repo.git[builder.write()])


# --- the full-parse references (what attgit did before parsing by lines) -----------

def full_records(snapshot: Snapshot, company: str) -> dict:
    return snapshot.records(company) if company in snapshot.companies() else {}


def reference_merge(base: Snapshot, ours: Snapshot, theirs: Snapshot, strategy: str):
    """Every differing company parsed whole, merged, encoded again."""
    repo = repository()
    builder = SnapshotBuilder(repo.git, ours)
    plan, conflicts, counts = Plan(), [], MergeCounts()
    names = set(base.companies()), set(ours.companies()), set(theirs.companies())
    for company in sorted(names[0] | names[1] | names[2]):
        b, o, t = (s.blob_id(company) if company in n else None for s, n in zip((base, ours, theirs), names))
        if o == t or b == t:
            continue
        mine = full_records(ours, company)
        if b == o:
            merged, result = full_records(theirs, company), None
        else:
            result = merge_company(company, full_records(base, company), mine, full_records(theirs, company),
                                   strategy)
            merged = result.records
            conflicts.extend(result.conflicts)
            counts.add(result.counts)
        present = (company in names[2] if (company in names[0]) == (company in names[1])
                   else company in names[1]) or bool(merged)
        if present:
            builder.put_blob(company, encode_sorted(company, merged)[0])
        else:
            builder.remove(company)
        create = company not in names[1]
        if result is not None and not create and present:
            change = result.change
        else:
            change = diff_company(company, mine, merged).to_change(create=create, drop=not present)
        if result is None:
            counts.added += len(change.inserts)
            counts.updated += len(change.updates)
            counts.deleted += len(change.deletes)
        plan.add(change)
    return builder.write(), plan, conflicts, counts


def reference_diff(old: Snapshot, new: Snapshot) -> list:
    out = []
    for company in sorted(set(old.companies()) | set(new.companies())):
        if old.blob_id(company) != new.blob_id(company):
            out.append(diff_company(company, full_records(old, company), full_records(new, company)))
    return out


def changes(plan: Plan) -> list:
    return [(c.company, c.inserts, c.updates, c.deletes, c.create, c.drop) for c in plan.changes()]


def outcome_or_error(run):
    try:
        return run(), None
    except ValidationError as exc:
        return None, exc


# --- the properties -------------------------------------------------------------------

@given(snapshots(), st.sampled_from(Strategy.ALL))
def test_line_level_merge_equals_the_full_parse(data, strategy):
    blobs, hostile = data
    note(f"hostile: {hostile}")
    base, ours, theirs = (build(blobs, side) for side in range(3))
    expected, refused = outcome_or_error(lambda: reference_merge(base, ours, theirs, strategy))
    got, error = outcome_or_error(lambda: merge_snapshots(repository(), base, ours, theirs, strategy))
    event("refused" if refused is not None else "merged")
    if refused is not None:
        assert error is not None, f"a full parse refuses ({refused}) but the line-level merge accepted"
        company = hostile[0]
        assert layout.company_path(company) in str(error) and repr(company) in str(error)
        assert " line " in str(error) or "newline" in str(error), str(error)
        return
    assert error is None, f"the line-level merge refused what a full parse accepts: {error}"
    tree, plan, conflicts, counts = expected
    assert got.tree == tree
    assert changes(got.plan) == changes(plan) and got.plan.counts == plan.counts
    assert [c.to_dict() for c in got.conflicts] == [c.to_dict() for c in conflicts]
    assert got.counts == counts


@given(snapshots())
def test_line_level_plan_and_diff_equal_the_full_parse(data):
    """old = ours (the database's, trusted), new = theirs, perhaps hostile."""
    blobs, hostile = data
    old, new = build(blobs, 1), build(blobs, 2)
    expected, refused = outcome_or_error(lambda: reference_diff(old, new))
    diffs, error = outcome_or_error(lambda: list(diff_snapshots(old, new, trusted=old)))
    plan, plan_error = outcome_or_error(lambda: plan_between(old, new))
    if refused is not None:
        assert error is not None and plan_error is not None
        assert repr(hostile[0]) in str(error) and " line " in str(error) or "newline" in str(error)
        return
    assert error is None and plan_error is None
    assert [d.to_dict() for d in diffs] == [d.to_dict() for d in expected]
    untrusted = list(diff_snapshots(old, new))
    assert [d.to_dict() for d in untrusted] == [d.to_dict() for d in expected]
    reference = Plan()
    for d in expected:
        company = d.company
        reference.add(d.to_change(create=company not in old.companies(), drop=company not in new.companies()))
    assert changes(plan) == changes(reference)


@given(st.data(), st.sampled_from(["repeat a line", "repeat a key", "swap two lines"]))
def test_hostile_theirs_is_refused_even_when_its_lines_are_shared(data, kind):
    """Repeats and reorders built from lines ours also has (so the line-level
    reader skips parsing them) are refused, as a full parse refuses them."""
    company = "ABC Corp"
    base = data.draw(st.lists(records(company=st.just(company), date=FEW_DATES), min_size=2, max_size=12,
                              unique_by=rec.key))
    ours = data.draw(edits(base))
    theirs = data.draw(edits(base))
    blobs = [encode_sorted(company, {k: r for k, r in keyed(v).items() if r["company"] == company})[0]
             for v in (base, ours, theirs)]
    bad, _ = mutate(data.draw, blobs[2] if len(blob_lines(blobs[2], "t")) >= 2 else blobs[0], company, kind)
    event(kind)
    with pytest.raises(ValidationError):
        decode_company(company, bad, PATH)
    with pytest.raises(ValidationError, match="out of order or repeated") as err:
        split_versions(company, PATH, [blobs[0], blobs[1], bad], blobs[1], ["base", "ours", "theirs"])
    assert f"{PATH} line " in str(err.value) and "in theirs, company 'ABC Corp'" in str(err.value)


# --- hand-made hostile blobs --------------------------------------------------------

def lines_of(*rs) -> bytes:
    return b"".join(rec.to_line(r) for r in rs)


def split(base, ours, theirs):
    return split_versions("ABC Corp", PATH, [base, ours, theirs], ours, ["base", "ours", "theirs"])


def test_shared_lines_are_not_parsed_and_the_rest_is():
    a, b, c = record("E1"), record("E2"), record("E3")
    c2 = record("E3", status="A")
    result = split(lines_of(a, b, c), lines_of(a, b, c), lines_of(a, b, c2))
    assert result.shared == [rec.to_line(a)[:-1], rec.to_line(b)[:-1]]
    assert result.sides == [{rec.key(c): c}, {rec.key(c): c}, {rec.key(c2): c2}]
    assert result.weave({rec.key(c2): c2}) == lines_of(a, b, c2)


def test_a_key_repeated_away_from_its_twin_is_refused():
    """E2's twin sits two lines away from the shared E2 line: only the
    chain of neighbour comparisons can see it."""
    a, b, c, d = record("E1"), record("E2"), record("E3"), record("E4")
    twin = record("E2", status="A")
    hostile = lines_of(a, b, c, twin, d)
    with pytest.raises(ValidationError, match="out of order or repeated") as err:
        split(lines_of(a, b, c, d), lines_of(a, b, c, d), hostile)
    assert "line 4 in theirs, company 'ABC Corp'" in str(err.value)


def test_shared_lines_reordered_are_refused():
    a, b, c = record("E1"), record("E2"), record("E3")
    with pytest.raises(ValidationError, match="out of order or repeated") as err:
        split(lines_of(a, b, c), lines_of(a, b, c), lines_of(b, a, c))
    assert f"{PATH} line 2 in theirs" in str(err.value)  # a full parse names line 2 too


def test_a_valid_record_spelt_otherwise_is_refused():
    a, b = record("E1"), record("E2")
    spelt = json.dumps({"checksum": rec.checksum(b), **b}, sort_keys=True).encode() + b"\n"
    assert rec.from_line(spelt) == b  # a full parse of old accepted it
    with pytest.raises(ValidationError, match="canonical form") as err:
        split(lines_of(a), lines_of(a), lines_of(a) + spelt)
    assert "line 2 in theirs" in str(err.value)
    with pytest.raises(ValidationError, match="canonical form"):
        decode_company("ABC Corp", lines_of(a) + spelt, PATH)


def test_framing_is_canonical():
    a = record("E1")
    with pytest.raises(ValidationError, match="newline"):
        decode_company("ABC Corp", lines_of(a)[:-1], PATH)
    with pytest.raises(ValidationError, match="carriage return on line 1"):
        decode_company("ABC Corp", lines_of(a).replace(b"\n", b"\r\n"), PATH)


# --- the alignment on large blobs (differences beyond the first block) ---------------

from attgit.format import lines as lines_module  # noqa: E402


@given(st.binary(min_size=0, max_size=3000), st.data())
def test_mismatch_finds_the_first_differing_byte(prefix, data):
    """_mismatch equals a byte-by-byte scan, whatever the block sizes meet."""
    tail_a = data.draw(st.binary(max_size=300))
    tail_b = data.draw(st.binary(max_size=300))
    a, b = prefix + tail_a, prefix + tail_b
    i = data.draw(st.integers(0, len(prefix)))
    n = min(len(a), len(b)) - i
    expected = next((k for k in range(n) if a[i + k] != b[i + k]), n)
    assert lines_module._mismatch(a, i, b, i, n) == expected


def _big(n: int, seed: int = 0) -> dict:
    """n records of one company over many days, keyed."""
    out = {}
    for i in range(n):
        r = record(f"E{i % 37:03d}", date=f"2024-{1 + i // (37 * 28) % 12:02d}-{1 + i // 37 % 28:02d}",
                   status="P", in_time=f"09:{seed % 60:02d}")
        out[rec.key(r)] = r
    return out


@pytest.fixture(params=[(1024, 256 * 1024), (64, 128)], ids=["blocks", "tiny-blocks"])
def block_sizes(request, monkeypatch):
    """The default block sizes, and tiny ones that make every difference
    cross block boundaries and the halving search."""
    first, last = request.param
    monkeypatch.setattr(lines_module, "_FIRST_BLOCK", first)
    monkeypatch.setattr(lines_module, "_LAST_BLOCK", last)
    monkeypatch.setattr(lines_module, "_SMALL", min(64, first // 2))


def _edit(versions: dict, keys: list, picks: list, status: str) -> dict:
    out = dict(versions)
    for n, what in picks:
        k = keys[n % len(keys)]
        if what == "change" and k in out:
            out[k] = {**out[k], "status": status, "in_time": f"08:{n % 60:02d}"}
        elif what == "delete":
            out.pop(k, None)
        elif what == "add":
            extra = record(f"X{n:04d}", date=k[2], status=status)
            out[rec.key(extra)] = extra
    return out


EDITS = st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["change", "delete", "add"])), max_size=40)


@pytest.mark.usefixtures("block_sizes")
@given(EDITS, EDITS, st.sampled_from([None, *MUTATIONS]), st.data())
def test_large_blobs_split_as_a_full_parse_reads_them(ours_edits, theirs_edits, mutation, data):
    """~1,500 records, scattered edits on both sides, perhaps a hostile
    theirs: the split holds exactly the full parse's records, weaves
    theirs back byte for byte, and refuses what a full parse refuses."""
    base = _big(1500)
    keys = sorted(base, key=lambda k: (k[2], k[0]))
    ours = _edit(base, keys, ours_edits, "A")
    theirs = _edit(base, keys, theirs_edits, "L")
    blobs = [encode_sorted("ABC Corp", v)[0] for v in (base, ours, theirs)]
    if mutation is not None:
        bad, _ = mutate(data.draw, blobs[2], "ABC Corp", mutation)
        blobs[2] = bad if bad is not None else blobs[2]
    labels = ["base", "ours", "theirs"]
    full, refused = outcome_or_error(lambda: [decode_company("ABC Corp", b, PATH) for b in blobs])
    got, error = outcome_or_error(lambda: split_versions("ABC Corp", PATH, blobs, blobs[1], labels))
    if refused is not None:
        assert error is not None, f"a full parse refuses ({refused}) but the split accepted"
        assert "in theirs, company 'ABC Corp'" in str(error)
        return
    assert error is None, str(error)
    shared = {rec.key(r): r for r in (rec.from_line(line) for line in got.shared)}
    assert len(shared) == got.shared_count
    for side, expected, size in zip(got.sides, full, got.sizes):
        assert not set(side) & set(shared)
        assert {**shared, **side} == expected and size == len(expected)
    assert got.weave(got.sides[2]) == blobs[2] and got.count(got.sides[2]) == len(full[2])
    assert got.weave(got.sides[1]) == blobs[1]
