"""Hypothesis strategies for attendance data, in one place."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from attgit.format import records as rec

# Small alphabets make collisions (same key, same company) likely, which is
# where merges get interesting.
EP_NOS = st.sampled_from([f"E{n:03d}" for n in range(12)])
COMPANY_NAMES = st.sampled_from(
    ["ABC Corp", "abc corp", "Zeta/Works", "..", "Ünïcode Ltd", "x" * 255, "A B  C", "日本株式会社"]
)
ANY_COMPANY_NAME = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=255
).filter(lambda s: s.strip() == s and s != "")
DATES = st.dates(dt.date(2024, 1, 1), dt.date(2024, 3, 31)).map(dt.date.isoformat)
TIMES = st.one_of(st.none(), st.times().map(lambda t: t.replace(microsecond=0).strftime("%H:%M")))
NAMES = st.text(alphabet="abcdefghij XYZéü", max_size=20).map(str.strip)
SHIFTS = st.sampled_from(["Day", "Night", "General", ""])
STATUSES = st.sampled_from(sorted(rec.STATUSES))
OVERSTAYS = st.sampled_from(["0", "0.5", "1", "2", ""])


@st.composite
def records(draw, company=COMPANY_NAMES, ep_no=EP_NOS, date=DATES):
    """One canonical record."""
    return rec.normalise(
        {
            "ep_no": draw(ep_no),
            "ep_name": draw(NAMES),
            "company": draw(company),
            "date": draw(date),
            "shift": draw(SHIFTS),
            "status": draw(STATUSES),
            "in_time": draw(TIMES),
            "out_time": draw(TIMES),
            "overstay": draw(OVERSTAYS),
        }
    )


def datasets(min_size=0, max_size=30, company=COMPANY_NAMES):
    """A list of records with unique keys (a valid database content)."""
    return st.lists(records(company=company), min_size=min_size, max_size=max_size, unique_by=rec.key)


@st.composite
def edits(draw, dataset):
    """A new dataset derived from ``dataset`` by random adds, changes, deletes."""
    out = {rec.key(r): dict(r) for r in dataset}
    for k in list(out):
        action = draw(st.sampled_from(["keep", "keep", "change", "delete"]))
        if action == "delete":
            del out[k]
        elif action == "change":
            field = draw(st.sampled_from(rec.VALUE_FIELDS))
            fresh = draw(records())
            out[k] = rec.normalise({**out[k], field: fresh[field]})
    for r in draw(st.lists(records(), max_size=5)):
        out.setdefault(rec.key(r), r)
    return list(out.values())


# --- merge and backup files (appended) ---------------------------------------

ONE_COMPANY = st.just("ABC Corp")
FEW_DATES = st.sampled_from(["2024-01-01", "2024-01-02", "2024-01-03"])


def keyed(items):
    """key -> record, the first record of a key winning."""
    out = {}
    for r in items:
        out.setdefault(rec.key(r), r)
    return out


@st.composite
def three_versions(draw, company=ONE_COMPANY, max_size=12):
    """(base, ours, theirs) as key -> record mappings: two independent edits
    of a common base, plus additions in the same company on each side (so
    add/add collisions happen)."""
    few = st.lists(records(company=company, date=FEW_DATES), max_size=max_size, unique_by=rec.key)
    base = draw(few)
    ours = draw(edits(base)) + draw(few.map(lambda rs: rs[:4]))
    theirs = draw(edits(base)) + draw(few.map(lambda rs: rs[:4]))
    return keyed(base), keyed(ours), keyed(theirs)


#: JSON values of every kind, for putting the wrong thing in the right place.
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    # the 64-bit range both JSON parsers accept (ijson's yajl refuses -2**63)
    st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
JSON_VALUES = st.one_of(
    JSON_SCALARS,
    st.lists(JSON_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=3),
    st.lists(st.lists(JSON_SCALARS, max_size=2), max_size=2),
)
