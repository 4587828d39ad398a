"""Whole objects read straight from packs equal what git stores, deltas are
left to libgit2, and damage is an error, never other content."""

from __future__ import annotations

import random
import subprocess

import pygit2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attgit.format import objects, packs

from .helpers import git


def _repo_with_versions(path, versions: int, rng: random.Random):
    """A bare repository of ``versions`` commits of two growing files, packed."""
    git("init", "-q", "--bare", str(path))
    repo = pygit2.Repository(str(path))
    lines = [f"{i:06d} {rng.random()}\n".encode() for i in range(2000)]
    parent = []
    for n in range(versions):
        lines[rng.randrange(len(lines))] = f"edit {n} {rng.random()}\n".encode()
        tree = repo.TreeBuilder()
        tree.insert("a.jsonl", repo.create_blob(b"".join(lines)), pygit2.GIT_FILEMODE_BLOB)
        tree.insert("b.jsonl", repo.create_blob(b"".join(reversed(lines))[: 1000 * (n + 1)]),
                    pygit2.GIT_FILEMODE_BLOB)
        sig = pygit2.Signature("t", "t@example.com", 1_700_000_000 + n, 0)
        parent = [repo.create_commit("refs/heads/main", sig, sig, f"v{n}", tree.write(), parent)]
    return repo


def _all_objects(path) -> list[str]:
    return [line.split()[0] for line in git("-C", str(path), "rev-list", "--objects", "--all").splitlines()]


@pytest.mark.parametrize("repack", [["-a", "-d", "--window=0"], ["-a", "-d"], ["-a", "-d", "-f", "--depth=3"]])
def test_every_object_whole_or_none_and_equal_to_git(tmp_path, repack):
    path = tmp_path / "r.git"
    repo = _repo_with_versions(path, 8, random.Random(1))
    git("-C", str(path), "repack", "-q", *repack)
    git("-C", str(path), "prune-packed")
    whole = 0
    for hexsha in _all_objects(path):
        got = packs.read_whole(str(path) + "/", hexsha)
        if got is not None:
            whole += 1
            assert got == repo.odb.read(pygit2.Oid(hex=hexsha))[1], hexsha
        assert objects.read(repo, pygit2.Oid(hex=hexsha)) == repo.odb.read(pygit2.Oid(hex=hexsha))[1]
    assert whole >= 3 + 3 * 8 * (repack == ["-a", "-d", "--window=0"])  # without deltas every object is whole


def test_an_object_not_in_any_pack_is_none_and_a_new_pack_is_found(tmp_path):
    path = tmp_path / "r.git"
    repo = _repo_with_versions(path, 2, random.Random(2))
    loose = repo.create_blob(b"only loose\n")
    assert packs.read_whole(repo.path, str(loose)) is None
    tree = repo.TreeBuilder()
    tree.insert("c.jsonl", loose, pygit2.GIT_FILEMODE_BLOB)
    sig = pygit2.Signature("t", "t@example.com", 1_800_000_000, 0)
    repo.create_commit("refs/heads/main", sig, sig, "c", tree.write(), [repo.references["refs/heads/main"].target])
    git("-C", str(path), "repack", "-q", "-a", "-d", "--window=0")
    loose = str(loose)
    assert packs.read_whole(repo.path, loose) == b"only loose\n"


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_flipped_bit_in_a_pack_is_an_error_or_the_true_content(tmp_path_factory, data):
    """Damage read straight from a pack raises what the damage guard turns
    into CorruptObject, or (a bit git finds harmless) gives the true bytes."""
    path = tmp_path_factory.mktemp("flip") / "r.git"
    repo = _repo_with_versions(path, 3, random.Random(3))
    git("-C", str(path), "repack", "-q", "-a", "-d", "--window=0")
    truth = {h: repo.odb.read(pygit2.Oid(hex=h))[1] for h in _all_objects(path)}
    pack = next((path / "objects" / "pack").glob("*.pack"))
    raw = bytearray(pack.read_bytes())
    position = data.draw(st.integers(12, len(raw) - 21), label="byte")
    raw[position] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    pack.chmod(0o644)
    pack.write_bytes(bytes(raw))
    fresh = str(path) + "/"  # a new key: the damaged pack is mapped anew
    for hexsha, content in truth.items():
        try:
            got = packs.read_whole(fresh, hexsha)
        except objects.READ_ERRORS:
            continue
        assert got is None or got == content or _git_rejects(path, hexsha), hexsha
    packs._OPEN.pop(fresh, None)


def _git_rejects(path, hexsha: str) -> bool:
    return subprocess.run(["git", "-C", str(path), "cat-file", "-p", hexsha], capture_output=True).returncode != 0
