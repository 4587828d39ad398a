"""Where finished backup files are kept: a named Django storage.

``STORAGES["attgit_backups"]`` names it (any Django storage: django-storages'
S3 storage puts backup files on S3-compatible object storage); without it,
the file system at ``ATTGIT_BACKUP_DIR``, as before.  This is a thin layer
at the end of writing: every backup file is first written whole on this
server, in ``ATTGIT_BACKUP_DIR`` (by the one writer, which checks free
space and makes the file appear only when complete), then :func:`store`
hands it to the storage and removes the local copy, unless the storage is
that same folder.  Listing, downloading and deleting go through the
storage too.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

from .backups import backup_folder

ALIAS = "attgit_backups"


def backup_dir() -> Path:
    """The local folder backup files are written in (and kept in, by default):
    :func:`django_adapter.backups.backup_folder`, made if missing."""
    return backup_folder()


def backup_storage() -> Storage:
    """The storage backup files are kept in."""
    if ALIAS in getattr(settings, "STORAGES", {}):
        return storages[ALIAS]
    return FileSystemStorage(location=str(backup_dir()))


def is_local(storage: Storage) -> bool:
    """Whether the storage is the folder files are written in (nothing to move)."""
    return isinstance(storage, FileSystemStorage) and Path(storage.location).resolve() == backup_dir().resolve()


def store(path: Path) -> str:
    """Keep the finished file at ``path`` (in ATTGIT_BACKUP_DIR) in the
    storage, under its own name; returns the name it is kept under."""
    storage = backup_storage()
    if is_local(storage):
        return path.name
    with open(path, "rb") as f:
        name = storage.save(path.name, File(f, name=path.name))
    path.unlink()
    return name


def names(prefix: str = "") -> list:
    """The names of the files kept, sorted."""
    _, files = backup_storage().listdir("")
    return sorted(n for n in files if n.startswith(prefix))


def exists(name: str) -> bool:
    return backup_storage().exists(name)


def open_file(name: str) -> IO[bytes]:
    return backup_storage().open(name, "rb")


def size(name: str) -> int:
    return backup_storage().size(name)


def delete(name: str) -> None:
    backup_storage().delete(name)
