"""The design document's JSON backup file: written streaming, read and
validated whole, in bounded memory, before anything may touch a database.

``writer`` writes it; ``reader`` opens one, runs one of the two ``parsers``
(a line-by-line fast path for files in the layout ``writer`` produces, a
streaming fallback for any other formatting) through the ``validator``,
which checks everything and fills the ``spool`` (one temporary file per
company).  ``common`` holds the format's constants and the error helpers.
"""

from attgit.format.backup.common import (
    BACKUP_TYPES,
    ERROR_MESSAGES,
    FILE_FIELDS,
    FORMAT_VERSION,
    MESSAGES,
    SUPPORTED_VERSIONS,
    BackupSummary,
    for_upload,
)
from attgit.format.backup.reader import BackupFile, read_backup
from attgit.format.backup.writer import write_backup

__all__ = ["BACKUP_TYPES", "ERROR_MESSAGES", "FILE_FIELDS", "FORMAT_VERSION", "MESSAGES", "SUPPORTED_VERSIONS",
           "BackupFile", "BackupSummary", "for_upload", "read_backup", "write_backup"]
