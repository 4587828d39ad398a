"""The zlib that attgit inflates and deflates git objects with."""

from __future__ import annotations

import importlib
import zlib


def fastest_zlib():
    """ISA-L's zlib (the same format, ~4x faster at level 1 and 2x faster
    to inflate), else zlib."""
    try:
        return importlib.import_module("isal.isal_zlib")
    except ImportError:  # isal is a dependency; zlib keeps attgit working without it
        return zlib


def gzip_module():
    """ISA-L's igzip (gzip's file format and API, several times faster to
    write and about twice as fast to read), else the standard gzip."""
    try:
        return importlib.import_module("isal.igzip")
    except ImportError:  # as fastest_zlib: attgit works without it
        import gzip

        return gzip


#: igzip's levels are 0-3; 2 gives most of gzip -6's size at many times the speed.
GZIP_LEVEL = 2


def gzip_writer(fileobj):
    """A gzip stream writing into the open binary file ``fileobj`` (no name
    or time in its header: the same backup gives the same bytes)."""
    module = gzip_module()
    level = GZIP_LEVEL if module.__name__ == "isal.igzip" else 6
    return module.GzipFile(fileobj=fileobj, mode="wb", compresslevel=level, mtime=0, filename="")


def gzip_reader(fileobj):
    """A gzip stream reading the open binary file ``fileobj``."""
    return gzip_module().GzipFile(fileobj=fileobj, mode="rb")


def is_gzip_name(path) -> bool:
    """Whether a backup file's name asks for gzip: ``.gz``, also under an
    encryption suffix (``backup.json.gz.gpg``)."""
    import os

    name = os.path.basename(os.fspath(path)).lower()
    for suffix in (".gpg", ".pgp", ".asc"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.endswith(".gz")
