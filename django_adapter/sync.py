"""Sync the database from a remote: what the admin's "Sync from remote"
action does for a :class:`~django_adapter.models.Remote`.

The same steps as ``attgit pull NAME``, through the same door (one writer
at a time, a crash's leftovers reconciled first), in two background jobs
(:mod:`django_adapter.web.jobs`), never inside a request:

1. the preview (:func:`run_sync_preview`): the remote is written into the
   repository's git config and fetched, and the merge is worked out
   without applying it -- counts and conflicts for the admin's preview page;
2. once the person confirms, the sync (:func:`run_sync`) merges exactly the
   commit that was previewed into the database, with the strategy shown
   on the preview (:func:`sync_strategy`).

The outcome is data (a :class:`SyncReport`) that the job page shows, and
one BackupLog row (operation "sync"), success or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages

from attgit.errors import AttgitError, NotFound
from attgit.merge.strategy import parse_strategy
from attgit.ops.pull import pull_commit
from attgit.ops.reconcile import exclusive
from attgit.repo.transport import fetch, remote_tip, set_remote
from attgit.words import plural

from .audit import log_operation
from .repository import open_as
from .workingcopy import connect

#: Conflicts a sync preview lists (the count covers all).
PREVIEW_CONFLICTS = 50


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
    def level_tag(self) -> str:
        return {messages.ERROR: "error", messages.WARNING: "warning"}.get(self.level, "success")

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
        text = (f"Synced from {self.remote} ({self.status}): {self.added:,} added, {self.updated:,} updated, "
                f"{self.deleted:,} deleted, {self._conflicts()}")
        return text + (f"; main at {self.commit[:10]}." if self.commit and not self.pending else ".")

    def _conflicts(self) -> str:
        if self.pending:
            return (f"{plural(self.pending, 'conflict')} {'waits' if self.pending == 1 else 'wait'} for you: "
                    "resolve them on the Conflicts page (or attgit conflicts, attgit resolve) or abort the merge")
        if self.conflicts:
            return f"{plural(self.conflicts, 'conflict')} resolved by the {self.strategy!r} strategy"
        return "no conflicts"


def sync_strategy() -> str:
    """The strategy of the admin's sync: ATTGIT_PULL_STRATEGY, else
    ``manual`` (conflicts wait for a person, as `attgit pull` does; file
    restores keep ATTGIT_DEFAULT_STRATEGY, the design document's backup_wins)."""
    return parse_strategy(getattr(settings, "ATTGIT_PULL_STRATEGY", None) or "manual")


def sync_remote(remote, user=None, strategy: str | None = None) -> SyncReport:
    """Fetch ``remote`` and merge it into the database; never raises an
    AttgitError (it becomes a failed report and a failed BackupLog row)."""
    strategy = strategy or sync_strategy()
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
    opened, db = open_as(user), connect()
    repo = opened.repo
    with exclusive(repo, db):
        set_remote(repo, remote.name, remote.url)
        fetch(repo, remote.name)
        result = pull_commit(repo, db, opened.author, remote_tip(repo, remote.name), remote.name, strategy=strategy)
    return _report(remote.name, result, strategy)


# --- the two jobs ------------------------------------------------------------------------

def _remote_of(job):
    from .models import Remote

    remote = Remote.objects.filter(pk=job.params["remote_id"]).first()
    if remote is None:
        raise NotFound(f"the remote {job.params.get('remote', '')!r} is no longer in the Remote list")
    return remote


def run_sync_preview(job, progress) -> dict:
    """Fetch the remote and work out what merging it would do; apply nothing."""
    from .web import confirm
    from .web.display import conflict_view

    remote, strategy = _remote_of(job), job.params.get("strategy") or sync_strategy()
    opened, db = open_as(job.user), connect()
    repo = opened.repo
    seen = confirm.state(repo)  # what this preview is of (a fetch moves no branch of ours)
    try:
        progress.phase(f"Fetching {remote.name}")
        set_remote(repo, remote.name, remote.url)
        fetch(repo, remote.name)
        theirs = remote_tip(repo, remote.name)
        progress.phase("Comparing with the database")
        result = pull_commit(repo, db, opened.author, theirs, remote.name, strategy=strategy, preview=True)
    except AttgitError as exc:
        log_operation("sync", job.user, success=False, error=str(exc), remote=remote.name, url=remote.url,
                      stage="preview", job=str(job.pk))
        raise
    counts = result.counts
    return {
        "remote": remote.name, "url": remote.url, "theirs": str(theirs), "strategy": strategy, "state": seen,
        "status": result.status, "fast_forward": result.fast_forward,
        "counts": {"add": counts.get("inserts", 0), "update": counts.get("updates", 0),
                   "delete": counts.get("deletes", 0), "conflicts": len(result.conflicts)},
        "conflicts": [conflict_view(c).to_dict() for c in result.conflicts[:PREVIEW_CONFLICTS]],
        "conflict_count": len(result.conflicts),
    }


def run_sync(job, progress) -> dict:
    """Merge the previewed commit of the remote into the database."""
    from .web import confirm, jobs

    remote, strategy = _remote_of(job), job.params["strategy"]
    opened, db = open_as(job.user), connect()
    repo = opened.repo
    try:
        if "expect" in job.params and not job.params.get("confirmed"):
            confirm.check_state(job.params["expect"], confirm.state(repo))
            jobs.mark_confirmed(job)
        if not repo.contains(job.params["theirs"]):
            raise NotFound(f"the previewed commit {job.params['theirs'][:10]} of {remote.name} is gone: "
                           "preview the sync again")
        theirs = repo.resolve(job.params["theirs"])
        progress.phase(f"Merging {remote.name}")
        result = pull_commit(repo, db, opened.author, theirs, remote.name, strategy=strategy,
                             progress=progress.counter("Writing records"))
    except AttgitError as exc:
        log_operation("sync", job.user, success=False, error=str(exc), remote=remote.name, url=remote.url,
                      job=str(job.pk))
        raise
    report = _report(remote.name, result, strategy)
    log_operation("sync", job.user, commit=report.commit, added=report.added, updated=report.updated,
                  deleted=report.deleted, conflicts=report.conflicts, pending=report.pending,
                  status=report.status, strategy=strategy, remote=remote.name, url=remote.url, job=str(job.pk))
    return {**report.__dict__, "message": report.message(), "level": report.level_tag}


def _report(name: str, result, strategy: str) -> SyncReport:
    counts = result.counts
    return SyncReport(name, result.status, counts.get("inserts", 0), counts.get("updates", 0),
                      counts.get("deletes", 0), len(result.conflicts),
                      len([c for c in result.conflicts if c.resolution is None]), strategy, result.commit or "")
