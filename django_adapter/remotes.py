"""Remotes have one source of truth: the repository's git config.

``attgit remote add``, ``git remote add`` and the admin all see the same
remotes.  The :class:`~django_adapter.models.Remote` table is the admin's
view of that config, not a second list:

- saving a Remote writes the remote into the git config (in the same
  transaction as the row: if git refuses, the row is not saved), and a
  renamed one leaves its old name behind;
- deleting Remotes (one, or the admin's "delete selected") removes them
  from the git config;
- :func:`refresh_from_repository` makes the table equal to the git config
  (adds, updates URLs, deletes rows whose remote is gone); the admin runs
  it before it lists or opens remotes.

Bulk queryset writes (``bulk_create``, ``update``) bypass the first rule,
as they bypass ``save()``; the refresh repairs the table from the config.
"""

from __future__ import annotations

from typing import Optional

from django.db import transaction

from attgit.repo.repository import Repository
from attgit.repo.transport import list_remotes, remove_remote, set_remote

from .repository import open_repository, repo_path

#: How long a remote's write waits for another attgit writer.
LOCK_WAIT = 10.0


def existing_repository() -> Optional[Repository]:
    """The ATTGIT_REPO repository if it has been created, else None."""
    path = repo_path()
    if not path.exists() or not any(path.iterdir()):
        return None
    return Repository.open(path)


def save_remote(remote, save) -> None:
    """Save the row (``save()``) and write the remote to the git config, both or neither."""
    from .models import Remote

    with transaction.atomic(using=remote._state.db or "default"):
        old = Remote.objects.filter(pk=remote.pk).values_list("name", flat=True).first() if remote.pk else None
        save()
        repo = open_repository(create=True)
        with repo.lock(LOCK_WAIT):
            set_remote(repo, remote.name, remote.url)
            if old and old != remote.name and old in repo.git.remotes.names():
                remove_remote(repo, old)


def forget_remote(name: str) -> None:
    """Remove ``name`` from the git config, if it is there."""
    repo = existing_repository()
    if repo is None:
        return
    with repo.lock(LOCK_WAIT):
        if name in repo.git.remotes.names():
            remove_remote(repo, name)


def refresh_from_repository(using: str = "default") -> None:
    """Make the Remote table equal to the repository's git config."""
    from .models import Remote

    repo = existing_repository()
    config = {r["name"]: r["url"] for r in list_remotes(repo)} if repo is not None else {}
    config = {name: url for name, url in config.items() if len(name) <= 64 and len(url) <= 1000}
    table = dict(Remote.objects.using(using).values_list("name", "url"))
    with transaction.atomic(using=using):
        Remote.objects.using(using).bulk_create(
            [Remote(name=n, url=u) for n, u in config.items() if n not in table], ignore_conflicts=True)
        for name, url in config.items():
            if name in table and table[name] != url:
                Remote.objects.using(using).filter(name=name).update(url=url)
        gone = [name for name in table if name not in config]
        if gone:
            Remote.objects.using(using).filter(name__in=gone).delete()  # not in the config: nothing to remove
