"""How the CLI finds a database without the library importing one.

A backend is named by ``module:function`` (``--backend`` or
``$ATTGIT_BACKEND``); the default is the Django adapter.  The function takes
the settings name (or None) and returns a :class:`Backend`.  The import is
by name at run time, so ``attgit`` itself never imports Django.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from typing import Callable, Optional

from attgit.errors import AttgitError, ConfigError
from attgit.repo.repository import Author
from attgit.workingcopy import WorkingCopy

DEFAULT_BACKEND = "django_adapter.backend:open_backend"


def _no_log(operation: str, **details) -> None:
    """Backends without an audit log accept and drop entries."""


def _no_explanation(exc: BaseException) -> Optional[AttgitError]:
    """Backends whose errors are all attgit errors explain nothing."""
    return None


@dataclass
class Backend:
    """A database and its surroundings, as the CLI needs them."""

    db: WorkingCopy
    repo_path: Optional[str] = None
    author: Optional[Author] = None
    default_strategy: str = "theirs"
    log: Callable[..., None] = field(default=_no_log)
    #: the site's time zone: how ``--since`` dates are read (UTC without a site)
    time_zone: Optional[dt.tzinfo] = None
    #: the GnuPG home holding the private key of encrypted backup files
    gnupghome: Optional[str] = None
    #: bytes a compressed or encrypted backup file may expand to (None: the library's default)
    decompressed_limit: Optional[int] = None
    # Who acts: given the user named by --user/$ATTGIT_USER (or None for the
    # operator at the shell), the commit author; raises PermissionDenied when
    # that user may not act.  None: the name is taken as given (no accounts).
    identify: Optional[Callable[[Optional[str]], Author]] = None
    #: The attgit error for one of the database's own exceptions (a database
    #: that cannot be reached, tables not created yet), or None: the CLI asks
    #: before it calls an exception an internal error.
    explain: Callable[[BaseException], Optional[AttgitError]] = field(default=_no_explanation)
    #: the database in a person's words (engine, name, host, settings):
    #: said by `attgit status` and, under -v, by every writing command
    database: Optional[str] = None


def load_backend(spec: str, settings: Optional[str]) -> Backend:
    """Import ``module:function`` and call it with the settings name."""
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise ConfigError(f"backend {spec!r} is not of the form module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import backend module {module_name!r}: {exc}") from None
    opener = getattr(module, function, None)
    if opener is None:
        raise ConfigError(f"backend module {module_name!r} has no function {function!r}")
    return opener(settings)
