"""attgit: git for attendance data.

The public API is what ``__all__`` names; everything else is private and may
change.  The library never imports Django: a database takes part through
the :class:`WorkingCopy` protocol (:class:`MemoryWorkingCopy` is a complete
one in memory).  A user's guide with runnable examples: docs/api.md.

    import attgit
    repo = attgit.Repository.init("attendance.git")
    attgit.snapshot(repo, db).commit        # db: a WorkingCopy

Names are imported on first use (PEP 562), so ``import attgit`` (and the
CLI's start-up) does not pay for pygit2 and the merge machinery.
"""

# ruff: noqa: F401 - the TYPE_CHECKING imports below are the re-exports type checkers see

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    # the repository
    "Repository": "attgit.repo.repository",
    "Author": "attgit.repo.repository",
    # the working-copy protocol and the in-memory working copy
    "WorkingCopy": "attgit.workingcopy",
    "MemoryWorkingCopy": "attgit.workingcopy",
    "DatabaseState": "attgit.workingcopy",
    "normalise_record": "attgit.api",
    # operations
    "snapshot": "attgit.api",
    "status": "attgit.api",
    "diff": "attgit.api",
    "pull": "attgit.api",
    "clone": "attgit.api",
    "import_backup": "attgit.api",
    "export_backup": "attgit.api",
    "verify": "attgit.api",
    # the error family and the CLI's exit codes
    "ExitCode": "attgit.errors",
    "AttgitError": "attgit.errors",
    "UsageError": "attgit.errors",
    "NotFound": "attgit.errors",
    "ValidationError": "attgit.errors",
    "ChecksumMismatch": "attgit.errors",
    "NotARepository": "attgit.errors",
    "Locked": "attgit.errors",
    "ConflictsPending": "attgit.errors",
    "Rejected": "attgit.errors",
    "RemoteError": "attgit.errors",
    "DatabaseError": "attgit.errors",
    "ConfigError": "attgit.errors",
    "IntegrityError": "attgit.errors",
    "CorruptObject": "attgit.errors",
    "PermissionDenied": "attgit.errors",
    "NoSpace": "attgit.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports on use
    from attgit.api import (
        clone,
        diff,
        export_backup,
        import_backup,
        normalise_record,
        pull,
        snapshot,
        status,
        verify,
    )
    from attgit.errors import (
        AttgitError,
        ChecksumMismatch,
        ConfigError,
        ConflictsPending,
        CorruptObject,
        DatabaseError,
        ExitCode,
        IntegrityError,
        Locked,
        NoSpace,
        NotARepository,
        NotFound,
        PermissionDenied,
        Rejected,
        RemoteError,
        UsageError,
        ValidationError,
    )
    from attgit.repo.repository import Author, Repository
    from attgit.workingcopy import DatabaseState, MemoryWorkingCopy, WorkingCopy


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'attgit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
