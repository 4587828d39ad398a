"""Hostile files shared by the Django tests (the library's own tests make the same)."""

from __future__ import annotations

import gzip
import io


def bomb(size: int) -> bytes:
    """A gzip file of a few KB holding a valid start and ``size`` bytes of blank space."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as z:
        z.write(b'{"metadata":')
        chunk = b" " * (1 << 20)
        for _ in range(size >> 20):
            z.write(chunk)
        z.write(b"{}}")
    return out.getvalue()
