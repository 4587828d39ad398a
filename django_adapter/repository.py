"""The project's attgit repository, as the Django settings name it."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from attgit.errors import ConfigError
from attgit.repo.repository import Author, Repository


def repo_path() -> Path:
    path = getattr(settings, "ATTGIT_REPO", None)
    if not path:
        raise ConfigError("the ATTGIT_REPO setting is not set: name the bare repository attgit keeps")
    return Path(path)


def open_repository(create: bool = True) -> Repository:
    """The repository at ATTGIT_REPO, created on first use when ``create``."""
    path = repo_path()
    if create and (not path.exists() or not any(path.iterdir())):
        path.parent.mkdir(parents=True, exist_ok=True)
        return Repository.init(path)
    return Repository.open(path)


def author_for(user) -> Author:
    """The commit author for a Django user (or the shell's user when None)."""
    from attgit.repo.repository import default_author

    if user is None:
        return default_author()
    return Author(user.get_username(), getattr(user, "email", "") or "")
