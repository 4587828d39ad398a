"""A backup file's plain bytes, whatever it is wrapped in: read as a stream
and bounded, never decoded to disk.

A file may be OpenPGP-encrypted (:mod:`.crypto`: gpg writes the plain
bytes to a pipe), gzip-compressed (magic ``1f 8b``), or both (gzip inside
OpenPGP).  :func:`plain_stream` peels those layers as the parsers read:
nothing decoded is ever written to a file, and reading stops with
"larger than the allowed size" as soon as the decoded bytes pass
``max_plain`` -- so a decompression bomb costs the limit, not the disk.

The parsers need ``tell`` and rewinding (the fast path may give way to the
streaming one), so :class:`_Decoded` offers them by counting and by
decoding again from the start.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zlib
from typing import BinaryIO, Callable, Iterator, Optional

from attgit.errors import ValidationError
from attgit.format.backup import crypto
from attgit.format.backup.common import _fail
from attgit.format.compression import gzip_reader

GZIP_MAGIC = b"\x1f\x8b"

#: Decoded bytes allowed when the caller names no limit: far above any real
#: backup (1M records are ~265 MB), far below a full disk's harm.
DEFAULT_MAX_PLAIN = 8 << 30

_CHUNK = 1 << 16


class _PRead(io.RawIOBase):
    """An independent reader of an open file from ``offset`` (``os.pread``):
    gpg's feeding thread reads through it while the file's own position is
    left alone, and a second decoding starts afresh.  Closing it leaves the
    file (the caller's) open."""

    def __init__(self, fd: int, offset: int):
        super().__init__()
        self.fd, self.offset = fd, offset

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = os.pread(self.fd, len(b), self.offset)
        n = len(data)
        b[:n] = data
        self.offset += n
        return n


class _Decoded(io.RawIOBase):
    """The decoded bytes, counted and bounded; rewound by decoding again."""

    def __init__(self, opener: Callable[["_Decoded"], BinaryIO], max_plain: int, layers: list):
        super().__init__()
        self._opener, self._max, self.layers = opener, max_plain, layers
        self.gpg: Optional[crypto.GpgStream] = None  # the current decryption, if any
        self._pos = 0
        self._stream = opener(self)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        try:
            data = self._stream.read(len(b))
        except (OSError, EOFError, zlib.error) as exc:
            if isinstance(exc, ValidationError):
                raise
            raise _damaged_gzip(exc) from None
        n = len(data)
        b[:n] = data
        self._pos += n
        if self._pos > self._max:
            raise _fail("too_large", f"it expands to more than {self._max:,} bytes once "
                        f"{' and '.join(self.layers)} (the limit for its content); nothing was kept")
        return n

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END and offset == 0:
            while self.read(_CHUNK):
                pass
            return self._pos
        if whence == io.SEEK_CUR and offset == 0:
            return self._pos
        if whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a decoded backup file seeks from its start or to its end only")
        if offset < self._pos:
            self._close_stream()
            self._pos = 0
            self._stream = self._opener(self)
        while self._pos < offset and self.read(min(_CHUNK, offset - self._pos)):
            pass
        return self._pos

    def check_complete(self) -> None:
        """Raise gpg's verdict if the decryption failed: a tampered message
        is known only once gpg has read all of it, and its garbled output
        may have made the parser complain first.  The rest of gpg's output
        is read (bounded by the limit) and dropped."""
        if self.gpg is not None:
            self.gpg.drain(self._max)
            self.gpg.raise_failure()

    def _close_stream(self) -> None:
        self._stream.close()
        if self.gpg is not None:  # a GzipFile leaves the stream under it open
            self.gpg.close()

    def close(self) -> None:
        if not self.closed:
            self._close_stream()
        super().close()


def _damaged_gzip(exc: BaseException) -> ValidationError:
    reason = str(exc) or type(exc).__name__
    return _fail("unreadable", f"its gzip data is damaged or cut short ({reason}): "
                 "copy or download it again")


@contextlib.contextmanager
def plain_stream(f: BinaryIO, *, max_plain: Optional[int] = None, gnupghome: Optional[str] = None,
                 passphrase: Optional[str] = None) -> Iterator[tuple]:
    """(readable seekable plain stream, layers) for the open file ``f`` at
    its position; ``layers`` names what was peeled ("decrypted",
    "decompressed"), empty for a plain file (then ``f`` itself)."""
    limit = DEFAULT_MAX_PLAIN if max_plain is None else max_plain
    start = f.tell()
    head = f.read(64)
    f.seek(start)
    if not crypto.is_encrypted(head) and not head.startswith(GZIP_MAGIC):
        yield f, []
        return
    with contextlib.ExitStack() as stack:
        fd, offset = _file_descriptor(f, start, stack)
        layers = ["decrypted"] if crypto.is_encrypted(head) else []
        raw = _Decoded(lambda d: _open_layers(d, fd, offset, head, gnupghome, passphrase), limit, layers)
        stack.callback(raw.close)
        yield io.BufferedReader(raw, 1 << 20), raw.layers


def _open_layers(raw: _Decoded, fd: int, offset: int, head: bytes, home, passphrase) -> BinaryIO:
    """A fresh decoding from the start: gpg's pipe, then gunzip if the
    (decrypted) bytes start with gzip's magic."""
    stream: BinaryIO = _PRead(fd, offset)  # type: ignore[assignment]
    if crypto.is_encrypted(head):
        raw.gpg = crypto.decrypt_stream(stream, home, passphrase)
        stream = io.BufferedReader(raw.gpg, _CHUNK)
        if stream.peek(2)[:2] != GZIP_MAGIC:
            return stream
    if "decompressed" not in raw.layers:
        raw.layers.append("decompressed")
    return gzip_reader(stream)


def _file_descriptor(f: BinaryIO, start: int, stack: contextlib.ExitStack) -> tuple:
    """(fd, offset) to read ``f`` from ``start`` by position: its own
    descriptor, else (a file held in memory) an anonymous copy of its
    still-encoded bytes."""
    try:
        return f.fileno(), start
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    copy = stack.enter_context(tempfile.TemporaryFile(prefix="attgit-encoded-"))
    f.seek(start)
    while chunk := f.read(1 << 20):
        copy.write(chunk)
    copy.flush()
    f.seek(start)
    return copy.fileno(), 0
