"""Three-way cell-level merge and the two-way import: laws, cells,
strategies, conflicts, and the design document's Properties 5-10."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attgit.errors import UsageError, ValidationError
from attgit.format import records as rec
from attgit.merge.company import import_company, merge_company
from attgit.merge.conflict import Conflict, Versions
from attgit.merge.strategy import Strategy, parse_strategy
from attgit.workingcopy import MemoryWorkingCopy

from .strategies import (
    COMPANY_NAMES,
    FEW_DATES,
    datasets,
    edits,
    keyed,
    records,
    three_versions,
)

STRATEGIES = st.sampled_from(Strategy.ALL)
FIELD = st.sampled_from(rec.VALUE_FIELDS)
#: one company's records over three days: two of them often share keys
ABC = st.lists(records(company=st.just("ABC Corp"), date=FEW_DATES), max_size=12, unique_by=rec.key)


def make(**changes):
    raw = {
        "ep_no": "E001", "ep_name": "Ann", "company": "ABC Corp", "date": "2024-01-02",
        "shift": "Day", "status": "P", "in_time": "09:00", "out_time": "17:00", "overstay": "0",
    }
    return rec.normalise({**raw, **changes})


def one(r):
    return {} if r is None else {rec.key(r): r}


def merge(base, ours, theirs, strategy="manual"):
    return merge_company("ABC Corp", base, ours, theirs, strategy)


def applied(ours, result):
    """ours after applying the merge's change, as key -> record."""
    wc = MemoryWorkingCopy({"ABC Corp": list(ours.values())})
    wc.apply([result.change], commit=None)
    return {rec.key(r): r for r in wc.all_records()}


# --- strategies ------------------------------------------------------------


def test_parse_strategy_accepts_names_and_aliases():
    assert parse_strategy("theirs") == parse_strategy("backup_wins") == "theirs"
    assert parse_strategy("ours") == parse_strategy("Database-Wins") == "ours"
    assert parse_strategy("manual") == "manual"


def test_parse_strategy_lists_valid_names():
    with pytest.raises(UsageError, match="theirs, ours, manual, backup_wins, database_wins"):
        parse_strategy("newest")


def test_versions_keep_one_order():
    assert Versions(1, 2, 3) == (1, 2, 3) and Versions(1, 2, 3).theirs == 3


# --- laws ---------------------------------------------------------------------
# One Hypothesis test drives every law over the same generated versions
# (generating three versions costs far more than merging them); each law is
# a function, named in the failure.


def law_unchanged_ours_takes_theirs(base, ours, theirs, strategy):
    result = merge(base, base, theirs, strategy)
    assert result.records == theirs and not result.conflicts
    assert applied(base, result) == theirs


def law_unchanged_theirs_keeps_ours(base, ours, theirs, strategy):
    result = merge(base, ours, base, strategy)
    assert result.records == ours and len(result.change) == 0 and not result.conflicts


def law_merging_a_thing_with_itself_changes_nothing(base, ours, theirs, strategy):
    result = merge(ours, ours, ours, strategy)
    assert result.records == ours and len(result.change) == 0
    assert result.counts.unchanged == len(ours)


def law_merging_again_changes_nothing(base, ours, theirs, strategy):
    """m = merge(b, o, t); merge(b, m, t) then has an empty change and the
    same result, for every strategy (manual meets the same conflicts again)."""
    first = merge(base, ours, theirs, strategy)
    again = merge(base, first.records, theirs, strategy)
    assert len(again.change) == 0 and again.records == first.records
    if strategy == Strategy.THEIRS:
        assert not again.conflicts


def law_change_applied_to_ours_yields_the_merged_records(base, ours, theirs, strategy):
    result = merge(base, ours, theirs, strategy)
    assert applied(ours, result) == result.records


def law_without_conflicts_the_sides_are_interchangeable(base, ours, theirs, strategy):
    forward = merge(base, ours, theirs, strategy)
    if not forward.conflicts:
        assert merge(base, theirs, ours, strategy).records == forward.records


def law_theirs_is_ours_seen_from_the_other_side(base, ours, theirs, strategy):
    assert merge(base, ours, theirs, "theirs").records == merge(base, theirs, ours, "ours").records


def law_counts_describe_the_change(base, ours, theirs, strategy):
    result = merge(base, ours, theirs, strategy)
    c, change = result.counts, result.change
    assert c.added == len(change.inserts) and c.updated == len(change.updates)
    assert c.deleted == len(change.deletes)
    kept_pending = sum(1 for x in result.conflicts if x.pending and x.ours is not None)
    assert len(ours) == c.unchanged + c.updated + c.deleted + kept_pending
    assert c.conflicts == len(result.conflicts)
    assert c.pending == (c.conflicts if strategy == "manual" else 0)


def law_no_undisputed_change_is_lost(base, ours, theirs, strategy):
    result = merge(base, ours, theirs, strategy)
    for k in base.keys() | ours.keys() | theirs.keys():
        b, o, t = base.get(k), ours.get(k), theirs.get(k)
        if b == o:
            assert result.records.get(k) == t
        elif b == t:
            assert result.records.get(k) == o


def law_conflict_ids_are_stable_and_distinct(base, ours, theirs, strategy):
    first = merge(base, ours, theirs, strategy).conflicts
    second = merge(dict(base), dict(ours), dict(theirs), strategy).conflicts
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)
    assert all(len(c.id) == 12 for c in first)


def law_conflicts_round_trip_through_json(base, ours, theirs, strategy):
    for c in merge(base, ours, theirs, strategy).conflicts:
        again = Conflict.from_dict(orjson.loads(orjson.dumps(c.to_dict())))
        assert again == c and isinstance(again.key, tuple)


def law_resolving_pending_conflicts_later_equals_a_strategy(base, ours, theirs, strategy):
    pending = merge(base, ours, theirs, "manual").conflicts
    decided = {c.id: c for c in merge(base, ours, theirs, strategy).conflicts}
    for c in pending:
        side = "ours" if strategy == "manual" else strategy
        assert c.resolve(side) == decided[c.id].resolve(side)


LAWS = [f for name, f in sorted(globals().items()) if name.startswith("law_")]


@pytest.mark.parametrize("law", LAWS, ids=lambda f: f.__name__[4:])
def test_each_law_on_a_hand_made_case(law):
    base = one(make())
    ours = {**one(make(status="A")), **one(make(ep_no="E7"))}
    theirs = {**one(make(status="L", shift="Night")), **one(make(ep_no="E8"))}
    for strategy in Strategy.ALL:
        law(base, ours, theirs, strategy)


@given(three_versions(), STRATEGIES)
def test_the_laws_of_the_three_way_merge(versions, strategy):
    for law in LAWS:
        law(*versions, strategy)


@given(st.data())
def test_edits_to_different_companies_never_conflict(data):
    names = data.draw(st.lists(COMPANY_NAMES, min_size=2, max_size=2, unique=True))
    base = keyed(data.draw(datasets(company=st.sampled_from(names))))

    def edited(company):
        """base with only ``company``'s records edited."""
        mine = [r for r in base.values() if r["company"] == company]
        changed = [r for r in data.draw(edits(mine)) if r["company"] == company]
        return {**{k: r for k, r in base.items() if k[1] != company}, **keyed(changed)}

    ours, theirs = edited(names[0]), edited(names[1])
    for company in names:
        def pick(m):
            return {k: r for k, r in m.items() if k[1] == company}  # noqa: B023 - called at once
        result = merge_company(company, pick(base), pick(ours), pick(theirs), "manual")
        assert not result.conflicts
        assert result.records == (pick(ours) if company == names[0] else pick(theirs))


# --- cells --------------------------------------------------------------------


def test_different_fields_of_one_record_merge_without_conflict():
    base = make()
    ours, theirs = make(status="A"), make(in_time="10:00", overstay="1")
    result = merge(one(base), one(ours), one(theirs))
    assert not result.conflicts
    assert result.records[rec.key(base)] == make(status="A", in_time="10:00", overstay="1")
    assert result.change.updates == [make(status="A", in_time="10:00", overstay="1")]


@given(records(), FIELD, FIELD, records(), records())
def test_one_sided_cells_always_merge(base, f1, f2, src1, src2):
    ours = rec.normalise({**base, f1: src1[f1]})
    theirs = rec.normalise({**base, f2: src2[f2]})
    result = merge(one(base), one(ours), one(theirs))
    if f1 != f2 or ours == theirs:
        assert not result.conflicts
        expected = {**base, f1: ours[f1], f2: theirs[f2]} if f1 != f2 else ours
        assert result.records[rec.key(base)] == expected


def test_same_field_to_different_values_conflicts():
    base, ours, theirs = make(), make(status="A", shift="Night"), make(status="L")
    result = merge(one(base), one(ours), one(theirs))
    [conflict] = result.conflicts
    assert conflict.fields == ("status",) and conflict.kind == "modify/modify"
    assert conflict.merged == make(status="A", shift="Night")
    assert conflict.pending and result.counts.pending == 1
    assert result.records[rec.key(base)] == ours and len(result.change) == 0


def test_same_field_to_the_same_value_is_fine():
    base, ours, theirs = make(), make(status="A", shift="Night"), make(status="A")
    result = merge(one(base), one(ours), one(theirs))
    assert not result.conflicts and result.records[rec.key(base)] == ours


@pytest.mark.parametrize(
    "strategy, expected",
    [("theirs", make(status="L", shift="Night")), ("ours", make(status="A", shift="Night")),
     ("manual", make(status="A", shift="Night", overstay="2"))],
)
def test_each_strategy_decides_a_cell_conflict(strategy, expected):
    base = make(overstay="2")
    ours, theirs = make(status="A", shift="Night", overstay="2"), make(status="L", overstay="0")
    result = merge(one(base), one(ours), one(theirs), strategy)
    [conflict] = result.conflicts
    assert conflict.fields == ("status",)
    if strategy == "manual":
        assert conflict.pending and result.records[rec.key(base)] == ours
        return
    expected = {**expected, "overstay": "0"}  # theirs' undisputed change is merged
    assert conflict.resolution == strategy
    assert result.records[rec.key(base)] == expected


@pytest.mark.parametrize("strategy", Strategy.ALL)
def test_delete_against_modify(strategy):
    base, theirs = make(), make(status="A")
    result = merge(one(base), {}, one(theirs), strategy)
    [conflict] = result.conflicts
    assert conflict.kind == "delete/modify" and conflict.fields == rec.VALUE_FIELDS
    assert conflict.merged is None
    expected = {"theirs": one(theirs), "ours": {}, "manual": {}}[strategy]
    assert result.records == expected


@pytest.mark.parametrize("strategy", Strategy.ALL)
def test_modify_against_delete(strategy):
    base, ours = make(), make(status="A")
    result = merge(one(base), one(ours), {}, strategy)
    [conflict] = result.conflicts
    assert conflict.kind == "modify/delete" and conflict.merged == ours
    expected = {"theirs": {}, "ours": one(ours), "manual": one(ours)}[strategy]
    assert result.records == expected
    assert result.change.deletes == ([rec.key(ours)] if strategy == "theirs" else [])


def test_both_deleted_is_no_conflict():
    result = merge(one(make()), {}, {})
    assert result.records == {} and not result.conflicts


def test_add_add_disputes_every_differing_field():
    ours, theirs = make(status="A", in_time=None), make(status="L", in_time="09:00")
    result = merge({}, one(ours), one(theirs))
    [conflict] = result.conflicts
    assert conflict.kind == "add/add" and conflict.fields == ("status", "in_time")


def test_add_add_identical_is_no_conflict():
    result = merge({}, one(make()), one(make()))
    assert not result.conflicts and result.records == one(make())


def test_merge_into_an_empty_company_asks_to_create_it():
    result = merge({}, {}, one(make()))
    assert result.change.create and result.change.inserts == [make()]
    assert not merge({}, one(make()), one(make(ep_no="E2"))).change.create


def test_sorted_records_are_in_file_order():
    a, b = make(date="2024-01-03"), make(date="2024-01-01", ep_no="E9")
    result = merge({}, one(a), one(b))
    assert result.sorted_records() == [b, a]


# --- conflicts ---------------------------------------------------------------------


def _conflict():
    base = make()
    ours, theirs = make(status="A", overstay="1"), make(status="L", shift="Night")
    result = merge(one(base), one(ours), one(theirs))
    return result.conflicts[0]


def test_resolve_by_side_matches_the_strategies():
    c = _conflict()
    assert c.resolve("ours") == make(status="A", overstay="1", shift="Night")
    assert c.resolve("backup_wins") == make(status="L", overstay="1", shift="Night")


def test_resolve_field_by_field_with_literals():
    c = _conflict()
    assert c.resolve({"status": "theirs", "in_time": "8:05"}) == make(
        status="L", overstay="1", shift="Night", in_time="08:05"
    )


def test_resolve_rejects_a_bad_literal_naming_the_field():
    with pytest.raises(ValidationError, match="'status'"):
        _conflict().resolve({"status": "Maybe"})


def test_resolve_rejects_unknown_fields_and_manual():
    with pytest.raises(UsageError, match="ep_no"):
        _conflict().resolve({"ep_no": "E9"})
    with pytest.raises(UsageError):
        _conflict().resolve("manual")


def test_resolve_a_delete_conflict():
    base, theirs = make(), make(status="A")
    [c] = merge(one(base), {}, one(theirs)).conflicts
    assert c.resolve("ours") is None and c.resolve("theirs") == theirs
    assert c.resolve({"shift": "Night"}) == make(status="A", shift="Night")
    with pytest.raises(UsageError, match="ours deleted"):
        c.resolve({"status": "ours"})


def test_from_dict_rejects_tampering():
    data = _conflict().to_dict()
    with pytest.raises(ValidationError, match="id does not match"):
        Conflict.from_dict({**data, "theirs": make(status="H")})
    with pytest.raises(ValidationError):
        Conflict.from_dict({**data, "kind": "both/new"})
    with pytest.raises(ValidationError):
        Conflict.from_dict([1, 2])


# --- import: the design document's Properties 5-10 --------------------------------


def imported(ours, theirs, strategy="backup_wins"):
    result = import_company("ABC Corp", ours, theirs, strategy)
    return result, applied(ours, result)


@given(ABC, st.data())
def test_property_5_identical_records_are_skipped(dataset, data):
    ours = keyed(dataset)
    theirs = {k: dict(r) for k, r in ours.items() if data.draw(st.booleans())}
    result, after = imported(ours, theirs)
    assert result.counts.skipped == len(theirs) and len(result.change) == 0
    assert after == ours


@given(ABC, ABC)
def test_property_6_new_keys_are_inserted(a, b):
    ours, theirs = keyed(a), keyed(b)
    result, after = imported(ours, theirs)
    for k in theirs.keys() - ours.keys():
        assert after[k] == theirs[k]
    assert result.counts.added == len(theirs.keys() - ours.keys())


@given(ABC, st.data())
def test_property_7_differing_records_are_updated_with_backup_wins(dataset, data):
    ours = keyed(dataset)
    theirs = keyed(data.draw(edits(dataset)))
    result, after = imported(ours, theirs, "backup_wins")
    for k, t in theirs.items():
        assert after[k] == t
    assert result.counts.updated == sum(1 for k in theirs if k in ours and ours[k] != theirs[k])
    assert not result.change.deletes  # an import never deletes


@given(ABC, ABC, STRATEGIES)
def test_property_8_summary_counts_add_up(a, b, strategy):
    ours, theirs = keyed(a), keyed(b)
    c = import_company("ABC Corp", ours, theirs, strategy).counts
    # pending conflicts count as skipped (the database keeps its record) and apart
    assert c.added + c.updated + c.skipped == len(theirs)
    assert c.skipped == c.unchanged + c.pending and (c.pending == 0 or strategy == "manual")
    assert c.deleted == 0


@given(ABC, ABC, STRATEGIES)
def test_property_9_same_key_is_the_same_record(a, b, strategy):
    ours, theirs = keyed(a), keyed(b)
    result, after = imported(ours, theirs, strategy)
    assert after.keys() == ours.keys() | theirs.keys()  # never a second row for a key
    assert result.counts.added == len(theirs.keys() - ours.keys())


@given(records(), records())
def test_property_10_checksums_differ_iff_content_differs(r1, r2):
    r2 = {**r2, "ep_no": r1["ep_no"], "company": r1["company"], "date": r1["date"]}
    assert (rec.checksum(r1) != rec.checksum(r2)) == (r1 != r2)
    c = import_company(r1["company"], one(r1), one(r2), "theirs").counts
    assert (c.updated == 1) == (rec.checksum(r1) != rec.checksum(r2))


def test_database_wins_keeps_ours_and_reports_the_conflict():
    ours, theirs = make(status="A"), make(status="L")
    result, after = imported(one(ours), one(theirs), "database_wins")
    assert after == one(ours) and result.counts.skipped == 1
    [conflict] = result.conflicts
    assert conflict.resolution == "ours" and conflict.fields == ("status",)


def test_manual_import_leaves_the_conflict_pending():
    ours, theirs = make(status="A"), make(status="L")
    result, after = imported(one(ours), one(theirs), "manual")
    assert after == one(ours) and result.counts.pending == 1 and result.counts.skipped == 1
    assert result.conflicts[0].pending
