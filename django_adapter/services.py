"""The design document's Python API: BackupService, RestoreService and
ConflictResolver, as thin facades over attgit.

Code written against the design document works unchanged; each method
calls the one attgit function that does the job (the same the commands and
the web pages call) and returns the document's dictionaries:

>>> from django_adapter.services import BackupService, RestoreService
>>> made = BackupService(user=root).create_backup("full")
>>> RestoreService().validate_backup(made["file_path"])["valid"]
True
>>> RestoreService(user=root).restore_backup(made["file_path"], merge_strategy="database_wins")
{'success': True, 'added': 0, 'updated': 0, 'skipped': 1500, 'errors': [], ...}

There is no second implementation here: the file is written by
:func:`attgit.ops.export.export_backup`, read and validated by
:func:`attgit.format.backup.read_backup`, merged by
:func:`attgit.ops.restore.import_backup` (which commits the database's state
first, so a restore can be undone), and a pair of records is merged by
:func:`attgit.merge.company.import_company`.  Library errors become
``success: False`` with the message in ``errors``; nothing raises for bad
input.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Callable, Optional, Union

from attgit.errors import AttgitError, DatabaseError
from attgit.format import records as rec
from attgit.format.backup import ERROR_MESSAGES, read_backup
from attgit.format.backup.writer import file_record
from attgit.format.backup.writer import metadata as file_metadata
from attgit.merge.company import import_company
from attgit.merge.strategy import Strategy, parse_strategy

from . import backups, storage
from .audit import log_operation

#: The design document's strategy names, and attgit's own accepted too.
STRATEGIES = ("backup_wins", "database_wins", "manual")

Since = Union[str, dt.date, dt.datetime, None]


class BackupService:
    """Create backup files of the database (the design document's format)."""

    def __init__(self, user=None, using: str = "default", encrypt_to: Optional[str] = None,
                 passphrase: Optional[str] = None):
        #: the acting user (logged, named in the file's ``created_by``)
        self.user = user
        self.using = using
        #: a GnuPG recipient: every file this service writes is encrypted for it
        self.encrypt_to = encrypt_to
        #: else a passphrase: every file is encrypted with it (OpenPGP's symmetric mode; never logged)
        self.passphrase = passphrase

    def create_backup(self, backup_type: str = "full", since: Since = None, *, since_date: Since = None,
                      output: Union[str, os.PathLike, None] = None, force: bool = False) -> dict:
        """Write a full or incremental backup file.

        ``since`` (or the document's ``since_date``): for an incremental
        backup, the records updated at or after it; a date is its midnight
        in the site's TIME_ZONE (:data:`attgit.ops.export.SINCE_RULE`).
        ``output`` defaults to a new file in the backup storage
        (ATTGIT_BACKUP_DIR, or STORAGES["attgit_backups"]: then
        "storage_name" names it there, and "file_path" is None when the
        storage is not this server's folder), named by the time to the
        microsecond and a random part, created with O_EXCL: no two backups
        ever share a file.  An ``output`` that exists is refused unless
        ``force``; one in a missing folder is "not found"; one ending in
        ``.gz`` is gzipped.

        Returns {"success", "file_path", "record_count", "metadata"} (and
        "error" when success is False).
        """
        moment = since if since is not None else since_date
        try:
            when = backups.parse_since(moment) if moment is not None else None
            path, summary = backups.make_backup(output, backup_type, when, self.user, self.using,
                                                encrypt_to=self.encrypt_to, force=force,
                                                passphrase=self.passphrase)
            stored = None if output else storage.store(path)
        except (AttgitError, OSError) as exc:
            return {"success": False, "file_path": None, "record_count": 0, "metadata": None,
                    "error": str(exc)}
        kept = str(path) if stored is None or storage.is_local(storage.backup_storage()) else None
        return {"success": True, "file_path": kept, "record_count": summary.records,
                "metadata": summary.metadata, **({"storage_name": stored} if stored else {})}

    def create_incremental_backup(self, since: Since, **options) -> dict:
        """An incremental backup of the records updated since ``since``."""
        return self.create_backup("incremental", since, **options)

    def validate_backup(self, file_path) -> dict:
        """Validate a backup file: see :meth:`RestoreService.validate_backup`."""
        return RestoreService(using=self.using, passphrase=self.passphrase).validate_backup(file_path)

    def _generate_checksum(self, record) -> str:
        """SHA-256 of a record's content (a model instance, or a dict in the
        file's or attgit's spelling): the checksum a backup file stores for
        it, the hash of exactly its canonical bytes."""
        return rec.checksum(_record_of(record))

    def _serialize_record(self, record) -> dict:
        """A record (model instance or dict) as a backup file holds it:
        the document's fields with ``company_name``, and its checksum."""
        return file_record(_record_of(record))

    def _create_metadata(self, record_count: int, backup_type: str = "full", since: Since = None,
                         companies_count: Optional[int] = None) -> dict:
        """The metadata section of a backup of ``record_count`` records, as
        :meth:`create_backup` writes it: ``companies_count`` defaults to the
        database's companies (a backup lists every company)."""
        from .models import Company

        if companies_count is None:
            companies_count = Company.objects.using(self.using).count()
        when = backups.parse_since(since) if since is not None else None
        return file_metadata(backup_type, backups._creator(self.user), companies_count, record_count, since=when)


class ConflictResolver:
    """Decide between a backup file's record and the database's (same key).

    Records may be in the file's spelling (``company_name``) or attgit's
    (``company``); the merged record comes back in the backup record's.
    Timestamps, ids and checksums are not content and never make a conflict.
    """

    def detect_conflicts(self, backup_record: dict, db_record: Optional[dict]) -> bool:
        """True when both records have the same key and different data."""
        if db_record is None:
            return False
        ours, theirs = _canonical(db_record), _canonical(backup_record)
        return rec.key(ours) == rec.key(theirs) and ours != theirs

    def apply_merge_strategy(self, backup_record: dict, db_record: Optional[dict], strategy: str) -> dict:
        """The record the database ends with under ``strategy``:
        ``backup_wins`` takes the backup's, ``database_wins`` keeps the
        database's, ``manual`` keeps the database's until a person resolves
        the conflict (``attgit resolve`` or the conflicts page).  A key the
        database does not have is the backup's record under every strategy.
        """
        theirs = _canonical(backup_record)
        ours = None if db_record is None else _canonical(db_record)
        if ours is not None and rec.key(ours) != rec.key(theirs):
            raise ValueError(f"records with different keys do not conflict: {rec.describe_key(rec.key(ours))} "
                             f"and {rec.describe_key(rec.key(theirs))}")
        k = rec.key(theirs)
        merged = import_company(k[1], {k: ours} if ours else {}, {k: theirs}, parse_strategy(strategy))
        return _spelled_like(backup_record, merged.records[k])

    def _records_differ(self, record1: dict, record2: dict) -> bool:
        """Compare two records, timestamps and checksums excluded."""
        return _canonical(record1) != _canonical(record2)


class RestoreService:
    """Validate, preview and restore backup files into the database."""

    def __init__(self, conflict_resolver: Optional[ConflictResolver] = None, user=None, using: str = "default",
                 passphrase: Optional[str] = None):
        self.conflict_resolver = conflict_resolver or ConflictResolver()
        self.user = user
        self.using = using
        #: the passphrase of passphrase-encrypted files (held in memory only; never logged)
        self.passphrase = passphrase

    def validate_backup(self, file_path) -> dict:
        """Read the whole file and report every problem.

        Returns {"valid", "errors", "warnings"}: ``errors`` lists each
        problem as a sentence naming record number, key and field (the
        first 100), ``error_count`` counts them all, ``problems`` gives the
        same as {"message", "where", "record", "field"}; ``warnings`` are
        the file's and what restoring it into this database would create.
        """
        try:
            with read_backup(file_path, **backups.read_options(self.passphrase)) as backup:
                warnings = self._warnings(backup)
        except AttgitError as exc:
            problems = getattr(exc, "problems", [exc])
            return {"valid": False, "errors": [str(p) for p in problems], "warnings": [],
                    "error_count": getattr(exc, "total", 1), "problems": [_problem(p) for p in problems]}
        return {"valid": True, "errors": [], "warnings": warnings, "error_count": 0, "problems": []}

    def preview_changes(self, file_path, merge_strategy: str = "backup_wins", *,
                        companies: Optional[list] = None, date_from: Since = None, date_to: Since = None) -> dict:
        """What a restore would do; nothing is written.

        ``companies``, ``date_from`` and ``date_to`` limit it to those
        companies of the file and those dates (as ``restore_data``'s
        --company/--from/--to); a company the file does not hold is an error.

        Returns {"to_add", "to_update", "to_skip", "conflicts"} (counts, and
        the conflicts as dicts), with "pending", "warnings", "samples",
        "selection" and, for a bad file, "errors".
        """
        from attgit.ops.restore import import_backup

        from .repository import author_for, open_repository
        from .workingcopy import connect

        try:
            with read_backup(file_path, **backups.read_options(self.passphrase)) as backup:
                selection = _selection(companies, date_from, date_to, backup)
                result = import_backup(open_repository(), connect(self.using), author_for(self.user), backup,
                                       Path(file_path).name, strategy=merge_strategy, preview=True,
                                       selection=as_selection(selection))
        except AttgitError as exc:
            return {"to_add": 0, "to_update": 0, "to_skip": 0, "conflicts": [], "errors": _errors(exc)}
        c = result.counts
        return {"to_add": c.get("added", 0), "to_update": c.get("updated", 0), "to_skip": c.get("skipped", 0),
                "conflicts": [x.to_dict() for x in result.conflicts], "pending": c.get("pending", 0),
                "records_in_file": c.get("records_in_file", 0), "warnings": list(result.warnings),
                "samples": result.to_dict()["samples"], "selection": selection, "errors": []}

    def restore_backup(self, file_path, merge_strategy: str = "backup_wins",
                       progress_callback: Optional[Callable[[int, int], None]] = None, *,
                       companies: Optional[list] = None, date_from: Since = None, date_to: Since = None) -> dict:
        """Merge the file into the database in one transaction, after
        committing the database's current state (so it can be undone).
        ``companies``/``date_from``/``date_to``: only those (see
        :meth:`preview_changes`); the selection is logged.

        Returns {"success", "added", "updated", "skipped", "errors"}, with
        "pending" (manual conflicts, also counted in skipped: added +
        updated + skipped is the number of records in the file),
        "conflicts", "commit" and "warnings".  The operation is logged.
        """
        name = Path(file_path).name
        wanted = {"companies": companies, "date_from": date_from, "date_to": date_to}
        try:
            result, selection = self._restore(file_path, name, merge_strategy, progress_callback, wanted)
        except AttgitError as exc:
            log_operation("restore", self.user, success=False, error=str(exc), filename=name, using=self.using,
                          selection=_jsonable_selection(wanted))
            return {"success": False, "added": 0, "updated": 0, "skipped": 0, "errors": _errors(exc)}
        c = result.counts
        log_operation("restore", self.user, commit=result.commit or "", filename=name,
                      records=c.get("records_in_file", 0), added=c.get("added", 0), updated=c.get("updated", 0),
                      skipped=c.get("skipped", 0), pending=c.get("pending", 0), conflicts=len(result.conflicts),
                      strategy=merge_strategy, status=result.status, using=self.using, selection=selection,
                      **({"warnings": result.warnings} if result.warnings else {}))
        return {"success": True, "added": c.get("added", 0), "updated": c.get("updated", 0),
                "skipped": c.get("skipped", 0), "errors": [], "pending": c.get("pending", 0),
                "records_in_file": c.get("records_in_file", 0), "status": result.status,
                "conflicts": [x.to_dict() for x in result.conflicts], "commit": result.commit,
                "warnings": list(result.warnings), "selection": selection}

    def _restore(self, file_path, name: str, strategy: str, progress, wanted: dict):
        from attgit.ops.reconcile import exclusive
        from attgit.ops.restore import import_backup

        from .repository import author_for, open_repository
        from .workingcopy import connect

        repo, db = open_repository(), connect(self.using)
        with read_backup(file_path, **backups.read_options(self.passphrase)) as backup, exclusive(repo, db):
            selection = _selection(backup=backup, **wanted)
            return import_backup(repo, db, author_for(self.user), backup, name, strategy=strategy,
                                 selection=as_selection(selection), progress=progress), selection

    def _warnings(self, backup) -> list:
        from attgit.ops.restore import _older_than_since, company_warnings

        from .workingcopy import connect

        db = connect(self.using)
        missing = sorted(set(backup.companies()) - set(db.companies()))
        warnings = company_warnings(backup, missing, will="would")
        stale = _older_than_since(db, backup.metadata)
        return warnings + ([stale] if stale else [])

    def _get_unique_key(self, record: dict) -> tuple:
        """The key records are matched by: (ep_no, company_name, date)."""
        return (record["ep_no"], record.get("company_name", record.get("company")), record["date"])


def _record_of(record) -> dict:
    """A canonical record from an AttendanceRecord instance or a dict."""
    if isinstance(record, dict):
        return _canonical(record)
    row = (record.ep_no, record.ep_name, record.company.name, record.date, record.shift, record.status,
           record.in_time, record.out_time, record.overstay)
    return rec.from_db_row(row, f"attendance record {record.pk}")


def _selection(companies, date_from, date_to, backup) -> dict:
    """The checked selection (the web restore page's and the commands' rules):
    companies among the file's, dates as YYYY-MM-DD, in order."""
    from .web.confirm import selection_of

    return selection_of(_jsonable_selection({"companies": companies, "date_from": date_from,
                                             "date_to": date_to}), list(backup.companies()))


def _jsonable_selection(wanted: dict) -> dict:
    def day(value):
        return value.isoformat()[:10] if hasattr(value, "isoformat") else (value or "")

    return {"companies": sorted(wanted.get("companies") or []), "date_from": day(wanted.get("date_from")),
            "date_to": day(wanted.get("date_to"))}


def as_selection(chosen: dict):
    from .web.confirm import as_selection as selection

    return selection(chosen)


def _canonical(record: dict) -> dict:
    """The record's content in attgit's canonical form (timestamps, ids and
    checksum dropped; ValidationError if it is not a valid record)."""
    return rec.normalise(record)


def _spelled_like(model: dict, record: dict) -> dict:
    if "company_name" in model and "company" not in model:
        out = {("company_name" if k == "company" else k): v for k, v in record.items()}
        return {k: out[k] for k in ("ep_no", "ep_name", "company_name", "date", "shift", "status",
                                     "in_time", "out_time", "overstay")}
    return dict(record)


def _errors(exc: AttgitError) -> list:
    """The messages of an error (each problem of a file that has several);
    a database error in the design document's words."""
    if isinstance(exc, DatabaseError) and not str(exc).startswith(ERROR_MESSAGES["database_error"]):
        return [f"{ERROR_MESSAGES['database_error']}: {exc}"]
    return [str(p) for p in getattr(exc, "problems", [exc])]


_RECORD = re.compile(r"\brecord (\d+)")
_FIELD = re.compile(r"\bfield '([^']+)'")
_KEY = re.compile(r"\brecord \d+: (.+)$")


def _problem(exc) -> dict:
    """One problem as data: message, place, record number, key and field."""
    where = getattr(exc, "where", None) or ""
    record = _RECORD.search(where)
    key = _KEY.search(where)
    field = _FIELD.search(getattr(exc, "message", str(exc)))
    return {"message": str(exc), "where": where or None, "record": int(record.group(1)) if record else None,
            "key": key.group(1) if key else None, "field": field.group(1) if field else None}


__all__ = ["STRATEGIES", "BackupService", "ConflictResolver", "RestoreService", "Strategy"]
