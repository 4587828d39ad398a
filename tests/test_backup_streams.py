"""Backup files read as streams (issues 18.5, 17.3, 20.1): a key given twice
is refused where it is, gzip is read streaming and bounded (a bomb is
refused after the limit, not after the disk), and the spool is private,
under the caller's folder, and swept when its process is gone."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys

from attgit.format.backup import read_backup
from attgit.format.backup import spool as spool_module

from .helpers import bomb
from .test_backupfile import content, read, rejected, sample, write

# --- a key given twice ----------------------------------------------------------------------

def test_a_record_line_repeating_a_key_is_refused_naming_the_record():
    data = write(sample(3))
    lines = data.split(b"\n")
    i = next(n for n, line in enumerate(lines) if b'"E001"' in line)
    lines[i] = lines[i].replace(b'"status":"P"', b'"status":"P","status":"A"')
    exc = rejected(b"\n".join(lines), "invalid_schema")
    assert "key 'status' appears twice" in str(exc) and exc.where == "record 2", str(exc)


def test_a_repeated_key_in_any_formatting_is_refused_naming_the_record():
    text = json.dumps(json.loads(write(sample(3))), indent=2)  # not the fast path's layout
    text = text.replace('"ep_no": "E002",', '"ep_no": "E002",\n "ep_no": "E009",', 1)
    exc = rejected(text.encode(), "invalid_schema")
    assert "key 'ep_no' appears twice" in str(exc) and "record 3" in str(exc), str(exc)


def test_a_repeated_key_in_the_metadata_is_refused():
    data = write(sample(2)).replace(b'"backup_type":"full"', b'"backup_type":"full","backup_type":"incremental"', 1)
    exc = rejected(data, "invalid_schema")
    assert "key 'backup_type' appears twice" in str(exc) and exc.where == "metadata", str(exc)


def test_the_same_key_in_different_records_is_fine():
    """Only one object's own keys count: every record has a "status"."""
    with read(write(sample(5))) as backup:
        assert backup.total_records == 5


# --- gzip --------------------------------------------------------------------------------------

def test_a_gzipped_file_reads_as_its_plain_self():
    plain = write(sample(50))
    with read(plain) as a, read(gzip.compress(plain)) as b:
        assert content(a) == content(b) and b.compressed and not a.compressed
        assert b.size == len(gzip.compress(plain))


def test_a_gzipped_file_in_another_formatting_takes_the_streaming_parser():
    pretty = json.dumps(json.loads(write(sample(20))), indent=1).encode()
    with read(gzip.compress(pretty)) as backup:
        assert backup.total_records == 20


def test_a_gzip_bomb_is_refused_once_past_the_limit_and_nothing_is_kept(tmp_path):
    data = bomb(8 << 20)
    assert len(data) < 100_000
    spools = tmp_path / "spools"
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(data)
    exc = rejected(path.read_bytes(), "too_large", max_plain_bytes=1 << 20, spool_dir=spools)
    assert f"more than {1 << 20:,} bytes" in str(exc) and "decompressed" in str(exc), str(exc)
    assert list(spools.iterdir()) == []  # the spool went with the failure


def test_the_limit_applies_to_the_decompressed_bytes_not_the_file():
    plain = write(sample(200))
    packed = gzip.compress(plain)
    with read(packed, max_bytes=len(packed), max_plain_bytes=len(plain)) as backup:
        assert backup.total_records == 200
    rejected(packed, "too_large", max_plain_bytes=len(plain) - 1)
    rejected(packed, "too_large", max_bytes=len(packed) - 1)


def test_a_cut_gzip_file_says_damaged():
    packed = gzip.compress(write(sample(200)))
    exc = rejected(packed[: len(packed) // 2], "unreadable")
    assert "damaged or cut short" in str(exc), str(exc)


# --- the spool -----------------------------------------------------------------------------

def test_the_spool_is_private_under_the_given_folder_and_removed(tmp_path):
    spools = tmp_path / "repo.git" / spool_module.SPOOL_FOLDER
    with read(write(sample(5)), spool_dir=spools) as backup:
        folder = backup._spool.dir
        assert os.path.dirname(folder) == str(spools)
        assert stat.S_IMODE(os.stat(spools).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert spool_module.sweep(spools) == 0  # its owner is alive: kept
        assert os.path.isdir(folder)
    assert not os.path.exists(folder)


KILLED_READER = """
import sys, os, signal
from attgit.format.backup import read_backup
backup = read_backup(sys.argv[1], spool_dir=sys.argv[2])
print(backup._spool.dir, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_spool_whose_process_died_is_swept(tmp_path):
    path, spools = tmp_path / "b.json", tmp_path / "spools"
    path.write_bytes(write(sample(5)))
    run = subprocess.run([sys.executable, "-c", KILLED_READER, str(path), str(spools)], capture_output=True,
                         text=True, check=False)
    left = run.stdout.strip()
    assert run.returncode == -9 and os.path.isdir(left), run.stderr
    assert spool_module.sweep(spools) == 1
    assert not os.path.exists(left)


def test_a_new_reader_sweeps_a_dead_spool(tmp_path):
    path, spools = tmp_path / "b.json", tmp_path / "spools"
    path.write_bytes(write(sample(5)))
    run = subprocess.run([sys.executable, "-c", KILLED_READER, str(path), str(spools)], capture_output=True,
                         text=True, check=False)
    left = run.stdout.strip()
    with read_backup(path, spool_dir=spools) as backup:
        assert os.listdir(spools) == [os.path.basename(backup._spool.dir)]
    assert not os.path.exists(left)



def test_the_temporary_folder_is_swept_of_dead_and_old_spools(tmp_path, monkeypatch):
    """What a killed import of an earlier version left in $TMPDIR (no lock,
    no pid) goes once an hour old; a spool of a dead pid goes at once; a
    live reader's spool and other files stay."""
    monkeypatch.setattr(spool_module.tempfile, "tempdir", str(tmp_path))
    old = tmp_path / "attgit-backup-abcdefgh"
    young = tmp_path / "attgit-decrypt-ijklmnop"
    dead = tmp_path / "attgit-backup-999999999-qrstuvwx"
    other = tmp_path / "somebody-elses"
    for folder in (old, young, dead, other):
        folder.mkdir()
        (folder / "000000.jsonl").write_text('{"ep_name":"Secret"}\n')
    os.utime(old, (0, 0))
    assert spool_module.sweep_temporary() == 2
    assert not old.exists() and not dead.exists()
    with read(write(sample(3))) as backup:  # a live spool in $TMPDIR (no repository named)
        live = backup._spool.dir
        assert os.path.dirname(live) == str(tmp_path)
        assert spool_module.sweep_temporary() == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [young.name, other.name, os.path.basename(live)])
