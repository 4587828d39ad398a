"""Snapshots: a dataset as a git tree, and back.

One commit is one complete snapshot::

    attgit.json            format, version, layout, fields, key
    companies.jsonl        one line per company, sorted by name
    records/<file>.jsonl   one company's records, sorted by (date, ep_no)

Writing is deterministic (the same data gives byte-identical blobs and the
same tree id anywhere), so "are two environments in sync?" is one tree-id
comparison, and unchanged companies are recognised by blob id without
being parsed.  Reading verifies everything: snapshots may come from a
remote we do not trust.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping, Optional

import orjson
import pygit2
from pygit2.enums import FileMode, ObjectType

from attgit.errors import ValidationError
from attgit.format import layout, objects
from attgit.format import records as rec
from attgit.format.lines import Split, split_versions


def encode_company(company: str, records: Iterable[dict]) -> tuple[bytes, int]:
    """The blob of one company's records (already sorted) and its count.

    Refuses records of another company and lines out of order or repeated,
    which would make the blob non-canonical.
    """
    lines, previous = [], None
    for record in records:
        if record["company"] != company:
            raise ValidationError(
                f"record of company {record['company']!r} in the file of {company!r}",
                rec.describe_key(rec.key(record)),
            )
        order = rec.sort_key(record)
        if previous is not None and order <= previous:
            raise ValidationError("records out of order or repeated", rec.describe_key(rec.key(record)))
        previous = order
        lines.append(rec.to_line(record))
    return b"".join(lines), len(lines)


def encode_sorted(company: str, records: Mapping) -> tuple[bytes, int]:
    """Like :func:`encode_company` for a mapping key -> record in any order."""
    return encode_company(company, sorted(records.values(), key=rec.sort_key))


def decode_company(company: str, data: bytes, path: str) -> dict:
    """Parse and verify a whole company blob into {key: record}: canonical
    lines of this company, strictly sorted (see :mod:`attgit.format.lines`)."""
    fast = _decode_whole(company, data)
    if fast is not None:
        return fast
    return split_versions(company, path, [data], None, [""]).sides[0]


def _decode_whole(company: str, data: bytes) -> Optional[dict]:
    """What :func:`decode_company` returns, in one tight loop, for a blob
    every line of which the fast line parse accepts; None at the first
    thing it does not (then the careful parse gives the result, or the
    precise error with file and line).  A clone and verify parse every
    line of every blob: the general splitter's bookkeeping per line (slots,
    offsets, shared ranges) cost a quarter of it."""
    if not data or not data.endswith(b"\n") or b"\r" in data:
        return None
    out: dict = {}
    previous: Optional[tuple] = None
    fast_line = rec._fast_line
    for line in data[:-1].split(b"\n"):
        record = fast_line(line)
        if record is None or record["company"] != company:
            return None
        order = (record["date"], record["ep_no"])
        if previous is not None and not previous < order:
            return None
        previous = order
        out[(record["ep_no"], company, record["date"])] = record
    return out


def split_snapshots(company: str, versions: list, trusted: Snapshot | None, labels: list) -> Split:
    """``company`` in snapshots ``versions`` split line by line; lines count
    as shared only when also in ``trusted``'s blob (None: nothing shared,
    everything parsed).  Each distinct blob is read once."""
    read: dict = {}

    def data(snapshot) -> bytes:
        oid = snapshot.blob_id(company)
        if oid not in read:
            read[oid] = b"" if oid is None else objects.read(snapshot.repo, oid, "blob", layout.company_path(company),
                                                             snapshot.commit)
        return read[oid]

    blobs = [data(s) for s in versions]
    trust = data(trusted) if trusted is not None else None
    split = split_versions(company, layout.company_path(company), blobs, trust, labels)
    for snapshot, size in zip(versions, split.sizes):
        if snapshot.blob_id(company) is not None:
            remember_lines(snapshot.blob_id(company), size)
    return split


#: blob id -> its number of lines.  Blobs are content-addressed, so an
#: entry is never wrong; it spares reading a large blob again just to count.
_LINE_COUNTS: dict = {}
_LINE_COUNTS_MAX = 100_000


def remember_lines(oid: pygit2.Oid, lines: int) -> None:
    if len(_LINE_COUNTS) >= _LINE_COUNTS_MAX:
        _LINE_COUNTS.clear()
    _LINE_COUNTS[oid] = lines


def encode_companies(names: Iterable[str]) -> bytes:
    """companies.jsonl: one verified line per company, sorted by name."""
    return b"".join(rec.company_line(n) for n in sorted(set(names)))


def format_blob() -> bytes:
    return orjson.dumps(layout.format_document(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


class Snapshot:
    """A read-only view of one snapshot tree (or of the empty snapshot)."""

    def __init__(self, repo: pygit2.Repository, tree: Optional[pygit2.Tree], commit=None):
        self.repo = repo
        self.tree = tree
        #: the commit this snapshot was read from (named when an object is damaged)
        self.commit = str(commit) if commit is not None else None
        self._companies: Optional[list[str]] = None
        self._records_tree = None
        if tree is not None:
            self._check_format()

    @classmethod
    def empty(cls, repo: pygit2.Repository) -> "Snapshot":
        return cls(repo, None)

    @property
    def tree_id(self) -> Optional[str]:
        return str(self.tree.id) if self.tree is not None else None

    def _check_format(self) -> None:
        try:
            meta = orjson.loads(self._blob_data(layout.META_FILE))
        except (KeyError, orjson.JSONDecodeError):
            raise ValidationError("not an attgit snapshot: attgit.json missing or unreadable", self._where()) from None
        if not isinstance(meta, dict) or meta.get("format") != layout.FORMAT_NAME:
            raise ValidationError("not an attgit snapshot: unknown format in attgit.json", self._where())
        if meta.get("version") != layout.FORMAT_VERSION or meta.get("layout") != layout.LAYOUT:
            raise ValidationError(
                f"snapshot format version {meta.get('version')!r}, layout {meta.get('layout')!r} "
                f"is not supported by this attgit (it reads version {layout.FORMAT_VERSION}); upgrade attgit",
                self._where(),
            )

    def _where(self) -> str:
        return f"tree {str(self.tree.id)[:12]}" if self.tree is not None else "empty snapshot"

    def _blob_data(self, path: str) -> bytes:
        entry = self._entry(path)
        if entry is None:
            raise KeyError(path)
        if entry.type != ObjectType.BLOB:
            raise ValidationError(f"{path} is not a file", self._where())
        return objects.read(self.repo, entry.id, "blob", path, self.commit)

    def _entry(self, path: str) -> Optional[pygit2.Object]:
        """The tree entry at ``path`` (None when absent); the records
        subtree is read once, through the damage guard."""
        if self.tree is None:
            return None
        head, _, name = path.rpartition("/")
        if not head:
            return self.tree[name] if name in self.tree else None
        if head != layout.RECORDS_DIR:
            raise ValueError(f"attgit snapshots have no folder {head!r}")
        records = self._records()
        return records[name] if records is not None and name in records else None

    def _records(self) -> Optional[pygit2.Tree]:
        if self._records_tree is None and self.tree is not None and layout.RECORDS_DIR in self.tree:
            entry = self.tree[layout.RECORDS_DIR]
            if entry.type != ObjectType.TREE:
                raise ValidationError(f"{layout.RECORDS_DIR} is not a folder", self._where())
            self._records_tree = objects.get(self.repo, entry.id, "tree", layout.RECORDS_DIR + "/", self.commit)
        return self._records_tree

    def companies(self) -> list[str]:
        """Every company of the snapshot, sorted by name (verified)."""
        if self._companies is None:
            self._companies = self._read_companies()
        return list(self._companies)

    def _read_companies(self) -> list[str]:
        if self.tree is None:
            return []
        try:
            data = self._blob_data(layout.COMPANIES_FILE)
        except KeyError:
            raise ValidationError("snapshot has no companies.jsonl", self._where()) from None
        names = [
            rec.company_from_line(line, f"{layout.COMPANIES_FILE} line {n}")
            for n, line in enumerate(data.splitlines(), start=1)
        ]
        if names != sorted(set(names)):
            raise ValidationError("companies.jsonl is not sorted or repeats a name", self._where())
        return names

    def blob_id(self, company: str) -> Optional[pygit2.Oid]:
        """The id of the company's records blob (None when absent)."""
        entry = self._entry(layout.company_path(company))
        return entry.id if entry is not None else None

    def company_bytes(self, company: str) -> bytes:
        oid = self.blob_id(company)
        return b"" if oid is None else objects.read(self.repo, oid, "blob", layout.company_path(company), self.commit)

    def records(self, company: str) -> dict:
        """{key: record} of one company, parsed and verified."""
        return decode_company(company, self.company_bytes(company), layout.company_path(company))

    def iter_records(self) -> Iterator[dict]:
        """Every record, company by company (one company in memory at a time)."""
        for company in self.companies():
            yield from sorted(self.records(company).values(), key=rec.sort_key)

    def count_records(self, company: Optional[str] = None) -> int:
        """Number of records, counted by lines (no parsing; blobs this
        process wrote or read whole are not read again)."""
        names = [company] if company is not None else self.companies()
        total = 0
        for name in names:
            oid = self.blob_id(name)
            if oid is not None and oid not in _LINE_COUNTS:
                remember_lines(oid, objects.read(self.repo, oid, "blob", layout.company_path(name),
                                                 self.commit).count(b"\n"))
            total += _LINE_COUNTS[oid] if oid is not None else 0
        return total

    def file_paths(self) -> list[str]:
        """Paths of every records file in the tree (for verify)."""
        records = self._records()
        return [] if records is None else [f"{layout.RECORDS_DIR}/{e.name}" for e in records]


class SnapshotBuilder:
    """Builds a new snapshot tree from a base one, along changed paths only.

    Companies not touched keep their blob ids; only the ``records`` subtree
    and the root are rewritten.
    """

    def __init__(self, repo: pygit2.Repository, base: Optional[Snapshot] = None):
        self.repo = repo
        self.base = base if base is not None else Snapshot.empty(repo)
        self.companies = set(self.base.companies())
        self._blobs: dict[str, Optional[pygit2.Oid]] = {}

    def put_blob(self, company: str, data: bytes, lines: Optional[int] = None) -> pygit2.Oid:
        """Set a company's records to ``data`` (an encoded blob of ``lines``
        lines, when the caller knows)."""
        oid = objects.write_blob(self.repo, data)
        if lines is not None:
            remember_lines(oid, lines)
        self._blobs[company] = oid
        self.companies.add(company)
        return oid

    def put_oid(self, company: str, oid: pygit2.Oid) -> None:
        """Set a company's records to an existing blob (taken from another snapshot)."""
        self._blobs[company] = oid
        self.companies.add(company)

    def put_records(self, company: str, records: Iterable[dict]) -> tuple[pygit2.Oid, int]:
        data, count = encode_company(company, records)
        return self.put_blob(company, data, count), count

    def remove(self, company: str) -> None:
        self._blobs[company] = None
        self.companies.discard(company)

    def write(self) -> pygit2.Oid:
        """Write the tree objects; return the root tree id."""
        self._check_unique_files()
        records_tree = self._write_records_tree()
        root = self.repo.TreeBuilder()
        root.insert(layout.META_FILE, objects.write_blob(self.repo, format_blob()), FileMode.BLOB)
        companies = objects.write_blob(self.repo, encode_companies(self.companies))
        root.insert(layout.COMPANIES_FILE, companies, FileMode.BLOB)
        root.insert(layout.RECORDS_DIR, records_tree, FileMode.TREE)
        return root.write()

    def _write_records_tree(self) -> pygit2.Oid:
        base_tree = self._base_records_tree()
        builder = self.repo.TreeBuilder(base_tree) if base_tree is not None else self.repo.TreeBuilder()
        empty = None
        for company, oid in self._blobs.items():
            name = layout.company_file_name(company)
            if oid is None:
                if builder.get(name) is not None:
                    builder.remove(name)
            else:
                builder.insert(name, oid, FileMode.BLOB)
        for company in self.companies:  # a company with no blob yet gets an empty file
            name = layout.company_file_name(company)
            if builder.get(name) is None:
                empty = empty or objects.write_blob(self.repo, b"")
                builder.insert(name, empty, FileMode.BLOB)
        return builder.write()

    def _base_records_tree(self):
        """The base's records folder, read through this builder's own object
        store (a preview's scratch store is not the base's repository)."""
        records = self.base._records()
        return None if records is None else self.repo[records.id]

    def _check_unique_files(self) -> None:
        seen: dict[str, str] = {}
        for company in self.companies:
            name = layout.company_file_name(company)
            if name in seen:
                raise ValidationError(
                    f"companies {seen[name]!r} and {company!r} map to the same file {name}; "
                    "rename one of them"
                )
            seen[name] = company
