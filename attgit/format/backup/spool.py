"""The spool: validated records, one temporary file per company, so a file
of any size is held in bounded memory.
"""


from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from typing import Iterator


class _Spool:
    """Validated records as canonical JSON lines, one temporary file per
    company, written through bounded buffers."""

    FLUSH_BYTES = 8 << 20

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="attgit-backup-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.dir, True)
        self.files: dict = {}  # company -> file name
        self.counts: dict = {}  # company -> records
        self.buffers: dict = {}
        self.pending: dict = {}  # company -> lines buffered, not yet counted
        self.buffered = 0

    def add(self, company: str, line: bytes) -> None:
        """Buffer one line (without its newline); counts are exact after flush().

        Lines are copied into one bytearray per company: holding orjson's
        own result objects would keep a 4 KiB allocation per record alive.
        """
        buffer = self.buffers.get(company)
        if buffer is None:
            buffer = self._buffer(company)
        buffer += line
        buffer += b"\n"
        self.pending[company] = self.pending.get(company, 0) + 1
        self.buffered += len(line) + 1
        if self.buffered > self.FLUSH_BYTES:
            self.flush()

    def _buffer(self, company: str) -> bytearray:
        if company not in self.files:
            self.files[company] = f"{len(self.files):06d}.jsonl"
            self.counts[company] = 0
        buffer = self.buffers[company] = bytearray()
        return buffer

    def flush(self) -> None:
        for company, data in self.buffers.items():
            with open(os.path.join(self.dir, self.files[company]), "ab") as fh:
                fh.write(data)
            self.counts[company] += self.pending.get(company, 0)
        self.buffers.clear()
        self.pending.clear()
        self.buffered = 0

    def lines(self, company: str) -> Iterator[bytes]:
        name = self.files.get(company)
        if name is None:
            return
        with open(os.path.join(self.dir, name), "rb") as fh:
            yield from fh

    def close(self) -> None:
        self.buffers.clear()
        self._cleanup()
