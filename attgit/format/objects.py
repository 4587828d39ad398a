"""Reading git objects so that damage is reported, never an internal error.

A flipped bit in a loose object makes zlib fail ("incorrect data check"),
in a pack it breaks a delta or the object's hash, and an object a tree
names may simply be missing.  libgit2 raises GitError, KeyError or
ValueError for these; every read of an object that attgit trusts to be
there goes through :func:`reading`, which turns them into
:class:`attgit.errors.CorruptObject` naming the object, and where known the
commit and the path that lead to it.  The repository and the snapshot
reader both use it: it is the one place that says what damage looks like.

Loose objects are read here, not by libgit2: libgit2 (1.9) loops forever
on some damaged loose objects (a zlib stream that ends before the size its
header claims), where C git says "unable to unpack".  Reading them with
zlib and checking the header, the size and the SHA-1 costs what libgit2's
own read does, and a damaged object is an error, never a hang.  Packed
objects are read by libgit2, or, when a pack holds one whole, straight from
the pack (:mod:`attgit.format.packs`, ISA-L); both check them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Optional

import pygit2

from attgit.errors import AttgitError, CorruptObject
from attgit.format import packs
from attgit.format.compression import fastest_zlib

_deflate = fastest_zlib()
#: the compression level of loose blobs (git's core.looseCompression default is 1 too)
LOOSE_LEVEL = 1

#: what libgit2 (and zlib, in C git's formats) raise for an unreadable object
READ_ERRORS = (pygit2.GitError, KeyError, ValueError, zlib.error, _deflate.error, OverflowError, MemoryError,
               struct.error)


@contextlib.contextmanager
def reading(oid, kind: Optional[str] = None, path: Optional[str] = None, commit=None):
    """Run a read of object ``oid``; damage becomes CorruptObject."""
    try:
        yield
    except CorruptObject as exc:
        raise exc.at(commit, path) from None
    except AttgitError:
        raise
    except READ_ERRORS as exc:
        raise CorruptObject(str(oid), describe_error(exc), str(commit) if commit else None, path, kind) from None


#: words of libgit2's messages about objects it could not read
_DAMAGE_WORDS = ("incorrect data check", "corrupt", "hash mismatch", "failed to parse", "inflate",
                 "invalid", "truncated", "object not found", "unknown object", "bad object")


def explain_git_error(exc: BaseException) -> Optional[CorruptObject]:
    """The last line of defence for a read outside the guard: a libgit2
    error that speaks of damage becomes CorruptObject (object unknown)."""
    if isinstance(exc, pygit2.GitError) and any(w in str(exc).lower() for w in _DAMAGE_WORDS):
        return CorruptObject("(unknown)", describe_error(exc))
    return None


def describe_error(exc: BaseException) -> str:
    """What went wrong reading an object, in a few words."""
    if isinstance(exc, KeyError):
        return "missing from the repository"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


_KINDS = {b"blob", b"tree", b"commit", b"tag"}


def loose_path(repo: pygit2.Repository, oid) -> Path:
    """Where loose object ``oid`` is: in the repository's own objects, else
    in an alternate's (a preview's scratch repository borrows them), so
    every loose read goes through :func:`read_loose`'s checks."""
    hexsha = str(oid)
    own = Path(repo.path) / "objects" / hexsha[:2] / hexsha[2:]
    if own.exists():
        return own
    for folder in _alternates(repo.path):
        borrowed = folder / hexsha[:2] / hexsha[2:]
        if borrowed.exists():
            return borrowed
    return own


@functools.lru_cache(maxsize=64)
def _alternates(repo_path: str) -> tuple:
    """The object folders ``objects/info/alternates`` names (absolute paths)."""
    try:
        lines = (Path(repo_path) / "objects" / "info" / "alternates").read_text().splitlines()
    except (OSError, UnicodeDecodeError):
        return ()
    return tuple(Path(line) for line in lines if line.strip() and not line.startswith("#") and os.path.isabs(line))


#: (repository, object id) of loose objects whose content this process
#: wrote or already hashed: the SHA-1 is not computed again (the zlib
#: stream, header and size still are checked on every read).  A pull reads
#: back every company file its pre-pull commit has just written.
_HASHED: set = set()
_HASHED_MAX = 100_000


def known_content(repo: pygit2.Repository, oid) -> None:
    """Record that loose object ``oid`` of ``repo`` holds what its id says
    (this process wrote it, from bytes that hash to it)."""
    if len(_HASHED) >= _HASHED_MAX:
        _HASHED.clear()
    _HASHED.add((repo.path, str(oid)))


def read_loose(repo: pygit2.Repository, oid) -> Optional[bytes]:
    """The content of loose object ``oid`` checked whole (zlib stream,
    header, size, SHA-1 unless known), or None when it is not a loose object."""
    try:
        raw = loose_path(repo, oid).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    inflater = _deflate.decompressobj()
    data = inflater.decompress(raw)
    if not inflater.eof or inflater.unused_data:
        raise ValueError("damaged loose object: its compressed data is cut short or altered")
    header, _, body = data.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if kind not in _KINDS or not size.isdigit() or int(size) != len(body):
        raise ValueError(f"damaged loose object: bad header {header[:40]!r}")
    if (repo.path, str(oid)) not in _HASHED:
        if hashlib.sha1(data).hexdigest() != str(oid):
            raise ValueError("damaged loose object: its content does not hash to its id")
        known_content(repo, oid)
    return body


def loose_size(repo: pygit2.Repository, oid) -> Optional[int]:
    """The size its header gives loose object ``oid`` (None when it is not
    loose), inflating only the first bytes."""
    try:
        with loose_path(repo, oid).open("rb") as file:
            inflater, head = zlib.decompressobj(), b""
            while b"\0" not in head and len(head) < 64 and (chunk := file.read(4096)):
                head += inflater.decompress(chunk, 64 - len(head))  # a block's codes come first
    except (FileNotFoundError, NotADirectoryError):
        return None
    header, nul, _ = head.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if not nul or kind not in _KINDS or not size.isdigit():
        raise ValueError(f"damaged loose object: bad header {header[:40]!r}")
    return int(size)


def size(repo: pygit2.Repository, oid, kind: Optional[str] = None, path: Optional[str] = None,
         commit=None) -> int:
    """The size of object ``oid`` without reading it (a pack's header, or a
    loose object's first bytes); damage or absence is CorruptObject."""
    with reading(oid, kind, path, commit):
        found = loose_size(repo, oid)
        return found if found is not None else repo.odb.read_header(oid)[1]


#: The mode of a loose object attgit writes: read-only, and only for the
#: repository's owner (or group: see attgit.repo.repository.keep_private).
OBJECT_MODE = 0o400


def write_blob(repo: pygit2.Repository, data: bytes) -> pygit2.Oid:
    """Store ``data`` as a blob and return its id: the one way attgit writes
    a blob.  As git does: the id is the SHA-1 of ``blob <size>\\0`` and the
    data; nothing is written when the object is already there (loose,
    packed, or in an alternate); else a loose object, deflated into a
    temporary file in its folder, read-only, renamed into place (a reader
    never sees half an object)."""
    header = b"blob %d\0" % len(data)
    digest = hashlib.sha1(header)
    digest.update(data)
    hexsha = digest.hexdigest()
    oid = pygit2.Oid(hex=hexsha)
    folder = os.path.join(repo.path, "objects", hexsha[:2])
    if repo.odb.exists(oid):
        with contextlib.suppress(OSError):  # freshened, as git and libgit2 do: a prune keeps it
            os.utime(os.path.join(folder, hexsha[2:]))
        return oid
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="tmp_obj_", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            packer = _deflate.compressobj(LOOSE_LEVEL)
            out.write(packer.compress(header))
            out.write(packer.compress(data))
            out.write(packer.flush())
        os.chmod(tmp, OBJECT_MODE)
        os.replace(tmp, os.path.join(folder, hexsha[2:]))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # Written from these bytes: a read in this process need not hash it again.  (An
    # object found already there is not vouched for: it may be the damaged copy.)
    known_content(repo, oid)
    return oid


def check_loose(repo: pygit2.Repository, oid) -> None:
    """Raise (ValueError, zlib.error) when loose object ``oid`` is damaged;
    libgit2 may then read it safely."""
    read_loose(repo, oid)


def get(repo: pygit2.Repository, oid, kind: Optional[str] = None, path: Optional[str] = None, commit=None):
    """``repo[oid]``, parsed; damage (or absence) is CorruptObject."""
    with reading(oid, kind, path, commit):
        check_loose(repo, oid)
        obj = repo[oid]
        if isinstance(obj, pygit2.Tree):
            len(obj)  # parse the entries now, inside the guard
        return obj


def read(repo: pygit2.Repository, oid, kind: Optional[str] = None, path: Optional[str] = None,
         commit=None) -> bytes:
    """The raw content of object ``oid``; damage (or absence) is CorruptObject."""
    with reading(oid, kind, path, commit):
        body = read_loose(repo, oid)
        return body if body is not None else _read_packed(repo, oid)


# Hashing a packed object again on every read costs more than inflating it (1.4 of a 1M
# pull's 6.5 s, all in company files).  A pack's objects were hashed one by one when git's
# index-pack took the pack in; a damaged pack is caught by zlib and by the delta's
# recorded sizes; and every record line carries its own SHA-256, checked when parsed.  So
# content reads of packed objects skip libgit2's check, unless strict (``attgit verify``,
# the command that proves a repository whole).  Loose objects are checked above, and
# commits and trees (read through :func:`get`) always.
_strict = False


def _read_packed(repo: pygit2.Repository, oid) -> bytes:
    if _strict:
        return repo.odb.read(oid)[1]
    whole = packs.read_whole(repo.path, str(oid))
    if whole is not None:
        return whole
    pygit2.settings.enable_strict_hash_verification(False)
    try:
        return repo.odb.read(oid)[1]
    finally:
        pygit2.settings.enable_strict_hash_verification(True)


@contextlib.contextmanager
def strict_reads():
    """Within this block every object read is checked against its id."""
    global _strict
    before, _strict = _strict, True
    try:
        yield
    finally:
        _strict = before
