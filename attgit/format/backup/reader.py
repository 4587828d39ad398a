"""Open, validate and spool a backup file: :func:`read_backup` returns a
:class:`BackupFile` that hands out one company's records at a time.
"""


from __future__ import annotations

import contextlib
import io
import os
import tempfile
from typing import Any, BinaryIO, Callable, Iterator, Optional, Union

import orjson

from attgit.errors import NotFound, Problems, UsageError, ValidationError
from attgit.format.backup.common import _fail
from attgit.format.backup.parsers import _NotFast, _read_fast, _read_stream
from attgit.format.backup.source import plain_stream
from attgit.format.backup.spool import _Spool
from attgit.format.backup.validator import _Validator


class BackupFile:
    """A validated backup file, its records spooled one file per company.

    Use as a context manager (or call :meth:`close`) to remove the
    temporary files; they are also removed when the object is collected.
    """

    def __init__(self, validator: _Validator, spool: _Spool, size: int):
        assert validator.metadata is not None, "finish() refuses a file without metadata"
        self.metadata: dict = validator.metadata
        self.warnings: list = validator.warnings
        #: companies the file lists: name -> created_at (aware datetime or None)
        self.declared_companies: dict = validator.companies
        self.total_records: int = validator.record_count
        self.size = size
        #: whether the file was OpenPGP-encrypted (and decrypted, as a stream, to read it)
        self.encrypted = False
        #: whether the file was gzip-compressed
        self.compressed = False
        self._spool = spool

    def companies(self) -> list:
        """Every company name: listed in the file or referenced by a record."""
        return sorted(set(self.declared_companies) | set(self._spool.files))

    def record_count(self, company: str) -> int:
        return self._spool.counts.get(company, 0)

    def iter_records(self, company: str) -> Iterator[dict]:
        """The company's canonical records, in file order."""
        if company not in self.declared_companies and company not in self._spool.files:
            raise NotFound(f"company {company!r} is not in the backup file")
        return map(orjson.loads, self._spool.lines(company))

    def records(self, company: str) -> dict:
        """The company's records as key -> canonical record (one company in memory)."""
        return {(r["ep_no"], r["company"], r["date"]): r for r in self.iter_records(company)}

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> "BackupFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_backup(
    source: Union[str, os.PathLike, BinaryIO],
    *,
    max_bytes: Optional[int] = None,
    max_plain_bytes: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    gnupghome: Optional[str] = None,
    passphrase: Optional[str] = None,
    spool_dir: Union[str, os.PathLike, None] = None,
) -> BackupFile:
    """Read and validate a whole backup file; raise ValidationError if bad.

    ``source`` is a path or a binary file object (a non-seekable stream is
    copied to a temporary file first).  ``max_bytes`` bounds the file as
    stored.  A gzip-compressed or OpenPGP-encrypted file (or both) is
    decoded as a stream while it is read (see :mod:`.source`), bounded by
    ``max_plain_bytes``; it is decrypted with the private key in
    ``gnupghome`` or with ``passphrase``.  The validated records are spooled
    under ``spool_dir`` (the repository's folder, see :mod:`.spool`).
    Nothing is returned before every byte has been checked.
    ``progress(records, expected_total)`` is called every 1,000 records.
    """
    with _opened(source, max_bytes) as (f, size), \
            plain_stream(f, max_plain=max_plain_bytes, gnupghome=gnupghome, passphrase=passphrase) \
            as (plain, layers):
        if not layers and max_plain_bytes is not None and size > max_plain_bytes:
            raise _fail("too_large", f"the file is {size:,} bytes, the limit is {max_plain_bytes:,}")
        try:
            validator = _validate(plain, progress, spool_dir)
        except ValidationError:
            if layers:
                plain.raw.check_complete()  # a damaged message says so, not what its garble looked like
            raise
    backup = BackupFile(validator, validator.spool, size)
    backup.encrypted = "decrypted" in layers
    backup.compressed = "decompressed" in layers
    return backup


def _validate(f: BinaryIO, progress, spool_dir=None) -> _Validator:
    """Try the fast line reader; on any layout surprise start again streaming."""
    start = f.tell()
    if f.read(3) == b"\xef\xbb\xbf":  # tolerate a UTF-8 byte order mark
        start += 3
    f.seek(start)
    _refuse_empty(f, start)
    try:
        return _run(f, _read_fast, progress, spool_dir)
    except _NotFast as exc:
        broken_at = exc.args[0] if exc.args else None
        f.seek(start)
    return _run(f, _read_stream, progress, spool_dir, broken_at)


def _refuse_empty(f: BinaryIO, start: int) -> None:
    """An empty file (or one of blank space only) is said to be empty, not
    "not valid JSON"."""
    head = f.read(1 << 16)
    f.seek(start)
    if head.strip(b" \t\r\n"):
        return
    size = f.seek(0, io.SEEK_END) - start
    f.seek(start)
    if size == 0:
        raise _fail("invalid_json", "it is empty (0 bytes)")
    if size <= len(head):
        raise _fail("invalid_json", f"it is empty: its {size:,} bytes are all blank space")


def _run(f: BinaryIO, parse: Callable, progress, spool_dir=None, broken_at: Optional[tuple] = None) -> _Validator:
    validator = _Validator(_Spool(spool_dir), progress)
    validator.broken_at = broken_at
    try:
        parse(f, validator)
        validator.finish()
    except ValidationError as exc:
        validator.spool.close()
        if validator.problems and not isinstance(exc, Problems) and exc not in validator.problems:
            # the structure broke after item problems: list those first
            raise Problems([*validator.problems, exc], validator.problem_count + 1) from None
        raise
    except BaseException:
        validator.spool.close()
        raise
    return validator


@contextlib.contextmanager
def _opened(source, max_bytes: Optional[int]) -> Iterator[tuple]:
    """(seekable binary file, size in bytes), the size checked first."""
    with contextlib.ExitStack() as stack:
        f = _open(source, max_bytes, stack)
        start = f.tell()
        size = f.seek(0, io.SEEK_END) - start
        f.seek(start)
        if max_bytes is not None and size > max_bytes:
            raise _fail("too_large", f"the file is {size:,} bytes, the limit is {max_bytes:,}")
        yield f, size


def _open(source, max_bytes: Optional[int], stack: contextlib.ExitStack) -> BinaryIO:
    if isinstance(source, (str, os.PathLike)):
        try:
            return stack.enter_context(open(source, "rb"))
        except FileNotFoundError:
            raise NotFound(f"backup file {os.fspath(source)!r} does not exist") from None
        except OSError as exc:
            raise _fail("unreadable", exc.strerror or str(exc), os.fspath(source)) from None
    if not isinstance(source.read(0), bytes):
        raise UsageError("open the backup file in binary mode ('rb')")
    if _seekable(source):
        return source
    copy = stack.enter_context(tempfile.TemporaryFile(prefix="attgit-upload-"))
    return _copy(source, max_bytes, copy)


def _copy(stream: BinaryIO, max_bytes: Optional[int], copy: BinaryIO) -> BinaryIO:
    total = 0
    while chunk := stream.read(1 << 20):
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise _fail("too_large", f"the file is over {max_bytes:,} bytes")
        copy.write(chunk)
    copy.seek(0)
    return copy


def _seekable(stream: Any) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False
