"""Keyed diff of one company: exact, sorted, and applicable."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from attgit.format import records as rec
from attgit.merge.diff import diff_company
from attgit.workingcopy import MemoryWorkingCopy

from .strategies import datasets, edits, keyed, records


def _base(**changes):
    raw = {
        "ep_no": "E001", "ep_name": "Ann", "company": "ABC Corp", "date": "2024-01-02",
        "shift": "Day", "status": "P", "in_time": "09:00", "out_time": "17:00", "overstay": "0",
    }
    return rec.normalise({**raw, **changes})


def test_identical_contents_have_an_empty_diff():
    r = _base()
    diff = diff_company("ABC Corp", {rec.key(r): r}, {rec.key(r): dict(r)})
    assert not diff
    assert diff.counts == {"added": 0, "removed": 0, "changed": 0}
    assert len(diff.to_change()) == 0


def test_changed_lists_exactly_the_differing_fields():
    old, new = _base(), _base(status="A", in_time=None)
    diff = diff_company("ABC Corp", {rec.key(old): old}, {rec.key(new): new})
    assert [c.fields for c in diff.changed] == [("status", "in_time")]
    assert diff.changed[0].old == old and diff.changed[0].new == new


def test_added_removed_and_order():
    a, b = _base(date="2024-01-03"), _base(ep_no="E000", date="2024-01-03")
    c = _base(date="2024-01-01")
    diff = diff_company("ABC Corp", {rec.key(c): c}, {rec.key(a): a, rec.key(b): b})
    assert diff.added == [b, a]  # by date, then ep_no
    assert diff.removed == [c]
    change = diff.to_change(create=True)
    assert change.inserts == [b, a] and change.deletes == [rec.key(c)] and change.create


@given(datasets(), records())
def test_diff_is_exact_and_applies(dataset, extra):
    old = keyed(dataset)
    new = dict(old)
    new.setdefault(rec.key(extra), extra)
    for k in list(new)[::3]:
        del new[k]
    for k in list(new)[1::4]:
        new[k] = rec.normalise({**new[k], "status": "WO" if new[k]["status"] != "WO" else "H"})
    diff = diff_company("any", old, new)
    assert {rec.key(r) for r in diff.added} == new.keys() - old.keys()
    assert {rec.key(r) for r in diff.removed} == old.keys() - new.keys()
    assert {c.key for c in diff.changed} == {k for k in old.keys() & new.keys() if old[k] != new[k]}
    for c in diff.changed:
        assert c.fields and all(c.old[f] != c.new[f] for f in c.fields)
        assert all(c.old[f] == c.new[f] for f in rec.FIELDS if f not in c.fields)


@given(datasets(), st.data())
def test_applying_the_change_reaches_the_new_content(dataset, data):
    new_dataset = data.draw(edits(dataset))
    old, new = keyed(dataset), keyed(new_dataset)
    wc = MemoryWorkingCopy.from_records(dataset)
    changes = []
    for company in {k[1] for k in old.keys() | new.keys()}:
        o = {k: r for k, r in old.items() if k[1] == company}
        n = {k: r for k, r in new.items() if k[1] == company}
        changes.append(diff_company(company, o, n).to_change())
    wc.apply(changes, commit=None)
    assert sorted(wc.all_records(), key=rec.key) == sorted(new.values(), key=rec.key)


@given(datasets(), datasets())
def test_to_dict_is_json_and_sorted(a, b):
    diff = diff_company("any", keyed(a), keyed(b))
    data = orjson.loads(orjson.dumps(diff.to_dict()))
    assert data["counts"] == diff.counts
    assert all(isinstance(c["key"], list) for c in data["changed"])
    dates = [(r["date"], r["ep_no"]) for r in diff.added]
    assert dates == sorted(dates)
