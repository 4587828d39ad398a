"""The attendance tables, and the tables attgit keeps beside them.

Companies travel between environments by ``name``; database ids never do.
Bulk reads and writes go around the ORM (see :mod:`django_adapter.workingcopy`),
so the table layout here is also a contract with that module's SQL.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from attgit.format.records import MAX_LENGTHS, STATUSES

from .constraints import CalendarDate, TimeOfDay, Trimmed

#: Dates attgit accepts (records._MIN_YEAR.._MAX_YEAR).
FIRST_DATE, LAST_DATE = datetime.date(1900, 1, 1), datetime.date(2199, 12, 31)


def validate_trimmed(value: str) -> None:
    """Stored text is its own canonical form: no surrounding whitespace, no NUL."""
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError("must not contain a NUL character", code="nul")
    if isinstance(value, str) and value != value.strip():
        raise ValidationError("must not start or end with spaces", code="untrimmed")


def validate_whole_seconds(value) -> None:
    if isinstance(value, datetime.time) and value.microsecond:
        raise ValidationError("must be a whole number of seconds (HH:MM or HH:MM:SS)", code="fraction")


def validate_date_range(value) -> None:
    if isinstance(value, datetime.date) and not FIRST_DATE <= value <= LAST_DATE:
        raise ValidationError(f"must be between {FIRST_DATE} and {LAST_DATE}", code="range")


def _all(conditions):
    """One condition out of several (one constraint: on SQLite every added
    constraint rebuilds the table, so they are few and each says one thing)."""
    combined = models.Q(conditions[0])
    for condition in conditions[1:]:
        combined &= models.Q(condition)
    return combined


def _short_enough(names: dict):
    """Text not longer than attgit allows (SQLite ignores varchar lengths)."""
    return _all([LessThanOrEqual(Length(column), MAX_LENGTHS[field]) for column, field in names.items()])


class Company(models.Model):
    name = models.CharField(max_length=MAX_LENGTHS["company"], unique=True, validators=[validate_trimmed])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"
        constraints = [
            models.CheckConstraint(
                condition=_all([Trimmed("name"), ~models.Q(name="")]) & _short_enough({"name": "company"}),
                name="company_name_valid",
                violation_error_message="a company name must not be empty, start or end with spaces, contain a "
                                        f"NUL character or be longer than {MAX_LENGTHS['company']} characters"),
        ]

    def __str__(self) -> str:
        return self.name


_TEXT = ("ep_no", "ep_name", "shift", "overstay")


class AttendanceRecord(models.Model):
    """One employee's attendance on one day.

    The unique key is (ep_no, company, date).  Its index is declared in the
    order (company, date, ep_no), the order a company's rows are read in
    for a snapshot, so one index serves both the key and the stream; the
    foreign key therefore needs no index of its own.
    """

    STATUS_CHOICES = list(STATUSES.items())

    ep_no = models.CharField("employee no.", max_length=MAX_LENGTHS["ep_no"], validators=[validate_trimmed])
    ep_name = models.CharField("employee name", max_length=MAX_LENGTHS["ep_name"], blank=True,
                               validators=[validate_trimmed])
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="records", db_index=False
    )
    date = models.DateField(validators=[validate_date_range])
    shift = models.CharField(max_length=MAX_LENGTHS["shift"], blank=True, validators=[validate_trimmed])
    status = models.CharField(max_length=MAX_LENGTHS["status"], choices=STATUS_CHOICES)
    in_time = models.TimeField(null=True, blank=True, validators=[validate_whole_seconds])
    out_time = models.TimeField(null=True, blank=True, validators=[validate_whole_seconds])
    overstay = models.CharField(max_length=MAX_LENGTHS["overstay"], blank=True, validators=[validate_trimmed])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        # What attgit can commit exactly, enforced by the database itself
        # (attgit.format.records decides it; django_adapter.constraints says
        # it in SQL); migration 0006 repairs or names rows stored before.
        constraints = [
            models.UniqueConstraint(
                fields=["company", "date", "ep_no"], name="attendance_record_key"
            ),
            models.CheckConstraint(condition=models.Q(status__in=list(STATUSES)), name="attendance_status_known",
                                   violation_error_message="status must be one of " + ", ".join(STATUSES)),
            models.CheckConstraint(
                condition=_all([Trimmed(f) for f in _TEXT]) & ~models.Q(ep_no=""), name="attendance_text_trimmed",
                violation_error_message="employee no. is required, and no text may start or end with spaces "
                                        "or contain a NUL character"),
            models.CheckConstraint(condition=_short_enough({f: f for f in _TEXT}), name="attendance_text_length",
                                   violation_error_message="a text field is longer than attgit allows"),
            models.CheckConstraint(
                condition=_all([CalendarDate("date"), models.Q(date__gte=FIRST_DATE, date__lte=LAST_DATE)]),
                name="attendance_date_valid",
                violation_error_message=f"date must be a real date between {FIRST_DATE} and {LAST_DATE}"),
            models.CheckConstraint(condition=_all([TimeOfDay("in_time"), TimeOfDay("out_time")]),
                                   name="attendance_times_valid",
                                   violation_error_message="in and out times must be HH:MM or HH:MM:SS"),
        ]
        # The admin's list order (newest day first): its first page at a
        # million rows reads 100 index entries instead of sorting the table.
        indexes = [models.Index(fields=["-date", "company", "ep_no"], name="attendance_admin_order")]

    def __str__(self) -> str:
        return f"{self.ep_no} @ {self.company_id} on {self.date}"


class User(AbstractUser):
    """The example site's user: a root user sees and syncs everything; a
    company user sees one company.

    Optional: this model is active only in a project whose
    ``AUTH_USER_MODEL`` is ``"attendance.User"`` (as the example site's).
    Any other project keeps its own user model (Django's ``auth.User``
    included) and this one is swapped out, as ``auth.User`` is when a
    project names another: no table, no checks, no reverse accessors.
    Whether a user is root is decided by :func:`django_adapter.access.is_root`
    for every user model.
    """

    ROOT = "root"
    COMPANY = "company"
    ROLE_CHOICES = [(ROOT, "Root"), (COMPANY, "Company user")]

    role = models.CharField(max_length=16, choices=ROLE_CHOICES, default=COMPANY)
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="users"
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def is_root(self) -> bool:
        from .access import is_root

        return is_root(self)


class BackupLog(models.Model):
    """Audit log for backup, restore and every attgit operation.

    The design document's model, with ``user`` nullable (a command run
    from a shell may have no account) and kept when a user is deleted, so
    the audit trail outlives accounts; ``actor`` always names who acted.
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
        ("scheduled", "Scheduled snapshot"),
        ("verify_database", "Database check"),
    ]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # Who did it, by name: the user's name, or the operator's login when a
    # command ran from a shell with no root account of that name.
    actor = models.CharField(max_length=150, blank=True)
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
        # Makes a user root under the default ATTGIT_IS_ROOT hook.
        permissions = [("backup_restore", "Can back up, restore and sync attendance data")]

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
    #: The change-log triggers' identity when attgit last trusted them
    #: (:func:`django_adapter.changelog.doubts`): it differs once they were
    #: dropped and created again.
    capture = models.TextField(blank=True, default="")

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


def remote_url_validator(url: str) -> None:
    """Refuse a URL whose transport attgit does not allow (``fd::``,
    ``ext::``, an option, another scheme) with the library's own message,
    so the admin's form names it and nothing is saved (git's config
    included) instead of the save failing half-way."""
    from attgit.errors import UsageError
    from attgit.repo.transport import check_url

    try:
        check_url(url)
    except UsageError as exc:
        raise ValidationError(str(exc), code="transport") from None


class Remote(models.Model):
    """A git remote the root user syncs with (a URL or a path).

    The repository's git config is the truth (:mod:`django_adapter.remotes`):
    saving or deleting a Remote writes the config, and the admin refreshes
    this table from it, so ``attgit remote add`` and the admin agree.
    """

    name = models.CharField(max_length=64, unique=True, validators=[remote_name_validator])
    url = models.CharField(max_length=1000, validators=[remote_url_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def save(self, *args, **kwargs):
        from .remotes import save_remote

        save_remote(self, lambda: super(Remote, self).save(*args, **kwargs))


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
    """A long operation started from a web page (or the admin) and run by a
    background worker of Django's tasks framework, outside the request and
    outside the web server's processes (:mod:`django_adapter.jobs`).

    The worker writes this row when it starts and when it ends; while it
    runs, its progress and heartbeat go to a small file beside it, because
    the apply holds the database's one write transaction until it is done.
    A job whose worker died is marked ``interrupted`` by whoever looks at
    it next, and can be retried (``retry_of`` links the new attempt).
    """

    BACKUP, PREVIEW, IMPORT, CHECKOUT = "backup", "preview", "import", "checkout"
    CONCLUDE, ABORT, RESOLVE = "conclude", "abort", "resolve"
    SYNC_PREVIEW, SYNC = "sync_preview", "sync"
    KIND_CHOICES = [
        (BACKUP, "Backup"),
        (PREVIEW, "Preview of a restore"),
        (IMPORT, "Restore from a backup file"),
        (CHECKOUT, "Restore a snapshot"),
        (CONCLUDE, "Conclude a merge"),
        (ABORT, "Abort a merge"),
        (RESOLVE, "Resolve conflicts"),
        (SYNC_PREVIEW, "Preview of a sync"),
        (SYNC, "Sync from a remote"),
    ]
    QUEUED, RUNNING, DONE, FAILED, INTERRUPTED = "queued", "running", "done", "failed", "interrupted"
    STATUS_CHOICES = [(QUEUED, "Queued"), (RUNNING, "Running"), (DONE, "Done"), (FAILED, "Failed"),
                      (INTERRUPTED, "Interrupted")]

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
    task_id = models.CharField(max_length=64, blank=True)
    retry_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="retries")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.DONE, self.FAILED, self.INTERRUPTED)

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class ScheduleSlot(models.Model):
    """One due time of a schedule (ATTGIT_SCHEDULE), claimed by the run
    that acts on it.

    The unique (kind, slot) is what makes a due time run once: every
    scheduler process, however many run and however often they restart,
    claims the slot by inserting this row first, and the database lets one
    insert through.  A failed run gives its slot back (the row is deleted)
    so the next look retries it; a run whose process died stays ``running``.
    """

    RUNNING, DONE = "running", "done"
    kind = models.CharField(max_length=16)
    slot = models.DateTimeField()
    status = models.CharField(max_length=16, default=RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-slot"]
        constraints = [models.UniqueConstraint(fields=["kind", "slot"], name="schedule_slot_once")]

    def __str__(self) -> str:
        return f"{self.kind} at {self.slot:%Y-%m-%d %H:%M} ({self.status})"
