"""Who may do what: one place decides it, for the pages, the admin, the
management commands and the ``attgit`` command.

- **Is this user root?**  :func:`is_root`, through one hook: the
  ``ATTGIT_IS_ROOT`` setting names a callable ``(user) -> bool`` (a dotted
  path such as ``"myproject.auth.can_sync"``).  Without it,
  :func:`default_is_root`: an active superuser, a user whose ``role`` is
  ``"root"`` (when the user model has a role), or one holding the
  permission ``attendance.backup_restore``.  So the app works with any
  user model, Django's own ``auth.User`` included.
- **Who acts in a command?**  :func:`acting`: a command given a user
  (``--user``, ``$ATTGIT_USER``) acts as that user, who must exist, be
  active and be root, or it is refused (:class:`PermissionDenied`, exit
  code 13).  A command given none acts for the operator at the shell, by
  the shell's login: when the login names a user of the site, that user
  must be active and root as well (a company user does not become root by
  opening a shell); when it names none, whoever can run the command can
  already read the database, so a fresh environment with no users can
  still clone.  It is logged under the login name, and with the user
  where a root user of that name exists.
- **Which records does a user see?**  :func:`visible_records` (the design
  document's Property 1): root sees every company, a company user only
  their own, anybody else nothing.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from attgit.errors import ConfigError, PermissionDenied
from attgit.format.backup import ERROR_MESSAGES

from .models import AttendanceRecord

#: The permission that makes a user root under the default hook.
ROOT_PERMISSION = "attendance.backup_restore"


def default_is_root(user) -> bool:
    """Active, and a superuser, or ``role == "root"``, or holding
    ``attendance.backup_restore``."""
    if user is None or not getattr(user, "is_active", False) or not user.is_authenticated:
        return False
    if user.is_superuser or getattr(user, "role", None) == "root":
        return True
    return user.pk is not None and user.has_perm(ROOT_PERMISSION)


def _hook() -> Callable[[Any], bool]:
    path = getattr(settings, "ATTGIT_IS_ROOT", None)
    if not path:
        return default_is_root
    if callable(path):
        return path
    try:
        return import_string(path)
    except ImportError as exc:
        raise ConfigError(f"the ATTGIT_IS_ROOT setting names {path!r}, which cannot be imported: {exc}") from None


def is_root(user) -> bool:
    """True when ``user`` may back up, restore and sync (see the module)."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    return bool(_hook()(user))


@dataclass(frozen=True)
class Actor:
    """Who acts: ``name`` goes in commits and the audit log; ``user`` is the
    account (None for an operator at the shell with no root account)."""

    name: str
    user: Any = None
    email: str = ""

    @classmethod
    def of(cls, user) -> "Actor":
        return cls(user.get_username(), user, getattr(user, "email", "") or "")


def acting(username: Optional[str] = None, using: str = "default") -> Actor:
    """The actor of a command: ``username`` (else ``$ATTGIT_USER``), who
    must be an active root user; else the operator's login (see
    :func:`login_actor`)."""
    username = username or os.environ.get("ATTGIT_USER") or None
    if username:
        return Actor.of(named_root(username, using))
    return login_actor(operator_login(), using)


def login_actor(login: str, using: str = "default") -> Actor:
    """The operator at the shell: the site's user of the same name, who
    must then be an active root user (PermissionDenied otherwise, so that
    ``LOGNAME=acmeuser`` does not act as root); a login no user has acts
    under its own name."""
    User = get_user_model()
    user = User._default_manager.db_manager(using).filter(**{User.USERNAME_FIELD: login}).first()
    if user is None:
        return Actor(login)
    if not is_root(user):
        state = "not active" if not user.is_active else "not a root user"
        raise PermissionDenied(f"{ERROR_MESSAGES['permission_denied']}: your login {login!r} is the user "
                               f"{login!r} of this site, who is {state}; name a root user with --user NAME "
                               "or ATTGIT_USER")
    return Actor.of(user)


def named_root(username: str, using: str = "default"):
    """The active root user ``username``; PermissionDenied otherwise."""
    User = get_user_model()
    user = User._default_manager.db_manager(using).filter(**{User.USERNAME_FIELD: username}).first()
    denied = ERROR_MESSAGES["permission_denied"]
    if user is None:
        raise PermissionDenied(f"{denied}: there is no user {username!r} (given by --user or ATTGIT_USER)")
    if not user.is_active:
        raise PermissionDenied(f"{denied}: user {username!r} is not active")
    if not is_root(user):
        raise PermissionDenied(f"{denied}: user {username!r} is not a root user")
    return user


def root_named(name: str, using: str):
    User = get_user_model()
    user = User._default_manager.db_manager(using).filter(**{User.USERNAME_FIELD: name}).first()
    return user if user is not None and is_root(user) else None


def operator_login() -> str:
    """The login name of whoever runs the process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def visible_records(user, company_id: int | None = None) -> QuerySet:
    """The records ``user`` may see, newest day first.

    ``company_id`` narrows a root user's view to one company; it cannot
    widen a company user's.
    """
    records = AttendanceRecord.objects.select_related("company").order_by(
        "-date", "company__name", "ep_no"
    )
    if is_root(user):
        return records.filter(company_id=company_id) if company_id else records
    if user.is_authenticated and getattr(user, "company_id", None):
        return records.filter(company_id=user.company_id)
    return records.none()
