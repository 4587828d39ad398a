"""``manage.py attgit_scheduled``: the scheduled runs, for cron.

Run it every few minutes; it snapshots when the ATTGIT_SCHEDULE setting
says a time is due, and checks the database when its ``verify`` entry
does (see :mod:`django_adapter.schedule`).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from attgit.errors import AttgitError
from attgit.words import plural

from ...schedule import KINDS, configured_schedule, run_scheduled
from ..actor import command_actor


class Command(BaseCommand):
    help = (
        "Commit a scheduled snapshot of the database (type 'scheduled') when the ATTGIT_SCHEDULE "
        "setting says one is due, and check the database when its 'verify' entry does (a miss exits 12); "
        "meant for cron, every few minutes. "
        "Example: */5 * * * * cd /srv/site && python manage.py attgit_scheduled"
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="run now, due or not")
        parser.add_argument("--kind", choices=KINDS, default="snapshot",
                            help="which entry of ATTGIT_SCHEDULE: a snapshot (default, with the database "
                                 "check when 'verify' is set), a backup file, or the database check alone")
        parser.add_argument("--user", help="act as this user, who must be an active root user "
                                           "(else $ATTGIT_USER, else the operator's login)")
        parser.add_argument("--wait", type=float, default=60.0,
                            help="seconds to wait for another attgit writer (default 60)")

    def handle(self, *args, force, user, wait, kind="snapshot", **options):
        actor = command_actor("scheduled", user)
        try:
            checking = kind == "verify" or (kind == "snapshot" and configured_schedule("verify") is not None)
            if kind == "backup" or (kind == "snapshot" and (configured_schedule() is not None or force
                                                            or not checking)):
                self._run(actor, force, wait, kind)
            if checking:
                self._verify(actor, force, wait)
        except AttgitError as exc:
            raise CommandError(str(exc), returncode=exc.exit_code) from None

    def _verify(self, actor, force, wait):
        """ATTGIT_SCHEDULE['verify']: the database check; a miss exits 12
        (cron mails it) after its repair commit."""
        from attgit.errors import IntegrityError

        check = run_scheduled(actor, force=force, wait=wait, kind="verify")
        upcoming = f"; next due {check.next_time:%Y-%m-%d %H:%M %Z}" if check.next_time else ""
        if check.status == "not-due":
            self.stdout.write(f"database check not due ({check.schedule}){upcoming}")
        elif check.status == "ok":
            self.stdout.write(f"database check: ok, the change log missed nothing{upcoming}")
        else:
            raise IntegrityError(f"database check: the change log missed edits ({check.missed}); "
                                 f"committed as repair {check.commit}")

    def _run(self, actor, force, wait, kind):
        run = run_scheduled(actor, force=force, wait=wait, kind=kind)
        upcoming = f"; next due {run.next_time:%Y-%m-%d %H:%M %Z}" if run.next_time else ""
        if run.status == "not-due":
            self.stdout.write(f"not due ({run.schedule}){upcoming}")
        elif run.status == "written":
            self.stdout.write(f"scheduled backup {run.file}: {_counts(run)}"
                              + (f"; removed {', '.join(run.removed)}" if run.removed else "") + upcoming)
        elif run.status == "nothing":
            self.stdout.write(f"scheduled snapshot: nothing to commit ({plural(run.records, 'record')}){upcoming}")
        else:
            self.stdout.write(f"scheduled snapshot {run.commit[:10]}: {_counts(run)}{upcoming}")


def _counts(run) -> str:
    """What a scheduled run holds: "1 company, 1,000 records"."""
    return f"{plural(run.companies, 'company')}, {plural(run.records, 'record')}"
