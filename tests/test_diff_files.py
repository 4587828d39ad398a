"""Backup files compared (issue 20.6): two files, or a file and a snapshot,
give the same per-company diff the commits give, through the same
line-level split."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from attgit.format import records as rec
from attgit.format.backup import read_backup, write_backup
from attgit.format.snapshot import Snapshot, SnapshotBuilder
from attgit.merge.diff import diff_company
from attgit.ops.compare import BackupVersion, diff_snapshots, diff_versions
from attgit.repo.repository import Repository

from .strategies import datasets, edits


def backup_of(data: list, empty: tuple = ()) -> BackupVersion:
    buffer = io.BytesIO()
    companies = sorted({r["company"] for r in data} | set(empty))
    write_backup(buffer, companies, sorted(data, key=rec.key), backup_type="full", created_by="test")
    buffer.seek(0)
    return BackupVersion(read_backup(buffer))


def snapshot_of(repo: Repository, data: list) -> Snapshot:
    builder = SnapshotBuilder(repo.git, Snapshot.empty(repo.git))
    by_company: dict = {}
    for r in data:
        by_company.setdefault(r["company"], {})[rec.key(r)] = r
    for company, records in by_company.items():
        builder.put_records(company, sorted(records.values(), key=rec.sort_key))
    return Snapshot(repo.git, repo.git[builder.write()])


def expected(old: list, new: list, only=None) -> list:
    """The reference: diff_company on whole keyed contents."""
    olds, news = {}, {}
    for r in old:
        olds.setdefault(r["company"], {})[rec.key(r)] = r
    for r in new:
        news.setdefault(r["company"], {})[rec.key(r)] = r
    out = []
    for c in sorted(set(olds) | set(news)):
        d = diff_company(c, olds.get(c, {}), news.get(c, {}))
        if d and (only is None or c in only):
            out.append(d.to_dict())
    return out


def dicts(diffs) -> list:
    return [d.to_dict() for d in diffs if d]


@given(old=datasets(max_size=25), data=st.data())
def test_two_files_diff_as_the_records_do(old, data):
    new = data.draw(edits(old))
    only = data.draw(st.one_of(st.none(), st.sets(st.sampled_from(sorted({r["company"] for r in old + new}) or ["x"]))))
    assert dicts(diff_versions(backup_of(old), backup_of(new), only)) == expected(old, new, only)


@given(old=datasets(max_size=25), data=st.data(), file_first=st.booleans())
def test_a_file_and_a_snapshot_diff_as_two_snapshots_do(tmp_path_factory, old, data, file_first):
    new = data.draw(edits(old))
    repo = Repository.init(tmp_path_factory.mktemp("d") / "r.git")
    snap_old, snap_new = snapshot_of(repo, old), snapshot_of(repo, new)
    by_commits = dicts(diff_snapshots(snap_old, snap_new))
    mixed = diff_versions(backup_of(old), snap_new) if file_first else diff_versions(snap_old, backup_of(new))
    assert dicts(mixed) == by_commits == expected(old, new)


@given(data=datasets(max_size=25))
def test_a_file_and_the_same_data_have_no_differences(tmp_path_factory, data):
    repo = Repository.init(tmp_path_factory.mktemp("s") / "r.git")
    assert list(diff_versions(backup_of(data), snapshot_of(repo, data))) == []
    assert list(diff_versions(backup_of(data), backup_of(list(reversed(data))))) == []


def test_an_empty_company_only_in_one_file_is_named_with_no_record_changes():
    r = rec.normalise({"ep_no": "E1", "company": "A", "date": "2024-01-01", "status": "P"})
    [d] = diff_versions(backup_of([r]), backup_of([r], empty=("Empty Co",)))
    assert (d.company, d.counts) == ("Empty Co", {"added": 0, "removed": 0, "changed": 0})
