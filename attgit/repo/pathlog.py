"""Which commits changed one file: ``git log -- path`` for a company's file.

A record's or a company's history is read from the commits whose file for
that company differs from the same file in their first parent (as ``git
log`` without history simplification compares a commit with its first
parent): only tree entries are looked up here, never a blob, so listing a
company's commits costs one tree lookup per commit, whatever the size of
the files.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Iterator, Optional

import pygit2

from attgit.format import objects, packdelta
from attgit.repo.repository import CommitInfo, Repository


@dataclass(frozen=True)
class PathChange:
    """One commit that changed the file at a path: its blob there and in
    the commit's first parent (None: absent)."""

    info: CommitInfo
    blob: Optional[pygit2.Oid]
    parent_blob: Optional[pygit2.Oid]

    @property
    def change(self) -> str:
        """What happened to the file: added, changed or deleted."""
        if self.parent_blob == self.blob:
            return "unchanged"
        if self.parent_blob is None:
            return "added"
        return "deleted" if self.blob is None else "changed"


def path_changes(repo: Repository, path: str, start: Optional[pygit2.Oid] = None,
                 merges: bool = False) -> Iterator[PathChange]:
    """The commits reachable from ``start`` (default: main) whose blob at
    ``path`` differs from their first parent's, newest first; with
    ``merges``, also each merge whose blob differs from another parent's
    (a conflict settled in favour of the first parent changes nothing there)."""
    blobs: dict = {}  # commit id -> blob id at path (a parent is usually the next commit walked)
    for info in repo.log(start):
        blob = _blob_at(repo, pygit2.Oid(hex=info.id), path, blobs)
        parents = [_blob_at(repo, pygit2.Oid(hex=p), path, blobs) for p in info.parents[:None if merges else 1]]
        if blob != (parents[0] if parents else None) or any(blob != other for other in parents[1:]):
            yield PathChange(info, blob, parents[0] if parents else None)
        blobs.pop(pygit2.Oid(hex=info.id), None)  # walked newest first: never asked for again


def _blob_at(repo: Repository, commit: pygit2.Oid, path: str, cache: dict) -> Optional[pygit2.Oid]:
    """The id of the blob at ``path`` in ``commit``'s tree (None: absent)."""
    if commit not in cache:
        tree = objects.get(repo.git, repo.commit(commit).tree_id, "tree", "/", commit)
        with objects.reading(commit, "tree", path, commit):
            try:
                entry = tree[path]
            except KeyError:
                entry = None
        cache[commit] = entry.id if entry is not None and entry.type_str == "blob" else None
    return cache[commit]


def read_blob(repo: Repository, oid: pygit2.Oid, path: str, commit: str) -> bytes:
    """The bytes of blob ``oid`` (the file at ``path`` in ``commit``)."""
    return objects.read(repo.git, oid, "blob", path, commit)


def blob_source(repo: Repository, reader: packdelta.Reader, oid: pygit2.Oid, path: str, commit: str):
    """Blob ``oid`` to be read a few bytes at a time: through its pack's
    delta chain when packed (a record's history reads one line of each
    version, not each version whole), else read whole."""
    try:
        source = reader.blob(str(oid))
    except (OSError, ValueError, IndexError, zlib.error):
        source = None  # anything odd: libgit2 reads it, and names any damage
    return source if source is not None else packdelta.Whole(read_blob(repo, oid, path, commit))


def merge_base(repo: Repository, a: str, b: str) -> Optional[str]:
    """The merge base of two commits given as hex ids (None: unrelated)."""
    base = repo.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
    return str(base) if base is not None else None


def blob_at(repo: Repository, commit: str, path: str) -> Optional[pygit2.Oid]:
    """The blob at ``path`` in ``commit`` (hex id), or None."""
    return _blob_at(repo, pygit2.Oid(hex=commit), path, {})
