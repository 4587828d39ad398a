"""Verify a repository: every commit, tree and blob readable, every record's
checksum right, every commit's counts equal to its content.

Damage is data here, not an exception: every damaged object is listed once
with its id, the commit that led to it and its path, and verify goes on
with everything else.  Blobs shared by many commits are verified once (by
id)."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Optional

from attgit.errors import AttgitError, CorruptObject
from attgit.format import layout
from attgit.format.objects import strict_reads
from attgit.repo.repository import Repository
from attgit.words import plural


@dataclass
class VerifyResult:
    commits: int = 0
    blobs: int = 0
    records: int = 0
    problems: list = field(default_factory=list)
    #: damaged objects: {"object", "kind", "commit", "path", "detail"}
    damaged: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add_damage(self, damage: CorruptObject) -> None:
        if any(d["object"] == damage.oid for d in self.damaged):
            return
        self.damaged.append({"object": damage.oid, "kind": damage.kind, "commit": damage.commit,
                             "path": damage.path, "detail": damage.detail})
        self.problems.append(damage.describe())

    def to_dict(self) -> dict:
        return {**self.__dict__, "ok": self.ok}


def verify(repo: Repository, progress: Optional[Callable[[str], None]] = None) -> VerifyResult:
    """Read every commit, tree and blob, libgit2 hashing each against its id
    (which everyday reads of packed content skip: see format.objects)."""
    with strict_reads():
        return _verify(repo, progress)


def _verify(repo: Repository, progress: Optional[Callable[[str], None]]) -> VerifyResult:
    result = VerifyResult()
    counted = _count_in_parallel(repo)
    seen: dict = {}  # blob id -> record count
    read: set = set()  # ids of the commits and trees read whole, and of the small blobs
    places: dict = {}  # object id -> (the first commit that uses it, its path there)
    for oid, damage in repo.commit_ids():
        result.commits += 1
        read.add(oid)
        places.setdefault(str(oid), (str(oid), None))
        if progress:
            progress(str(oid)[:10])
        if damage is not None:
            result.add_damage(damage)
            continue
        try:
            _verify_commit(repo, repo.info(oid), seen, result, read, places, counted)
        except CorruptObject as exc:
            result.add_damage(exc.at(oid))
        except AttgitError as exc:
            result.problems.append(f"commit {str(oid)[:10]}: {exc}")
    result.blobs = len(seen)
    result.records = sum(n for n in seen.values() if n is not None)
    _verify_unused(repo, result, read | set(seen), places)
    return result


def _verify_unused(repo: Repository, result: VerifyResult, read: set, places: dict) -> None:
    """Then every object of the repository, read or not, as C git's fsck
    would: objects no commit of main uses (an interrupted write, a fetched
    remote's history) and packed bytes that no longer match their CRC."""
    from attgit.repo.repair import damaged_indexes, find_damaged, readable

    result.problems.extend(damaged_indexes(repo))
    for oid in find_damaged(repo, frozenset(str(oid) for oid in read)):
        commit, path = places.get(oid, (None, None))
        detail = "its packed bytes do not match the CRC its pack index keeps (C git's fsck refuses it)" \
            if readable(repo.git, oid) else "cannot be read"
        result.add_damage(CorruptObject(oid, detail if commit else f"{detail} (no commit of main uses it)",
                                        commit, path))


def _verify_commit(repo: Repository, info, seen: dict, result: VerifyResult, read: set, places: dict,
                   counted: dict) -> None:
    snap = repo.snapshot(info.id)
    assert snap.tree is not None  # every commit has a tree
    companies = snap.companies()
    read.update(entry.id for entry in snap.tree)  # attgit.json, companies.jsonl and records/ were read
    read.add(snap.tree.id)
    places.setdefault(str(snap.tree.id), (info.id, "/"))
    for entry in snap.tree:
        places.setdefault(str(entry.id), (info.id, entry.name + ("/" if entry.type_str == "tree" else "")))
    for company in companies:
        places.setdefault(str(snap.blob_id(company)), (info.id, layout.company_path(company)))
    total = 0
    for company in companies:
        oid = snap.blob_id(company)
        if oid is None:
            raise AttgitError(f"company {company!r} has no file {layout.company_path(company)}")
        if oid not in seen:
            seen[oid] = counted.get(str(oid)) or _count(snap, company, result)
        total += seen[oid] or 0
    listed = {layout.company_path(c) for c in companies}
    strays = [p for p in snap.file_paths() if p not in listed]
    if strays:
        result.problems.append(f"commit {info.short}: files of no listed company: {strays[:3]}")
    _check_count(info, "Companies", len(companies), result)
    if all(seen[snap.blob_id(c)] is not None for c in companies):
        _check_count(info, "Records", total, result)


#: Company files below this many bytes in all are checked in this process:
#: starting workers costs more than it saves.
PARALLEL_BYTES = 8 << 20


def _count_in_parallel(repo: Repository) -> dict:
    """{blob id: verified record count} of main's company files, checked on
    every core (parsing and hashing every line is nearly all of verify's
    time).  Only what is found sound is returned: a file a worker could not
    read or found invalid is checked again in the main walk, which names the
    damage with its commit and path as it always did."""
    jobs = _company_files(repo)
    workers = min(os.cpu_count() or 1, len(jobs))
    if workers < 2 or sum(size for _, _, size in jobs) < PARALLEL_BYTES:
        return {}
    jobs.sort(key=lambda job: -job[2])  # the largest first, so the cores finish together
    with ProcessPoolExecutor(workers) as pool:
        counts = pool.map(_count_blob, [str(repo.path)] * len(jobs), [o for o, _, _ in jobs],
                          [c for _, c, _ in jobs])
        return {oid: n for (oid, _, _), n in zip(jobs, counts) if n is not None}


def _company_files(repo: Repository) -> list:
    """[(blob id, company, size)] of every distinct company file in main's
    history, as far as commits and trees can be read (the main walk reports
    what cannot)."""
    files: dict = {}
    for oid, damage in repo.commit_ids():
        if damage is not None:
            continue
        try:
            snap = repo.snapshot(oid)
            for company in snap.companies():
                blob = snap.blob_id(company)
                if blob is not None and str(blob) not in files:
                    files[str(blob)] = (company, repo.git.odb.read_header(blob)[1])
        except (AttgitError, KeyError, ValueError):
            continue
    return [(oid, company, size) for oid, (company, size) in files.items()]


def _count_blob(path: str, oid: str, company: str) -> Optional[int]:
    """In a worker: the company file's verified record count, None when it
    is damaged or invalid in any way."""
    from attgit.format import objects
    from attgit.format.snapshot import decode_company

    try:
        with strict_reads():
            repo = Repository.open(path)
            data = objects.read(repo.git, oid, "blob")
            return len(decode_company(company, data, layout.company_path(company)))
    except Exception:  # noqa: BLE001 - the main walk names whatever is wrong
        return None


def _count(snap, company: str, result: VerifyResult) -> Optional[int]:
    """The company file's verified record count (None when damaged)."""
    try:
        return len(snap.records(company))
    except CorruptObject as exc:
        result.add_damage(exc)
    except AttgitError as exc:
        result.problems.append(f"commit {str(snap.commit)[:10]}: {exc}")
    return None


def _check_count(info, name: str, actual: int, result: VerifyResult) -> None:
    stated = info.count(name)
    if stated is not None and stated != actual:
        result.problems.append(f"commit {info.short}: metadata says {stated} {name.lower()}, content has {actual}")


# --- the database against main: the change log's safety net -----------------

@dataclass
class DatabaseCheck:
    """A full compare of the database with main against what the change log
    says (``attgit verify --database``).

    ``missed``: companies whose differences from main the log did not name
    (edits made while a trigger was dropped, log entries deleted by hand),
    with the full compare's counts.  ``pending``: differences the log names
    (ordinary uncommitted edits).  ``doubt``: why attgit already distrusted
    the log (it then compares every row, so nothing is missed)."""

    head: Optional[str]
    missed: list = field(default_factory=list)
    pending: int = 0
    doubt: str = ""
    capture_missing: bool = False
    repaired: Optional[str] = None

    @property
    def ok(self) -> bool:
        return not self.missed

    def describe(self) -> str:
        return "; ".join(f"{m['company']}: {m['added']} added, {m['changed']} changed, {m['removed']} deleted"
                         for m in self.missed)

    def to_dict(self) -> dict:
        return {**self.__dict__, "ok": self.ok}


def verify_database(repo: Repository, db) -> DatabaseCheck:
    """Compare every row of ``db`` with main and with what the change log
    names.  A difference only the full compare sees is one the log missed.
    An edit landing between the two reads looks like one: a difference is
    reported only when a second pass sees it too."""
    from attgit.ops.compare import diff_database

    for _attempt in range(2):
        changes = db.changes()
        check = DatabaseCheck(str(repo.head()) if repo.head() else None, capture_missing=changes is None,
                              doubt=changes.doubt if changes is not None else "")
        logged = {d.company: d.to_dict() for d in diff_database(repo, db)}
        check.pending = sum(len(d["added"]) + len(d["removed"]) + len(d["changed"]) for d in logged.values())
        for diff in diff_database(repo, db, full=True):
            unseen = _unseen(diff.to_dict(), logged.get(diff.company, {}))
            if any(unseen.values()):
                check.missed.append({"company": diff.company, **unseen})
        if check.ok:
            break
    return check


def _unseen(full: dict, logged: dict) -> dict:
    """{added, changed, removed}: how many of the full compare's differences
    (a CompanyDiff's dict) the log-based one lacks."""
    import orjson

    def seen(items) -> set:
        return {orjson.dumps(item, option=orjson.OPT_SORT_KEYS) for item in items}

    return {kind: len(seen(full[kind]) - seen(logged.get(kind, []))) for kind in ("added", "changed", "removed")}


def repair_database(repo: Repository, db, author, check: DatabaseCheck) -> DatabaseCheck:
    """Commit the database read whole (type ``repair``): what the log missed
    enters history, with the pending logged edits; the caller holds the locks."""
    from attgit.ops.commit import snapshot_database

    message = f"Repair: edits the change log missed in {plural(len(check.missed), 'company')}"
    result = snapshot_database(repo, db, author, message=message, full=True, kind="repair")
    check.repaired = result.commit
    return check
