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
