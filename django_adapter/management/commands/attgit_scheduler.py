"""``manage.py attgit_scheduler``: run ATTGIT_SCHEDULE without cron.

A small long-running process, deployed beside ``manage.py db_worker``
(the same supervisor, systemd unit or container, one more line): every
``--interval`` seconds it runs whatever is due (:func:`run_due`).  Any
number of them may run, on any number of machines sharing the database,
and they may be restarted at any time: each due time is claimed once in
the database (:class:`~django_adapter.models.ScheduleSlot`), so it runs
once.  SIGTERM or SIGINT stops it between two looks.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from attgit.errors import AttgitError

from ...schedule import configured_schedule, run_due
from ..actor import command_actor


class Command(BaseCommand):
    help = (
        "Run the scheduled snapshots and backup files of ATTGIT_SCHEDULE as they fall due, without cron; "
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
            if configured_schedule("snapshot") is None and configured_schedule("backup") is None:
                raise CommandError("nothing to schedule: set ATTGIT_SCHEDULE = {'snapshot': 'daily 02:00'} "
                                   "(and/or 'backup')", returncode=11)
        except AttgitError as exc:
            raise CommandError(str(exc), returncode=exc.exit_code) from None
        actor = command_actor("scheduled", user)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"attgit scheduler: looking every {interval:g} s", ending="\n")
        self.stdout.flush()
        while not stop.is_set():
            self._look(actor)
            if once:
                break
            stop.wait(interval)

    def _look(self, actor) -> None:
        close_old_connections()
        for run in run_due(actor):
            if run.status == "not-due":
                continue
            what = run.file or run.commit or ""
            self.stdout.write(f"{run.status} {run.schedule} {what} {run.error}".rstrip())
            self.stdout.flush()
