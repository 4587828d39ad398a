"""Where a record lives in a snapshot: the layout, named in attgit.json.

Layout "company" (format version 1) puts each company's records in one
file.  The file name is a function of the company name alone: a readable
slug plus a hash of the exact name, so it is safe on every filesystem
(ASCII, no separators, short), stable, and never shared by two companies
(names that differ only by case, or that slug alike, hash apart).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from attgit.format import records as rec

FORMAT_NAME = "attgit-attendance"
FORMAT_VERSION = 1
LAYOUT = "company"
RECORDS_DIR = "records"
COMPANIES_FILE = "companies.jsonl"
META_FILE = "attgit.json"

_SLUG_MAX = 40
_HASH_CHARS = 20  # 80 bits: a collision is detected and refused, never merged
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def format_document() -> dict:
    """The content of attgit.json: how to read this snapshot."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "layout": LAYOUT,
        "fields": list(rec.FIELDS),
        "key": list(rec.KEY_FIELDS),
        "order": ["date", "ep_no"],
        "checksum": "sha256 of the record's canonical JSON: sorted keys, compact, content fields only",
        "timestamps": "not stored: created_at/updated_at are not content",
    }


def slug(name: str) -> str:
    """A short ASCII rendering of a company name a person can recognise."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")
    return text[:_SLUG_MAX].rstrip("-") or "company"


def company_file_name(name: str) -> str:
    """The file name (within records/) of a company's records."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    return f"{slug(name)}.{digest}.jsonl"


def company_path(name: str) -> str:
    """The path of a company's records file in the snapshot tree."""
    return f"{RECORDS_DIR}/{company_file_name(name)}"
