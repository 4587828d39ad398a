"""The project's attgit repository, and who acts on it.

:func:`open_as` is the one door every Django entry point goes through
(the ``attgit`` command's Django backend, the management commands, the
admin's sync, the web pages' jobs): it decides who acts
(:mod:`django_adapter.access`), opens the ATTGIT_REPO repository (creating
it where the caller asks) and builds the commit author from that actor.
:func:`open_repository` is its repository half, for pages that only read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from django.conf import settings

from attgit.errors import ConfigError
from attgit.repo.repository import Author, Repository

from .access import Actor, acting, is_root, operator_login


def repo_path() -> Path:
    path = getattr(settings, "ATTGIT_REPO", None)
    if not path:
        raise ConfigError("the ATTGIT_REPO setting is not set: name the bare repository attgit keeps")
    return Path(path)


def open_repository(create: bool = True) -> Repository:
    """The repository at ATTGIT_REPO, created on first use when ``create``."""
    path = repo_path()
    if create and (not path.exists() or (path.is_dir() and not any(path.iterdir()))):
        path.parent.mkdir(parents=True, exist_ok=True)
        return Repository.init(path, getattr(settings, "ATTGIT_SHARED", None))
    return Repository.open(path)


@dataclass(frozen=True)
class Opened:
    """An open repository and who acts on it."""

    repo: Repository
    author: Author
    actor: Actor

    @property
    def user(self) -> Any:
        return self.actor.user


def open_as(who=None, *, create: bool = True, using: str = "default") -> Opened:
    """Open the repository for ``who`` and build its author.

    ``who`` is a user object (a page's or a job's user, checked to be root),
    a username (a command's ``--user``: it must be an active root user), an
    :class:`Actor` already decided, or None (``$ATTGIT_USER``, else the
    operator at the shell).  Refusals are :class:`attgit.errors.PermissionDenied`
    and happen before the repository is touched.
    """
    actor = resolve_actor(who, using)
    return Opened(open_repository(create), author_for(actor), actor)


def resolve_actor(who=None, using: str = "default") -> Actor:
    """``who`` (see :func:`open_as`) as an Actor; PermissionDenied when a
    named or given user may not act."""
    from attgit.errors import PermissionDenied
    from attgit.format.backup import ERROR_MESSAGES

    if isinstance(who, Actor):
        return who
    if who is None or isinstance(who, str):
        return acting(who, using)
    if not is_root(who):
        raise PermissionDenied(f"{ERROR_MESSAGES['permission_denied']}: user {who.get_username()!r} is not root")
    return Actor.of(who)


def author_for(who: Optional[Any]) -> Author:
    """The commit author for an Actor or a user (None: the operator's login).

    ``$ATTGIT_EMAIL`` is the email of an actor without one;
    ``$ATTGIT_COMMIT_TIME`` (seconds since the epoch) fixes the time, for
    reproducible commit ids in tests and demos.
    """
    actor = who if isinstance(who, Actor) else (Actor.of(who) if who is not None else Actor(operator_login()))
    when = os.environ.get("ATTGIT_COMMIT_TIME")
    return Author(actor.name, actor.email or os.environ.get("ATTGIT_EMAIL", ""), int(when) if when else None)
