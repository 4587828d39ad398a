"""Restore: check out an earlier snapshot, or import a backup file.

Both first commit the database's current state (so nothing is lost and
both can be undone with another checkout), build the target snapshot's
objects, then apply the plan in one transaction and move main.  Both can be
limited to some companies and a date range (selective restore).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from dataclasses import dataclass, field
from typing import Optional

from attgit.errors import DatabaseError, UsageError
from attgit.format import records as rec
from attgit.format.backup.common import ERROR_MESSAGES
from attgit.format.snapshot import Snapshot, SnapshotBuilder, encode_sorted
from attgit.merge.company import MergeCounts, import_company
from attgit.merge.plan import Plan, plan_between
from attgit.merge.strategy import parse_strategy
from attgit.merge.trees import MergeOutcome, as_mapping
from attgit.ops.apply import apply_and_move
from attgit.ops.commit import database_snapshot, snapshot_database, snapshot_trailers
from attgit.ops.companies import require_known
from attgit.ops.manual import start_manual
from attgit.ops.mergestate import refuse_while_merging
from attgit.repo.repository import Author, Repository
from attgit.words import plural
from attgit.workingcopy import Progress, WorkingCopy


@dataclass
class Selection:
    """Which records a restore may touch (everything by default)."""

    companies: Optional[set] = None
    date_from: Optional[str] = None
    date_to: Optional[str] = None

    def __post_init__(self):
        for value in (self.date_from, self.date_to):
            if value is not None:
                rec.normalise({"ep_no": "x", "company": "x", "status": "P", "date": value}, "date filter")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UsageError(f"--from {self.date_from} is after --to {self.date_to}")
        if self.companies is not None and not self.companies:
            self.companies = None

    @property
    def by_date(self) -> bool:
        return bool(self.date_from or self.date_to)

    def keep(self, record: dict) -> bool:
        date = record["date"]
        return (not self.date_from or date >= self.date_from) and (not self.date_to or date <= self.date_to)

    def wants(self, company: str) -> bool:
        return self.companies is None or company in self.companies


@dataclass
class RestoreResult:
    """What a checkout or an import did or (preview) would do."""

    status: str  # preview | applied | nothing | conflicts
    commit: Optional[str] = None
    pre_commit: Optional[str] = None
    counts: dict = field(default_factory=dict)
    conflicts: list = field(default_factory=list)
    companies: dict = field(default_factory=dict)
    #: the first SAMPLE_SIZE changes, for a preview: ("add", record),
    #: ("update", RecordChange with the fields that change) or, for a
    #: checkout, ("delete", record)
    samples: list = field(default_factory=list)
    #: things a person should know that do not stop the restore (sentences)
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**self.__dict__, "conflicts": [c.to_dict() for c in self.conflicts],
                "samples": [[kind, item.to_dict() if kind == "update" else item] for kind, item in self.samples]}


SAMPLE_SIZE = 200


def _sample(samples: list, mine: dict, change) -> None:
    """Keep the first SAMPLE_SIZE inserts and updates (with changed fields)."""
    from attgit.merge.diff import RecordChange, changed_fields

    for record in change.inserts:
        if len(samples) >= SAMPLE_SIZE:
            return
        samples.append(("add", record))
    for record in change.updates:
        if len(samples) >= SAMPLE_SIZE:
            return
        old = mine[rec.key(record)]
        samples.append(("update", RecordChange(rec.key(record), old, record, changed_fields(old, record))))


@contextlib.contextmanager
def _restoring():
    """A database error while a restore writes says so in the design
    document's words (``database_error``), then what the database said."""
    try:
        yield
    except DatabaseError as exc:
        prefix = ERROR_MESSAGES["database_error"]
        text = str(exc)
        if text.startswith(prefix):
            raise
        raise DatabaseError(f"{prefix}: {text}") from exc


# --- checkout -------------------------------------------------------------

def checkout(repo: Repository, db: WorkingCopy, author: Author, rev: str, *, preview: bool = False,
             selection: Selection = Selection(), progress: Optional[Progress] = None) -> RestoreResult:
    """Make the database equal to the snapshot ``rev`` (or part of it).

    The result is a new commit on main whose content is the old snapshot,
    so history only grows and the checkout itself can be undone.  A preview
    compares against the database as it is and writes nothing.
    """
    refuse_while_merging(repo, f"check out {rev}")
    target_oid = repo.resolve(rev)
    target = repo.snapshot(target_oid)
    require_known(selection.companies, set(target.companies()) | set(db.companies()), f"the database or {rev}")
    keep = selection.keep if selection.by_date else None
    samples: list = []
    if preview:  # objects go to a throwaway store
        with repo.scratch() as scratch:
            plan = plan_between(database_snapshot(repo, db, store=scratch), target, selection.companies, keep,
                                None, samples, SAMPLE_SIZE)
        plan.close()
        return RestoreResult("preview", counts=plan.counts.to_dict(), companies=plan.companies, samples=samples)
    pre = snapshot_database(repo, db, author, message=f"Snapshot before checkout of {rev}")
    head = repo.head()
    ours = repo.snapshot(head)
    builder = SnapshotBuilder(repo.git, ours)
    plan = plan_between(ours, target, selection.companies, keep, builder, samples, SAMPLE_SIZE)
    result = RestoreResult("preview", pre_commit=pre.commit, counts=plan.counts.to_dict(),
                           companies=plan.companies, samples=samples)
    tree = builder.write()
    if head is not None and str(tree) == ours.tree_id:
        result.status = "nothing"
        return result
    new = Snapshot(repo.git, repo.git[tree])
    trailers = snapshot_trailers("checkout", author, len(new.companies()), new.count_records())
    trailers["Checkout-Of"] = str(target_oid)
    commit = repo.write_commit(tree, [head] if head else [], _checkout_summary(target_oid, rev), trailers, author)
    with _restoring():
        apply_and_move(repo, db, head, commit, plan, f"attgit checkout {rev}", progress)
    result.status, result.commit = "applied", str(commit)
    return result


def _checkout_summary(target, rev: str) -> str:
    """"Checkout of 1a2b3c4d5e (HEAD~3)": the revision as typed only when it
    says more than the id (not "Checkout of 1a2b3c4d5e (1a2b3c4d5e)")."""
    short = str(target)[:10]
    if str(target).startswith(rev.lower()) or rev.lower().startswith(short):
        return f"Checkout of {short}"
    return f"Checkout of {short} ({rev})"


# --- import a backup file -------------------------------------------------------

def import_backup(repo: Repository, db: WorkingCopy, author: Author, backup, name: str, *,
                  strategy: str = "theirs", preview: bool = False, selection: Selection = Selection(),
                  progress: Optional[Progress] = None, comparing: Optional[Progress] = None) -> RestoreResult:
    """Two-way merge of a validated backup file into the database.

    absent -> add, identical -> skip, different -> strategy; never deletes.
    A preview compares against the database as it is and writes nothing.
    ``comparing`` hears (records of the file compared, records in the file)
    company by company; ``progress``, the records written.
    """
    strategy = parse_strategy(strategy)
    refuse_while_merging(repo, f"import {name}")
    require_known(selection.companies, backup.companies(), f"the backup file {name}")
    samples: list = []
    if preview:  # objects go to a throwaway store
        with repo.scratch() as scratch:
            ours = database_snapshot(repo, db, store=scratch)
            outcome, in_file = _merge_backup(scratch, ours, backup, strategy, selection, samples, comparing)
        outcome.plan.close()
        return _import_result(db, backup, outcome, in_file, samples, None)
    pre = snapshot_database(repo, db, author, message=f"Snapshot before import of {name}")
    head = repo.head()
    ours = repo.snapshot(head)
    outcome, in_file = _merge_backup(repo, ours, backup, strategy, selection, samples, comparing)
    result = _import_result(db, backup, outcome, in_file, samples, pre.commit)
    # The warnings travel in the result: each caller shows them once (the
    # CLI on stderr, the pages, the audit log); logging them here as well
    # printed each one twice in a terminal.
    if outcome.pending:
        return start_manual(repo, db, author, head, None, None, name, outcome, result, kind="import")
    if head is not None and str(outcome.tree) == ours.tree_id:
        result.status = "nothing"
        return result
    trailers = snapshot_trailers("import", author, outcome.companies, outcome.records)
    trailers["Strategy"] = strategy
    trailers["Source"] = name.replace("\n", " ")[:200]
    summary = f"Import {name}: +{outcome.plan.counts.inserts:,} ~{outcome.plan.counts.updates:,}, " \
              f"{outcome.counts.skipped:,} skipped"
    commit = repo.write_commit(outcome.tree, [head] if head else [], summary, trailers, author)
    with _restoring():
        apply_and_move(repo, db, head, commit, outcome.plan, f"attgit import {name}", progress)
    result.status, result.commit = "applied", str(commit)
    return result


def _import_result(db: WorkingCopy, backup, outcome: MergeOutcome, in_file: int, samples: list,
                   pre_commit: Optional[str]) -> RestoreResult:
    return RestoreResult("preview", pre_commit=pre_commit, counts=import_counts(outcome, in_file),
                         conflicts=outcome.conflicts, companies=outcome.plan.companies, samples=samples,
                         warnings=import_warnings(db, backup, outcome.plan))


def import_counts(outcome, records_in_file: int) -> dict:
    """An import's counts, one name per value, in the design document's
    words: added + updated + skipped = records_in_file, where skipped holds
    the unchanged records and the conflicts left pending (``pending`` says
    how many of those, apart).  An import never deletes, so the database's
    inserts and updates are added and updated."""
    c = outcome.counts
    return {"added": c.added, "updated": c.updated, "skipped": c.skipped, "conflicts": c.conflicts,
            "pending": c.pending, "records_in_file": records_in_file,
            "companies_created": outcome.plan.counts.companies_created}


def _merge_backup(repo: Repository, ours: Snapshot, backup, strategy: str, selection: Selection,
                  samples: list, comparing: Optional[Progress] = None):
    builder = SnapshotBuilder(repo.git, ours)
    plan, conflicts, counts, in_file = Plan(), [], MergeCounts(), 0
    ours_names = set(ours.companies())
    total, seen = getattr(backup, "total_records", 0) or 0, 0
    for company in backup.companies():
        if comparing is not None and total:
            comparing(seen, total)
        if not selection.wants(company):
            continue
        theirs = backup.records(company)
        seen += len(theirs)
        if selection.by_date:
            theirs = {k: r for k, r in theirs.items() if selection.keep(r)}
        in_file += len(theirs)
        mine = ours.records(company) if company in ours_names else {}
        result = import_company(company, mine, theirs, strategy)
        counts.add(result.counts)
        conflicts.extend(result.conflicts)
        change = result.change
        change.create = company not in ours_names
        if change.create:
            change.created_at = backup.declared_companies.get(company)
        _sample(samples, mine, change)
        plan.add(change)
        if len(change) or change.create:
            builder.put_blob(company, encode_sorted(company, as_mapping(result.records))[0])
    if comparing is not None and total:
        comparing(total, total)
    tree = builder.write()
    merged = Snapshot(repo.git, repo.git[tree])
    outcome = MergeOutcome(tree, plan, conflicts, counts, merged.count_records(), len(merged.companies()))
    return outcome, in_file


# --- warnings -------------------------------------------------------------------

def import_warnings(db: WorkingCopy, backup, plan: Plan) -> list:
    """What the design document asks to warn about on a restore: records
    whose company the file does not list (from the reader), companies the
    restore creates, and an incremental file applied onto a database whose
    latest change is older than the file's ``since``."""
    warnings = company_warnings(backup, plan.created)
    stale = _older_than_since(db, backup.metadata)
    if stale:
        warnings.append(stale)
    return warnings


def company_warnings(backup, created, will: str = "will") -> list:
    """The file's warnings, with what it says about companies made true
    against the database: records whose company is in neither the file's
    list nor the database "reference non-existent companies"; those the
    database has are not warned about; companies the file lists but the
    database lacks "will be created".  One warning per company, once."""
    mismatch = ERROR_MESSAGES["company_mismatch"]
    warnings = [str(w) for w in backup.warnings if not str(w).startswith(mismatch)]
    created = sorted(created)
    unlisted = [c for c in created if c not in backup.declared_companies]
    if unlisted:
        warnings.append(f"{mismatch}: {_named(unlisted, backup)} {'is' if len(unlisted) == 1 else 'are'} in "
                        f"neither the file's company list nor the database and {will} be created")
    listed = [c for c in created if c not in unlisted]
    if listed:
        warnings.append(f"{plural(len(listed), 'company')} not in the database {will} be created automatically: "
                        f"{_named(listed, backup)}")
    return warnings


def _named(companies: list, backup, shown: int = 10) -> str:
    """The first companies by name with their records in the file."""
    names = ", ".join(f"{c!r} ({plural(backup.record_count(c), 'record')})" for c in companies[:shown])
    return names + (f" and {len(companies) - shown:,} more" if len(companies) > shown else "")


def _older_than_since(db: WorkingCopy, metadata: dict) -> Optional[str]:
    if metadata.get("backup_type") != "incremental" or not metadata.get("since"):
        return None
    since = _aware(metadata["since"])
    latest = _latest_change(db)
    if since is None or latest is False:
        return None
    if latest is not None and latest >= since:
        return None
    held = f"its latest change is at {latest.isoformat()}" if latest else "it holds no records"
    return (f"this incremental backup holds the changes since {metadata['since']}, but the database is older "
            f"({held}): changes made between the two are in neither; restore a full backup first")


def _latest_change(db: WorkingCopy):
    """The database's latest update time, None when it has no records, False
    when the working copy keeps no timestamps (it has no ``latest_change``)."""
    latest = getattr(db, "latest_change", None)
    if latest is None:
        return False
    moment = latest()
    return None if moment is None else _aware(moment.isoformat() if hasattr(moment, "isoformat") else moment)


def _aware(text) -> Optional[_dt.datetime]:
    try:
        moment = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)
