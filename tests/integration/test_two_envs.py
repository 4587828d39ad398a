"""Two environments end to end on the example site's databases: a and b,
each with its own database and repository, sharing a bare hub, driven by
the real ``attgit`` command.

Both sides edit: different records, different fields of one record
(merged, no conflict), the same field (a conflict), a delete against an
edit each way (conflicts), a new company on one side, a new record on the
other.  b pushes, a pulls with each strategy (theirs, ours, manual and then
resolve), a pushes, b pulls: both databases end identical (one tree id)
and hold what the strategy says.
"""

from __future__ import annotations

import pytest

from attgit.errors import ExitCode

from ..helpers import fsck
from .envs import Pair

NEW_COMPANY = "Zenith Exports"


def keys(pair: Pair) -> dict:
    """Named records of the seeded data: r1..r7 (see the module docstring)."""
    snapshot = pair.a.snapshot()
    c0, c1, c2 = (sorted(snapshot.records(c)) for c in snapshot.companies())
    return {"r1": c0[0], "r2": c0[1], "r3": c0[2], "r4": c1[0], "r5": c1[1], "r6": c1[2], "r7": c2[0],
            "new": ("NEW01", c2[0][1], c2[0][2])}


def _where(key) -> dict:
    return {"ep_no": key[0], "company": key[1], "date": key[2]}


def set_(key, **fields) -> dict:
    return {"op": "set", **_where(key), "fields": fields}


def delete(key) -> dict:
    return {"op": "delete", **_where(key)}


def add(key, **fields) -> dict:
    record = {**_where(key), "ep_name": "New Person", "shift": "Day", "status": "P", "in_time": "09:00",
              "out_time": "17:00", "overstay": "0", **fields}
    return {"op": "add", "record": record}


def edit_both_sides(pair: Pair, k: dict) -> None:
    pair.b.edit(set_(k["r2"], status="A"),
                set_(k["r3"], out_time="20:10"),
                set_(k["r4"], status="HD"),
                set_(k["r5"], shift="Night"),
                delete(k["r6"]),
                delete(k["r7"]),
                add(("Z001", NEW_COMPANY, "2024-01-01")),
                add(("Z002", NEW_COMPANY, "2024-01-01"), status="L", in_time=None, out_time=None))
    pair.b.attgit("commit", "-m", "b's edits")
    pair.b.attgit("push", "hub")
    pair.a.edit(set_(k["r1"], status="L"),
                set_(k["r3"], in_time="08:05"),
                set_(k["r4"], status="L"),
                delete(k["r5"]),
                set_(k["r6"], overstay="3"),
                add(k["new"]))


def expected_outcome(strategy: str) -> dict:
    """key name -> expected fields (None: the record is gone) after a pulls."""
    common = {"r1": {"status": "L"}, "r2": {"status": "A"}, "r3": {"in_time": "08:05", "out_time": "20:10"},
              "r7": None, "new": {"ep_name": "New Person"}}
    by_strategy = {
        "theirs": {"r4": {"status": "HD"}, "r5": {"shift": "Night"}, "r6": None},
        "ours": {"r4": {"status": "L"}, "r5": None, "r6": {"overstay": "3"}},
        "manual": {"r4": {"status": "OD"}, "r5": {"shift": "Night"}, "r6": {"overstay": "3"}},
    }
    return {**common, **by_strategy[strategy]}


def resolve_by_hand(pair: Pair, k: dict) -> None:
    """r4: a value of our own for the field; r5: theirs; r6: ours."""
    listed = pair.a.attgit("conflicts", "--json").json()
    by_key = {tuple(c["key"]): c for c in listed}
    assert set(by_key) == {k["r4"], k["r5"], k["r6"]} and not any(c["resolved"] for c in listed)
    assert pair.a.attgit("status", "--json").json()["merge_in_progress"] is True
    assert "2 conflicts left" in pair.a.attgit("resolve", by_key[k["r4"]]["id"], "--field", "status=OD").out
    assert "1 conflict left" in pair.a.attgit("resolve", by_key[k["r5"]]["id"], "--theirs").out
    assert "concluded" in pair.a.attgit("resolve", by_key[k["r6"]]["id"][:12], "--ours").out


@pytest.mark.parametrize("strategy", ["theirs", "ours", "manual"])
def test_edits_on_both_sides_end_identical(pair, strategy):
    k = keys(pair)
    edit_both_sides(pair, k)
    code = ExitCode.CONFLICTS if strategy == "manual" else 0
    pulled = pair.a.attgit("pull", "hub", "--strategy", strategy, "--json", code=code)
    report = pulled.json()
    assert report["status"] == ("conflicts" if strategy == "manual" else "merged")
    conflicts = {tuple(c["key"]): c for c in report["conflicts"]}
    assert set(conflicts) == {k["r4"], k["r5"], k["r6"]}, "exactly the same-field and delete/edit clashes conflict"
    assert [conflicts[k[n]]["kind"] for n in ("r4", "r5", "r6")] == ["modify/modify", "delete/modify",
                                                                    "modify/delete"]
    assert conflicts[k["r4"]]["fields"] == ["status"]
    if strategy == "manual":
        resolve_by_hand(pair, k)
    pair.a.attgit("push", "hub")
    assert pair.b.attgit("pull", "hub", "--json").json()["status"] == "fast-forward"

    tree = pair.a.assert_in_sync()
    assert pair.b.assert_in_sync() == tree, "the two databases differ"
    assert pair.a.attgit("pull", "hub", "--json").json()["status"] == "up-to-date"
    records = pair.a.records()
    for name, fields in expected_outcome(strategy).items():
        if fields is None:
            assert k[name] not in records, name
        else:
            assert {f: records[k[name]][f] for f in fields} == fields, name
    assert {key for key in records if key[1] == NEW_COMPANY} == {("Z001", NEW_COMPANY, "2024-01-01"),
                                                                ("Z002", NEW_COMPANY, "2024-01-01")}
    for path in (pair.hub, pair.a.repo_path, pair.b.repo_path):
        fsck(path)
