"""Fast transfer between repositories on the same machine.

libgit2's transports build a pack and search it for deltas on one core,
which for company blobs of tens of megabytes takes minutes where copying
takes seconds.  When a remote is a local path (or ``file://``), attgit
copies the missing objects from one object database to the other
instead: children before parents (blobs, then trees, then the commit), so
an interrupted copy never leaves an object pointing at one that is not
there, and refs move only after every object is in place.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import unquote, urlsplit

import pygit2
from pygit2.enums import ObjectType, RepositoryOpenFlag, SortMode

_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[^/:]+:")


def local_path(url: str) -> Optional[Path]:
    """The directory a local remote URL names, or None for a network URL.
    A file:// URL is percent-decoded (``Path.as_uri()`` writes a space as
    %20), as libgit2 decodes it."""
    if url.startswith("file://"):
        path = unquote(urlsplit(url).path)
    elif "://" in url or _SCP_LIKE.match(url):
        return None
    else:
        path = url
    return Path(path)


def open_local(path: Path) -> pygit2.Repository:
    """The repository at ``path``; pygit2.GitError when there is none.
    Exactly there: a directory inside some repository is not that
    repository (libgit2's local transport does not search upwards either)."""
    if not path.is_dir():
        raise pygit2.GitError(f"{path}: no such directory")
    return pygit2.Repository(str(path), RepositoryOpenFlag.NO_SEARCH)


def copy_history(src: pygit2.Repository, dst: pygit2.Repository, tip: pygit2.Oid,
                 progress: Optional[Callable[[int, int], None]] = None) -> int:
    """Copy every object reachable from ``tip`` that ``dst`` lacks; return
    how many were copied."""
    missing = [c.id for c in _commits_missing(src, dst, tip)]
    copied = 0
    for n, commit in enumerate(missing, start=1):
        copied += _copy_tree(src, dst, src[commit].tree_id)
        copied += _copy_object(src, dst, commit)
        if progress:
            progress(n, len(missing))
    return copied


def _commits_missing(src: pygit2.Repository, dst: pygit2.Repository, tip: pygit2.Oid):
    if tip in dst.odb:
        return []
    walker = src.walk(tip, SortMode.TOPOLOGICAL | SortMode.REVERSE)
    for ref in dst.references.objects:
        target = ref.target
        if isinstance(target, pygit2.Oid) and target in src.odb and target in dst.odb:
            walker.hide(target)
    return [c for c in walker if c.id not in dst.odb]


def _copy_tree(src: pygit2.Repository, dst: pygit2.Repository, tree_id: pygit2.Oid) -> int:
    if tree_id in dst.odb:
        return 0
    copied = 0
    for entry in src[tree_id]:
        if entry.type == ObjectType.TREE:
            copied += _copy_tree(src, dst, entry.id)
        elif entry.id not in dst.odb:
            copied += _copy_object(src, dst, entry.id)
    return copied + _copy_object(src, dst, tree_id)


def _copy_object(src: pygit2.Repository, dst: pygit2.Repository, oid: pygit2.Oid) -> int:
    kind, data = src.odb.read(oid)
    dst.odb.write(kind, data)
    return 1
