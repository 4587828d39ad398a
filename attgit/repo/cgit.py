"""C git as a subprocess: the wire (fetch, push, clone) and
maintenance (repack, gc).

pygit2 stays the door for reading and writing objects; moving them between
machines and packing them is what C git does best: it builds packs on every
core, reuses deltas already on disk, and speaks every transport (path,
file://, git://, ssh://, https://) exactly as a git host expects, as Kart
does too.

Every run is hermetic and never waits for a person: no system config, no
terminal prompt for a password, ssh in batch mode, C locale so messages
can be read, git's own background gc off (attgit runs its own maintenance,
see :mod:`attgit.repo.maintenance`).  ``--progress`` lines on stderr are
turned into the ``progress(done, total)`` calls the CLI draws as a bar.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from attgit.errors import ConfigError

Progress = Optional[Callable[[int, int], None]]

# Phases of git's progress output ("Receiving objects:  45% (450/1000), 1.2 MiB | ...").
_PROGRESS_RE = re.compile(r"^([A-Za-z][A-Za-z ]*):\s+\d+% \((\d+)/(\d+)\)")
_REMOTE_PROGRESS_RE = re.compile(r"^remote: [A-Za-z][A-Za-z ]*:\s+(\d+% \(\d+/\d+\)|\d+)")
# Variables that would point git at another repository or config than the one we name.
_REPOSITORY_VARIABLES = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_QUARANTINE_PATH", "GIT_REPLACE_REF_BASE",
)
# git's own automatic maintenance would detach a background gc; attgit packs on its own terms.
# A fetch keeps the pack it receives (its company blobs arrive as small deltas; unpacked
# into loose objects they would each be a whole compressed file again).
QUIET_CONFIG = ("gc.auto=0", "maintenance.auto=false", "fetch.writeCommitGraph=false", "core.askPass=",
                "fetch.unpackLimit=1")
SSH_OPTIONS = "-o BatchMode=yes -o ConnectTimeout=30"
MIN_VERSION = (2, 29)  # git fetch --no-write-fetch-head
#: The only transports git may use for attgit (a local path counts as file):
#: never ext:: (runs a command), fd:: (waits on a descriptor for ever) or others.
ALLOWED_PROTOCOLS = "file:git:ssh:http:https"
#: git commands that talk to a remote: stopped when silent this long.
NETWORK_COMMANDS = ("fetch", "push", "clone", "ls-remote")
DEFAULT_NETWORK_TIMEOUT = 300.0


def network_timeout() -> float:
    """Seconds a network git command may go without a sign of life (output
    or progress) before it is stopped: ``$ATTGIT_NETWORK_TIMEOUT``, else
    five minutes.  A transfer that keeps moving is never cut."""
    text = os.environ.get("ATTGIT_NETWORK_TIMEOUT", "")
    if not text:
        return DEFAULT_NETWORK_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e7:
        raise ConfigError(f"ATTGIT_NETWORK_TIMEOUT={text!r} is not a number of seconds above 0")
    return value


@dataclass
class Result:
    """A finished git command: its exit code, stdout, and stderr without
    the progress lines."""

    args: list
    returncode: int
    stdout: str
    messages: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error(self) -> str:
        """git's own words for what went wrong, on one line."""
        lines = [m for m in self.messages if m.strip()]
        fatal = [m for m in lines if m.startswith(("fatal:", "error:"))]
        text = "; ".join((fatal or lines)[-3:]) or f"git {self.args[0]} exited with {self.returncode}"
        return text


@functools.cache
def version() -> str:
    """The installed git's version; ConfigError when there is no git."""
    exe = shutil.which("git")
    if exe is None:
        raise ConfigError("attgit needs C git (the `git` command) for remotes and repository maintenance, "
                          "and none is on PATH; install it (Debian/Ubuntu: apt-get install git) and try again")
    done = subprocess.run([exe, "--version"], check=False, capture_output=True, text=True, env=environment())
    if done.returncode != 0 or not done.stdout.startswith("git version"):
        raise ConfigError(f"`git --version` failed ({done.stderr.strip() or done.stdout.strip()}); "
                          "attgit needs a working C git on PATH")
    return checked_version(done.stdout, exe)


def checked_version(said: str, exe: str = "git") -> str:
    """The version in ``git --version``'s answer ("git version 2.39.5" ->
    "2.39.5"; a vendor's tail such as ".windows.1" kept); ConfigError when
    it is older than MIN_VERSION, compared as numbers (2.9 is older than
    2.29)."""
    found = said.split()[2]
    if tuple(int(p) for p in re.findall(r"\d+", found)[:2]) < MIN_VERSION:
        raise ConfigError(f"attgit needs C git {'.'.join(map(str, MIN_VERSION))} or later; "
                          f"{exe} is git {found}: upgrade it")
    return found


def environment() -> dict:
    """The environment git runs in: the user's, minus anything that would
    redirect git to another repository, plus no prompts and no system config."""
    env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", LC_ALL="C", LANGUAGE="C",
               GIT_ALLOW_PROTOCOL=ALLOWED_PROTOCOLS)
    if "GIT_SSH" not in env:  # GIT_SSH names a program; GIT_SSH_COMMAND would override it
        env["GIT_SSH_COMMAND"] = f"{env.get('GIT_SSH_COMMAND') or 'ssh'} {SSH_OPTIONS}"
    return env


def run(args: Sequence[str], git_dir: Optional[Path] = None, progress: Progress = None,
        config: Sequence[str] = QUIET_CONFIG, input: Optional[bytes] = None) -> Result:
    """Run ``git [-c config...] [--git-dir DIR] args...`` with ``input`` on
    its standard input (none: nothing); never raises on git's failure (the
    caller turns :class:`Result` into its own error)."""
    version()
    cmd = ["git"]
    for item in config:
        cmd += ["-c", item]
    if git_dir is not None:
        cmd.append(f"--git-dir={git_dir}")
    cmd += list(args)
    limit = network_timeout() if args and args[0] in NETWORK_COMMANDS else None
    process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(),
                               start_new_session=limit is not None)
    messages: list = []
    alive = [time.monotonic()]  # when git last said anything (progress included)
    chunks: list = []
    threads = [threading.Thread(target=_read_stderr, args=(process.stderr, messages, progress, alive), daemon=True),
               threading.Thread(target=_read_stdout, args=(process.stdout, chunks, alive), daemon=True)]
    if input is not None:  # written beside the reads: neither pipe can fill up and stall git
        threads.append(threading.Thread(target=_feed, args=(process.stdin, input), daemon=True))
    for thread in threads:
        thread.start()
    silent = _wait(process, alive, limit)
    for thread in threads:
        thread.join()
    if silent:
        from attgit.errors import RemoteError

        raise RemoteError(f"git {args[0]} stopped: no answer for {limit:.0f} s (a remote that hangs or a "
                          "network that dropped); try again, or raise ATTGIT_NETWORK_TIMEOUT for a slow link")
    return Result(list(args), process.returncode, b"".join(chunks).decode("utf-8", "replace"), messages)


def _wait(process: subprocess.Popen, alive: list, limit: Optional[float]) -> bool:
    """Wait for git; with a ``limit``, stop it (and its ssh, in its session)
    once silent that long.  Returns whether it was stopped."""
    if limit is None:
        process.wait()
        return False
    while True:
        try:
            process.wait(timeout=min(1.0, limit))
            return False
        except subprocess.TimeoutExpired:
            if time.monotonic() - alive[0] > limit:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return True


def _read_stdout(stream, chunks: list, alive: list) -> None:
    while chunk := stream.read1(65536):
        chunks.append(chunk)
        alive[0] = time.monotonic()
    stream.close()


def _feed(stream, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):  # git stopped reading: its exit code says why
        stream.write(data)
    with contextlib.suppress(BrokenPipeError):
        stream.close()


def _read_stderr(stream, messages: list, progress: Progress, alive: Optional[list] = None) -> None:
    """Split stderr on CR and LF: progress lines go to ``progress``, the
    rest are kept as messages."""
    pending = b""
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            break
        if alive is not None:
            alive[0] = time.monotonic()
        pending += chunk
        *lines, pending = re.split(rb"[\r\n]", pending)
        for line in lines:
            _line(line.decode("utf-8", "replace"), messages, progress)
    if pending:
        _line(pending.decode("utf-8", "replace"), messages, progress)
    stream.close()


def _line(line: str, messages: list, progress: Progress) -> None:
    match = _PROGRESS_RE.match(line)
    if match:
        if progress is not None:
            progress(int(match.group(2)), int(match.group(3)))
    elif line.strip() and not _REMOTE_PROGRESS_RE.match(line):
        messages.append(line.strip())
