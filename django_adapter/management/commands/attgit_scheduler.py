"""``manage.py attgit_scheduler``: run ATTGIT_SCHEDULE without cron.

A small long-running process, deployed beside ``manage.py db_worker``
(the same supervisor, systemd unit or container, one more line): every
``--interval`` seconds it runs whatever is due (:func:`run_due`).  Any
number of them may run, on any number of machines sharing the database,
and they may be restarted at any time: each due time is claimed once in
the database (:class:`~django_adapter.models.ScheduleSlot`), so it runs
once.  SIGTERM or SIGINT stops it between two looks.

A database check that finds edits the change log missed commits them as
a repair and says so on stderr (and in the audit log, which the history
page shows); with ``--once`` the command then exits 12, as cron's
``attgit_scheduled`` does.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from attgit.errors import AttgitError, ExitCode

from ...schedule import KINDS, configured_schedule, run_due
from ..actor import command_actor


class Command(BaseCommand):
    help = (
        "Run the scheduled snapshots, backup files and database checks of ATTGIT_SCHEDULE as they fall due, "
        "without cron; "
        "keep it running beside db_worker. Example: python manage.py attgit_scheduler --interval 60"
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0,
                            help="seconds between two looks at the schedule (default 60)")
        parser.add_argument("--once", action="store_true", help="look once, run what is due, and stop")
        parser.add_argument("--user", help="act as this user, who must be an active root user "
                                           "(else $ATTGIT_USER, else the operator's login)")

    def handle(self, *args, interval, once, user, **options):
        try:
            if all(configured_schedule(kind) is None for kind in KINDS):
                raise CommandError("nothing to schedule: set ATTGIT_SCHEDULE = {'snapshot': 'daily 02:00'} "
                                   "(and/or 'backup', 'verify')", returncode=11)
        except AttgitError as exc:
            raise CommandError(str(exc), returncode=exc.exit_code) from None
        actor = command_actor("scheduled", user)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"attgit scheduler: looking every {interval:g} s", ending="\n")
        self.stdout.flush()
        while not stop.is_set():
            repaired = self._look(actor)
            if once:
                if repaired:
                    raise CommandError(f"database check: {repaired}", returncode=ExitCode.INTEGRITY)
                break
            stop.wait(interval)

    def _look(self, actor) -> str:
        """Run what is due and say what ran; what a database check found
        the change log missed (empty: nothing), said on stderr too."""
        close_old_connections()
        repaired = ""
        for run in run_due(actor):
            if run.status == "not-due":
                continue
            what = run.file or run.commit or ""
            self.stdout.write(f"{run.status} {run.schedule} {what} {run.error}".rstrip())
            self.stdout.flush()
            if run.status == "repaired":
                repaired = run.error
                self.stderr.write(f"attgit scheduler: database check: {run.error}")
                self.stderr.flush()
        return repaired
