"""One error family for attgit.

Every error derives from :class:`AttgitError`, and also from a builtin where
one fits, so callers can catch either.  Each class carries the CLI exit code
it maps to; the table lives here, in one place, and the CLI only reads it.
Messages say what was wrong, where, and what to do.
"""

from __future__ import annotations

from attgit.words import plural


class ExitCode:
    """The CLI's stable exit codes (documented in the README)."""

    OK = 0
    ERROR = 1  # uncategorised attgit error
    USAGE = 2  # wrong argument (also click's own usage errors)
    NOT_FOUND = 3  # unknown commit, remote, conflict id, file
    INVALID_DATA = 4  # a record, backup file or snapshot failed validation
    NOT_A_REPOSITORY = 5
    LOCKED = 6  # another attgit process holds the repository or database
    CONFLICTS = 7  # a merge left conflicts to resolve
    REJECTED = 8  # non-fast-forward push, ref moved under us
    REMOTE = 9  # remote unreachable or not an attgit repository
    DATABASE = 10  # database error during apply (rolled back)
    CONFIG = 11  # invalid settings or configuration, database not migrated
    NOTHING_TO_COMMIT = 0  # not an error: said on stdout, exit 0
    INTEGRITY = 12  # verify found a problem; a damaged object in the repository
    PERMISSION_DENIED = 13  # the acting user is unknown, inactive or not root
    NO_SPACE = 14  # not enough free disk space for a backup file or a commit


class AttgitError(Exception):
    """Root of every error attgit raises on purpose."""

    exit_code = ExitCode.ERROR


class UsageError(AttgitError, ValueError):
    """A wrong argument or a request that makes no sense now (exit 2)."""

    exit_code = ExitCode.USAGE


class NoMergeInProgress(UsageError):
    """`resolve`, `merge --abort|--continue` with no merge waiting: one
    message and one exit code for all of them."""

    def __init__(self, message: str = "no merge in progress: nothing to resolve, abort or conclude"):
        super().__init__(message)


class NotFound(AttgitError, KeyError):
    """An unknown commit, remote, conflict id, company or file (exit 3)."""

    exit_code = ExitCode.NOT_FOUND

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ValidationError(AttgitError, ValueError):
    """Bad data: a record, a backup file, a snapshot.

    ``where`` names the place (file, line or record number, key, field) so a
    person can find it.
    """

    exit_code = ExitCode.INVALID_DATA

    def __init__(self, message: str, where: str | None = None):
        self.message = message
        self.where = where
        super().__init__(f"{message} ({where})" if where else message)

    @property
    def problems(self) -> list:
        """Every problem found (this one alone; :class:`Problems` holds several)."""
        return [self]

    @property
    def total(self) -> int:
        """How many problems were found, counting those beyond ``problems``."""
        return 1


class Problems(ValidationError):
    """Several problems in one input (a backup file), found in one pass.

    ``problems`` holds the first ones (at most the reader's cap), each a
    ValidationError with its place; ``total`` counts them all.  The message
    is the first problem's, then how many more, so a one-line display still
    starts with what is wrong and where.
    """

    def __init__(self, problems: list, total: int | None = None):
        self._problems = list(problems)
        self._total = max(total or 0, len(self._problems))
        first = self._problems[0]
        more = self._total - 1
        super().__init__(first.message, first.where)
        if more:
            self.args = (f"{self.args[0]}; and {plural(more, 'more problem')}",)

    @property
    def problems(self) -> list:
        return self._problems

    @property
    def total(self) -> int:
        return self._total


class ChecksumMismatch(ValidationError):
    """A record's stored checksum is not the hash of its content."""

    #: Characters of a checksum a message shows (``.expected``/``.got`` keep all 64).
    SHOWN = 12

    def __init__(self, expected: str, got: str, where: str | None = None):
        self.expected = expected
        self.got = got
        super().__init__(
            f"checksum mismatch: stored {short_checksum(expected)}, content hashes to {short_checksum(got)}",
            where,
        )


def short_checksum(value: str) -> str:
    """A checksum as a person reads it: its first 12 characters (git's
    habit with commit ids), quoted; other values quoted whole."""
    text = str(value)
    if len(text) > ChecksumMismatch.SHOWN and all(c in "0123456789abcdef" for c in text.lower()):
        return repr(text[:ChecksumMismatch.SHOWN] + "…")
    return repr(text)


def problem_lines(exc: Exception) -> list:
    """Every problem of an error that found several (a backup file's), one a
    line, and how many more were found beyond those listed; [] for one."""
    problems = getattr(exc, "problems", [exc])
    total = getattr(exc, "total", 1)
    if total <= 1:
        return []
    lines = [f"  {n}. {p}" for n, p in enumerate(problems, 1)]
    if total > len(problems):
        lines.append(f"  ... and {total - len(problems):,} more")
    return lines


class InvalidRows(ValidationError):
    """Rows the database holds that cannot be committed exactly, all of
    them at once (``rows``: :class:`attgit.ops.validity.InvalidRow`), so a
    person fixes the data once instead of meeting one bad field per try."""

    def __init__(self, rows: list, shown: int = 50):
        self.rows = list(rows)
        lines = [f"  {row.describe()}" for row in self.rows[:shown]]
        if len(self.rows) > shown:
            lines.append(f"  ... and {len(self.rows) - shown:,} more (attgit status --json lists all)")
        super().__init__(
            f"{len(self.rows):,} row{'' if len(self.rows) == 1 else 's'} in the database cannot be committed; fix or delete them "
            "(nothing was committed):\n" + "\n".join(lines)
        )


class NotARepository(AttgitError):
    """The path is not an attgit repository, and why (exit 5)."""

    exit_code = ExitCode.NOT_A_REPOSITORY


class Locked(AttgitError):
    """Another attgit process holds the repository or the database (exit 6)."""

    exit_code = ExitCode.LOCKED


class ConflictsPending(AttgitError):
    """A manual merge waits for a person: conflicts to resolve (exit 7)."""

    exit_code = ExitCode.CONFLICTS


class Rejected(AttgitError):
    """A push that is not a fast-forward, or a ref that moved underneath (exit 8)."""

    exit_code = ExitCode.REJECTED


class RemoteError(AttgitError):
    """A remote that cannot be reached or is not an attgit repository (exit 9)."""

    exit_code = ExitCode.REMOTE


class DatabaseError(AttgitError):
    """The database failed: unreachable, or an error during apply (rolled back)."""

    exit_code = ExitCode.DATABASE


class ConfigError(AttgitError):
    """Invalid settings or configuration, or a database not migrated (exit 11)."""

    exit_code = ExitCode.CONFIG


class IntegrityError(AttgitError):
    """Verification found a problem in the repository (exit 12)."""

    exit_code = ExitCode.INTEGRITY


class NoSpace(AttgitError, OSError):
    """Not enough free disk space: refused before anything was written."""

    exit_code = ExitCode.NO_SPACE


class PermissionDenied(AttgitError, PermissionError):
    """The acting user may not do this (only root users back up, restore
    and sync)."""

    exit_code = ExitCode.PERMISSION_DENIED


class CorruptObject(IntegrityError):
    """A git object that is in the repository but cannot be read (a flipped
    bit, a truncated file), or that a snapshot needs and is missing.

    Keeps ``.oid``, and where known the ``.commit`` and ``.path`` that lead to
    it, so the message names what is damaged and where it is used; the
    remedy is the same for every command: `attgit verify` lists all the
    damage, `attgit fetch --repair REMOTE` fetches the objects again.
    """

    def __init__(self, oid: str, detail: str, commit: str | None = None, path: str | None = None,
                 kind: str | None = None):
        self.oid, self.detail, self.commit, self.path, self.kind = str(oid), detail, commit, path, kind
        super().__init__(self.describe() + "; run `attgit verify` to list the damage and "
                         "`attgit fetch --repair REMOTE` to fetch the objects again from a remote that has them")

    def describe(self) -> str:
        """The damage in one line without the remedy (verify lists many)."""
        where = [f"{self.kind or 'object'} {self.oid}"]
        if self.path:
            where.append(f"path {self.path}")
        if self.commit and self.commit != self.oid:
            where.append(f"commit {str(self.commit)[:10]}")
        return f"damaged object: {', '.join(where)}: {self.detail}"

    def at(self, commit=None, path: str | None = None) -> "CorruptObject":
        """The same damage with the commit or path that led to it filled in."""
        return CorruptObject(self.oid, self.detail, self.commit or (str(commit) if commit else None),
                             self.path or path, self.kind)
