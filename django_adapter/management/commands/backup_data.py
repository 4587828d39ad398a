"""``manage.py backup_data``: write a full or incremental backup file."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from attgit.errors import AttgitError
from attgit.format.backup.crypto import passphrase_from_file
from attgit.ops.export import SINCE_RULE
from attgit.ops.mergestate import ExportWhileMerging
from attgit.words import plural

from ... import storage
from ...backups import BACKUP_TYPES, make_backup, parse_since
from ..actor import command_actor


class Command(BaseCommand):
    help = (
        "Write the attendance data to a JSON backup file (the design document's format). "
        "An incremental backup holds the records changed since --since. "
        "Example: manage.py backup_data --type incremental --since 2025-11-01 --output inc.json"
    )

    def add_arguments(self, parser):
        parser.add_argument("--type", choices=BACKUP_TYPES, default="full", dest="backup_type",
                            help="full (default) or incremental")
        parser.add_argument("--since", help="incremental: records updated on or after this moment; "
                                            + SINCE_RULE)
        parser.add_argument("--output", help="file to write (default: a new file in the backup storage -- "
                                             "ATTGIT_BACKUP_DIR, or STORAGES['attgit_backups'] -- named by the "
                                             "time and a random part); an existing file is refused unless --force")
        parser.add_argument("--force", action="store_true", help="replace the --output file if it exists "
                                                                 "(once the new one is complete)")
        parser.add_argument("--encrypt", metavar="RECIPIENT", dest="recipient",
                            help="encrypt the file for this public key (key id, fingerprint or e-mail in "
                                 "ATTGIT_GNUPGHOME); restore_data and the restore page decrypt it")
        parser.add_argument("--passphrase-file", metavar="FILE",
                            help="encrypt the file with the passphrase in FILE (its first line): OpenPGP's "
                                 "symmetric mode; restore_data --passphrase-file reads it back")
        parser.add_argument("--gzip", action="store_true",
                            help="gzip the file (the default name ends .json.gz; an --output ending in .gz "
                                 "is gzipped anyway)")
        parser.add_argument("--user", help="act as this user, who must be an active root user "
                                           "(else $ATTGIT_USER, else the operator's login)")
        parser.add_argument("--database", default="default", help="database alias")

    def handle(self, *args, backup_type, since, output, user, database, recipient=None, passphrase_file=None,
               gzip=False, force=False, **options):
        actor = command_actor(f"backup_{backup_type}", user, database)
        path = output
        try:
            since_at = parse_since(since) if since else None
            if since_at and backup_type == "full":
                raise CommandError("--since applies to --type incremental only")
            if backup_type == "incremental" and not since_at:
                raise CommandError("--type incremental needs --since DATE")
            if recipient and passphrase_file:
                raise CommandError("--encrypt and --passphrase-file: choose one")
            passphrase = passphrase_from_file(passphrase_file) if passphrase_file else None
            path, summary = make_backup(output, backup_type, since_at, actor.user, database,
                                        encrypt_to=recipient, force=force, passphrase=passphrase,
                                        suffix=".gz" if gzip else "")
            if not output:
                path = _kept(storage.store(path))
        except ExportWhileMerging as exc:
            raise CommandError(str(exc), returncode=exc.exit_code) from None
        except AttgitError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot write the backup file {exc.filename or path}: "
                               f"{exc.strerror or exc}") from None
        self.stdout.write(
            f"wrote {backup_type} backup of {plural(summary.companies, 'company')} and "
            f"{plural(summary.records, 'record')} to {path}" + (f", encrypted for {recipient}" if recipient else "")
            + (", encrypted with the passphrase" if passphrase_file else "")
        )


def _kept(name: str) -> str:
    """Where a default-named file went: its path here, or the storage's name for it."""
    kept = storage.backup_storage()
    return str(storage.backup_dir() / name) if storage.is_local(kept) else f"{name} in the backup storage"

