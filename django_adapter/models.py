"""The attendance tables, and the tables attgit keeps beside them.

Companies travel between environments by ``name``; database ids never do.
Bulk reads and writes go around the ORM (see :mod:`django_adapter.workingcopy`),
so the table layout here is also a contract with that module's SQL.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models

from attgit.format.records import MAX_LENGTHS, STATUSES


class Company(models.Model):
    name = models.CharField(max_length=MAX_LENGTHS["company"], unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class AttendanceRecord(models.Model):
    """One employee's attendance on one day.

    The unique key is (ep_no, company, date).  Its index is declared in the
    order (company, date, ep_no), the order a company's rows are read in
    for a snapshot, so one index serves both the key and the stream; the
    foreign key therefore needs no index of its own.
    """

    STATUS_CHOICES = list(STATUSES.items())

    ep_no = models.CharField("employee no.", max_length=MAX_LENGTHS["ep_no"])
    ep_name = models.CharField("employee name", max_length=MAX_LENGTHS["ep_name"], blank=True)
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    date = models.DateField()
    shift = models.CharField(max_length=MAX_LENGTHS["shift"], blank=True)
    status = models.CharField(max_length=MAX_LENGTHS["status"], choices=STATUS_CHOICES)
    in_time = models.TimeField(null=True, blank=True)
    out_time = models.TimeField(null=True, blank=True)
    overstay = models.CharField(max_length=MAX_LENGTHS["overstay"], blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "date", "ep_no"], name="attendance_record_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ep_no} @ {self.company_id} on {self.date}"


class User(AbstractUser):
    """A root user sees and syncs everything; a company user sees one company."""

    ROOT = "root"
    COMPANY = "company"
    ROLE_CHOICES = [(ROOT, "Root"), (COMPANY, "Company user")]

    role = models.CharField(max_length=16, choices=ROLE_CHOICES, default=COMPANY)
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="users"
    )

    @property
    def is_root(self) -> bool:
        return self.role == self.ROOT or self.is_superuser


class BackupLog(models.Model):
    """Audit log for backup, restore and every attgit operation.

    The design document's model, with ``user`` nullable (a command run
    from a shell has no user) and kept when a user is deleted, so the
    audit trail outlives accounts.
    """

    OPERATION_CHOICES = [
        ("backup_full", "Full Backup"),
        ("backup_incremental", "Incremental Backup"),
        ("restore", "Restore"),
        ("commit", "Commit"),
        ("import", "Import"),
        ("checkout", "Checkout"),
        ("pull", "Pull"),
        ("push", "Push"),
        ("fetch", "Fetch"),
        ("merge", "Merge"),
        ("resolve", "Resolve"),
        ("sync", "Sync"),
        ("verify", "Verify"),
        ("download", "Download"),
        ("init", "Init"),
        ("status", "Status"),
        ("log", "Log"),
        ("show", "Show"),
        ("diff", "Diff"),
        ("remote", "Remote"),
        ("conflicts", "Conflicts"),
    ]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    operation = models.CharField(max_length=20, choices=OPERATION_CHOICES)
    filename = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Statistics
    companies_count = models.IntegerField(default=0)
    records_count = models.IntegerField(default=0)
    records_added = models.IntegerField(default=0)
    records_updated = models.IntegerField(default=0)
    records_skipped = models.IntegerField(default=0)

    # Status
    success = models.BooleanField(default=True)
    error_message = models.TextField(blank=True)

    # attgit
    commit = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        outcome = "ok" if self.success else "failed"
        return f"{self.get_operation_display()} {outcome} at {self.created_at:%Y-%m-%d %H:%M}"


class SyncState(models.Model):
    """The commit the database matches (one row, ``name="default"``).

    Written in the same transaction as the rows it describes, so the
    database never claims a snapshot it does not hold.  ``watermark`` is the
    change log's position then: entries up to it are part of ``commit``.
    """

    DEFAULT = "default"

    name = models.CharField(max_length=32, primary_key=True, default=DEFAULT)
    commit = models.CharField(max_length=64, null=True, blank=True)
    watermark = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "sync state"

    def __str__(self) -> str:
        return f"{self.name}: {self.commit or 'no commit'}"


class ChangeLog(models.Model):
    """The exact record of what changed since the last commit.

    Written only by triggers on the attendance and company tables
    (migration 0005), whatever wrote the rows: one entry per row written,
    with the key it had and, when an update moved it, the key it left;
    ``ep_no`` and ``date`` empty for a company created, renamed or deleted
    (read whole); ``company`` empty too after a TRUNCATE (read everything).
    attgit consumes entries in the transaction that records a commit.
    """

    id = models.BigAutoField(primary_key=True)
    # Text without a length: a trigger must never fail the write it logs.
    company = models.TextField(null=True)
    ep_no = models.TextField(null=True)
    date = models.TextField(null=True)

    class Meta:
        verbose_name = "change log entry"
        verbose_name_plural = "change log"

    def __str__(self) -> str:
        return f"#{self.id} {self.company} {self.ep_no or ''} {self.date or ''}".rstrip()


remote_name_validator = RegexValidator(
    # git's own rules for a ref name part, narrowed to safe characters.
    r"\A(?!.*\.\.)(?!.*\.lock\Z)[A-Za-z0-9][A-Za-z0-9_.-]*(?<!\.)\Z",
    "A remote name starts with a letter or digit, holds only letters, digits, '.', '_' and '-', "
    "and has no '..', no final '.' and no final '.lock'.",
)


class Remote(models.Model):
    """A git remote the root user syncs with (a URL or a path)."""

    name = models.CharField(max_length=64, unique=True, validators=[remote_name_validator])
    url = models.CharField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"


def _new_upload_id() -> str:
    import secrets

    return secrets.token_hex(16)


class Upload(models.Model):
    """A backup file uploaded for a restore, kept on the server between the
    preview and the apply.

    The browser only ever sees ``id``: 32 random hex digits.  The file lives
    at ``<ATTGIT_UPLOAD_DIR>/<id>.json``, a path made from the id alone;
    ``original_name`` is shown to people and never used as a path.
    """

    id = models.CharField(primary_key=True, max_length=32, default=_new_upload_id, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    original_name = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name or 'upload'} ({self.id})"


class Job(models.Model):
    """A long operation started from a web page and run outside the request
    (a backup, a restore or its preview, concluding or aborting a merge).

    The worker writes this row when it starts and when it ends; while it
    runs, its progress goes to a small file beside it
    (:mod:`django_adapter.web.jobs`), because the apply holds the database's
    one write transaction until it is done.
    """

    BACKUP, PREVIEW, IMPORT, CHECKOUT = "backup", "preview", "import", "checkout"
    CONCLUDE, ABORT = "conclude", "abort"
    KIND_CHOICES = [
        (BACKUP, "Backup"),
        (PREVIEW, "Preview of a restore"),
        (IMPORT, "Restore from a backup file"),
        (CHECKOUT, "Restore a snapshot"),
        (CONCLUDE, "Conclude a merge"),
        (ABORT, "Abort a merge"),
    ]
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUS_CHOICES = [(QUEUED, "Queued"), (RUNNING, "Running"), (DONE, "Done"), (FAILED, "Failed")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=QUEUED)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    pid = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.DONE, self.FAILED)

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
