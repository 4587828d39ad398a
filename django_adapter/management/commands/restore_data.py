"""``manage.py restore_data``: merge a JSON backup file into the database.

The design document's command, on top of attgit's import: the file is
validated whole before anything is written; absent records are added,
identical ones skipped, different ones decided by the strategy; nothing is
deleted; the database's state before the restore is committed first, so a
restore can be undone with ``attgit checkout``.
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError

from attgit.errors import AttgitError, ConflictsPending, problem_lines
from attgit.format.backup import read_backup
from attgit.format.backup.crypto import passphrase_from_file
from attgit.format.records import key as rec_key
from attgit.interrupts import Terminated, termination_interrupts
from attgit.ops.reconcile import exclusive
from attgit.ops.restore import Selection, import_backup
from attgit.words import plural

from ...audit import log_operation
from ...backups import read_options
from ...repository import open_as
from ...workingcopy import connect
from ..actor import command_actor

STRATEGIES = ("backup_wins", "database_wins", "manual", "theirs", "ours")


class Command(BaseCommand):
    help = ("Restore (merge) a JSON backup file into the database. "
            "Example: manage.py restore_data --input backup.json --strategy backup_wins --preview")

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="the backup file")
        parser.add_argument("--strategy", default="backup_wins", choices=STRATEGIES,
                            help="for records that differ: backup_wins (default), database_wins or manual")
        parser.add_argument("--preview", action="store_true", help="show what would change; write nothing")
        parser.add_argument("--company", action="append", default=[], help="only this company (repeatable)")
        parser.add_argument("--from", dest="date_from", help="only records on or after YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", help="only records on or before YYYY-MM-DD")
        parser.add_argument("--passphrase-file", metavar="FILE",
                            help="the passphrase of a passphrase-encrypted file: the first line of FILE")
        parser.add_argument("--user", help="act as this user, who must be an active root user "
                                           "(else $ATTGIT_USER, else the operator's login)")

    def handle(self, *args, input, strategy, preview, company, date_from, date_to, user, passphrase_file=None,
               **options):
        actor = command_actor("restore", user)
        name = os.path.basename(input)
        try:
            with termination_interrupts():  # SIGTERM/SIGHUP: roll back, remove the spool
                passphrase = passphrase_from_file(passphrase_file) if passphrase_file else None
                result = self._restore(input, name, strategy, preview, company, date_from, date_to, actor,
                                       passphrase)
        except Terminated as exc:
            raise CommandError(f"terminated (signal {exc.signum}); nothing was half-applied") from None
        except AttgitError as exc:
            if not preview:
                log_operation("restore", actor, success=False, error=str(exc), filename=name)
            for line in problem_lines(exc):
                self.stderr.write(line)
            raise CommandError(str(exc)) from None
        self._report(result, preview)
        if result.status == "conflicts":
            raise CommandError(str(ConflictsPending(
                f"{plural(len(result.conflicts), 'conflict')} {'waits' if len(result.conflicts) == 1 else 'wait'}: "
                "resolve them with `manage.py attgit resolve` "
                "or on the conflicts page")))

    def _restore(self, path, name, strategy, preview, company, date_from, date_to, actor, passphrase=None):
        if not os.path.isfile(path):
            raise CommandError(f"no such backup file: {path}")
        opened, db = open_as(actor), connect()
        repo = opened.repo
        selection = Selection(set(company) or None, date_from, date_to)
        with read_backup(path, **read_options(passphrase)) as backup, exclusive(repo, db):
            result = import_backup(repo, db, opened.author, backup, name, strategy=strategy,
                                   preview=preview, selection=selection, progress=self._progress)
            companies = len(backup.companies())
        if not preview:
            c = result.counts
            log_operation("restore", actor, commit=result.commit or "", filename=name, companies=companies,
                          records=c.get("records_in_file", 0), added=c.get("added", 0),
                          updated=c.get("updated", 0), skipped=c.get("skipped", 0),
                          pending=c.get("pending", 0),
                          conflicts=len(result.conflicts), strategy=strategy,
                          **({"warnings": result.warnings} if result.warnings else {}))
        return result

    def _progress(self, done: int, total: int) -> None:
        if total and (done == total or done % 10000 < 1000):
            # redrawn in place on a terminal; a whole line each in a log file
            self.stderr.write(f"  applied {done:,} of {total:,} records", ending="\r" if self.stderr.isatty() else "\n")

    def _report(self, result, preview: bool) -> None:
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        c = result.counts
        add, update, skip = ("would add", "update", "skip") if preview else ("added", "updated", "skipped")
        pending = f" ({c['pending']:,} of them pending conflicts)" if c.get("pending") else ""
        self.stdout.write(f"{add} {c.get('added', 0):,}, {update} {c.get('updated', 0):,}, "
                          f"{skip} {c.get('skipped', 0):,}{pending}, conflicts {len(result.conflicts):,} "
                          f"(records in file: {c.get('records_in_file', 0):,})")
        for kind, item in result.samples if preview else []:
            if kind == "add":
                self.stdout.write(f"  add    {' / '.join(rec_key(item))}")
            else:
                changes = ", ".join(f"{f}: {item.old[f]!r} -> {item.new[f]!r}" for f in item.fields)
                self.stdout.write(f"  update {' / '.join(item.key)}  {changes}")
        for conflict in result.conflicts[:50]:
            fields = ", ".join(f"{f}: {conflict.ours and conflict.ours.get(f)!r} -> "
                               f"{conflict.theirs and conflict.theirs.get(f)!r}" for f in conflict.fields)
            how = conflict.resolution or "pending"
            self.stdout.write(f"  conflict {conflict.id} {' / '.join(conflict.key)} [{how}] {fields}")
        if len(result.conflicts) > 50:
            self.stdout.write(f"  ... and {len(result.conflicts) - 50:,} more")
        if result.commit and result.status == "applied":
            self.stdout.write(f"restore committed as {result.commit[:10]}")
