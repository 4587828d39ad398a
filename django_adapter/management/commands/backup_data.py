"""``manage.py backup_data``: write a full or incremental backup file."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from attgit.errors import AttgitError
from attgit.words import plural

from ...backups import BACKUP_TYPES, create_backup, default_path, parse_since
from ...models import User


class Command(BaseCommand):
    help = (
        "Write the attendance data to a JSON backup file (the design document's format). "
        "An incremental backup holds the records changed since --since. "
        "Example: manage.py backup_data --type incremental --since 2025-11-01 --output inc.json"
    )

    def add_arguments(self, parser):
        parser.add_argument("--type", choices=BACKUP_TYPES, default="full", dest="backup_type",
                            help="full (default) or incremental")
        parser.add_argument("--since", help="incremental: records updated on or after this "
                                            "date (YYYY-MM-DD) or ISO date-time")
        parser.add_argument("--output", help="file to write (default: a timestamped file "
                                             "in ATTGIT_BACKUP_DIR)")
        parser.add_argument("--user", help="username recorded as the backup's creator")
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args, backup_type, since, output, user, database, **options):
        path = output
        try:
            since_at = parse_since(since) if since else None
            if since_at and backup_type == "full":
                raise CommandError("--since applies to --type incremental only")
            path = output or default_path(backup_type)
            summary = create_backup(path, backup_type, since_at, _user(user, database), database)
        except AttgitError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot write the backup file {exc.filename or path}: "
                               f"{exc.strerror or exc}") from None
        self.stdout.write(
            f"wrote {backup_type} backup of {plural(summary.companies, 'company')} and "
            f"{plural(summary.records, 'record')} to {path}"
        )


def _user(username, database):
    if not username:
        return None
    try:
        return User.objects.db_manager(database).get_by_natural_key(username)
    except User.DoesNotExist:
        raise CommandError(f"no user {username!r}") from None
