"""attgit's own blob writer (objects.write_blob, the one door every blob
goes through) writes exactly what git writes and reads: the same ids,
content C git reads back, a store `git fsck --strict` accepts; and an
object's size is read from its header, loose or packed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attgit.errors import CorruptObject
from attgit.format import objects
from attgit.repo.repository import Repository

from .helpers import fsck, git

# a company file's worth of lines: the compressed header and first block are longer than a few bytes
BIG = b"".join(b'{"checksum":"%064d","company":"Co","date":"2024-01-%02d","ep_no":"E%d"}\n' % (n, n % 28 + 1, n)
               for n in range(60_000))


@pytest.fixture
def repo(tmp_repo_path) -> Repository:
    return Repository.init(tmp_repo_path)


def _cat(repo: Repository, oid) -> bytes:
    return subprocess.run(["git", "-C", str(repo.path), "cat-file", "blob", str(oid)],
                          capture_output=True, check=True).stdout


@pytest.mark.parametrize("data", [b"", b"x", b"line\n" * 3, bytes(range(256)) * 40, BIG])
def test_a_blob_is_what_git_writes(repo, data):
    oid = objects.write_blob(repo.git, data)
    assert oid == pygit2.hash(data)
    assert _cat(repo, oid) == data
    assert repo.git[oid].data == data
    assert objects.size(repo.git, oid) == len(data)
    fsck(repo.path)


@given(st.binary(max_size=5000))
def test_any_bytes_round_trip_through_git(tmp_path_factory, data):
    repo = Repository.init(tmp_path_factory.mktemp("r") / "repo.git")
    oid = objects.write_blob(repo.git, data)
    assert oid == pygit2.hash(data)
    assert objects.read(repo.git, oid) == data


def test_an_object_already_there_is_not_written_again(repo):
    oid = objects.write_blob(repo.git, BIG)
    path = objects.loose_path(repo.git, oid)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    before = path.stat()
    assert objects.write_blob(repo.git, BIG) == oid
    after = path.stat()
    assert after.st_ino == before.st_ino and after.st_size == before.st_size  # the same file
    assert after.st_mtime > before.st_mtime  # freshened, so a prune of old loose objects keeps it
    assert not [p for p in path.parent.iterdir() if p.name.startswith("tmp_obj_")]
    assert oct(after.st_mode & 0o777) == oct(0o400)  # read-only, for its owner only (issue 18.7)


def test_a_packed_object_is_found_and_sized_from_the_pack(repo):
    oid = objects.write_blob(repo.git, BIG)
    tree = repo.git.TreeBuilder()
    tree.insert("f", oid, pygit2.enums.FileMode.BLOB)
    repo.git.references.create("refs/heads/main", repo.git.create_commit(
        None, pygit2.Signature("t", "t@x", 1, 0), pygit2.Signature("t", "t@x", 1, 0), "m", tree.write(), []))
    git("-C", str(repo.path), "repack", "-a", "-d", "-q")
    assert not objects.loose_path(repo.git, oid).exists()
    assert objects.size(repo.git, oid) == len(BIG)
    assert objects.write_blob(repo.git, BIG) == oid
    assert not objects.loose_path(repo.git, oid).exists()  # in the pack already: nothing written
    fsck(repo.path)


def test_a_scratch_store_writes_only_what_its_base_lacks(repo):
    known = objects.write_blob(repo.git, b"known\n")
    with repo.scratch() as scratch:
        assert objects.write_blob(scratch.git, b"known\n") == known
        new = objects.write_blob(scratch.git, b"new\n")
        own = Path(scratch.git.path) / "objects"
        assert not (own / str(known)[:2] / str(known)[2:]).exists()  # read from the base, not written again
        assert objects.loose_path(scratch.git, known) == objects.loose_path(repo.git, known)
        assert (own / str(new)[:2] / str(new)[2:]).exists()
    assert new not in repo.git.odb


def test_a_damaged_loose_header_is_corrupt_object_not_a_size(repo):
    oid = objects.write_blob(repo.git, BIG)
    path = objects.loose_path(repo.git, oid)
    os.chmod(path, 0o644)
    path.write_bytes(b"\x78\x01" + bytes(100))  # a zlib stream that holds no header
    with pytest.raises(CorruptObject):
        objects.size(repo.git, oid)
