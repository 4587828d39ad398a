"""Sync the database from a remote: what the admin's "Sync from remote"
action does for each selected :class:`~django_adapter.models.Remote`.

The same steps as ``attgit pull NAME``, through the same door (one writer
at a time, a crash's leftovers reconciled first) and the same library
function (:func:`attgit.ops.pull.pull_remote`): the remote is written into
the repository's git config, fetched, and merged into the database with the
ATTGIT_PULL_STRATEGY setting (default ``manual``: conflicts wait for a
person and the database keeps its values; file restores keep
ATTGIT_DEFAULT_STRATEGY, backup_wins).  The outcome is data (a
:class:`SyncReport`) that the admin turns into a message, and one
BackupLog row (operation "sync"), success or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib import messages

from attgit.errors import AttgitError, ConfigError
from attgit.ops.pull import pull_remote
from attgit.ops.reconcile import exclusive
from attgit.repo.repository import Author, Repository
from attgit.repo.transport import set_remote

from .audit import log_operation
from .workingcopy import connect


@dataclass
class SyncReport:
    """What a sync did, or why it failed (``error``)."""

    remote: str
    status: str  # up-to-date | fast-forward | merged | conflicts | failed
    added: int = 0
    updated: int = 0
    deleted: int = 0
    conflicts: int = 0
    pending: int = 0
    strategy: str = ""
    commit: str = ""
    error: str = ""

    @property
    def level(self) -> int:
        """Error on failure, warning when conflicts arose, else success."""
        if self.status == "failed":
            return messages.ERROR
        return messages.WARNING if self.conflicts else messages.SUCCESS

    def message(self) -> str:
        if self.status == "failed":
            return f"Sync from {self.remote} failed: {self.error}"
        if self.status == "up-to-date":
            return f"Sync from {self.remote}: already up to date."
        text = (f"Synced from {self.remote} ({self.status}): {self.added} added, {self.updated} updated, "
                f"{self.deleted} deleted, {self._conflicts()}")
        return text + (f"; main at {self.commit[:10]}." if self.commit and not self.pending else ".")

    def _conflicts(self) -> str:
        if self.pending:
            return (f"{self.pending} conflict(s) wait for you: resolve them (attgit conflicts, attgit resolve) "
                    "or abort the merge (attgit merge --abort)")
        if self.conflicts:
            return f"{self.conflicts} conflict(s) resolved by the {self.strategy!r} strategy"
        return "no conflicts"


def repository() -> Repository:
    """The ATTGIT_REPO repository, created on the first sync."""
    path = getattr(settings, "ATTGIT_REPO", "")
    if not path:
        raise ConfigError("the ATTGIT_REPO setting is empty: set it to the path of the bare repository")
    return Repository.open(path) if Path(path).exists() else Repository.init(path)


def author(user) -> Author:
    return Author(user.get_username(), getattr(user, "email", "") or "") if user else Author("attgit")


def sync_remote(remote, user=None, strategy: str | None = None) -> SyncReport:
    """Fetch ``remote`` and merge it into the database; never raises an
    AttgitError (it becomes a failed report and a failed BackupLog row)."""
    strategy = strategy or pull_strategy()
    try:
        report = _pull(remote, user, strategy)
    except AttgitError as exc:
        log_operation("sync", user, success=False, error=str(exc), remote=remote.name, url=remote.url)
        return SyncReport(remote.name, "failed", strategy=strategy, error=str(exc))
    log_operation("sync", user, commit=report.commit, added=report.added, updated=report.updated,
                  deleted=report.deleted, conflicts=report.conflicts, pending=report.pending,
                  status=report.status, strategy=strategy, remote=remote.name, url=remote.url)
    return report


def pull_strategy() -> str:
    """The admin sync's default conflict strategy: ATTGIT_PULL_STRATEGY,
    else manual (git's habit: a pull stops on conflicts)."""
    return getattr(settings, "ATTGIT_PULL_STRATEGY", "manual")


def _pull(remote, user, strategy: str) -> SyncReport:
    repo, db = repository(), connect()
    with exclusive(repo, db):
        set_remote(repo, remote.name, remote.url)
        result = pull_remote(repo, db, author(user), remote.name, strategy=strategy)
    counts = result.counts
    return SyncReport(remote.name, result.status, counts.get("inserts", 0), counts.get("updates", 0),
                      counts.get("deletes", 0), len(result.conflicts),
                      len([c for c in result.conflicts if c.resolution is None]), strategy, result.commit or "")
