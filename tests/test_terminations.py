"""A SIGTERM is never lost: one that lands while the garbage collector runs
a callback (where Python cannot raise it) is sent again, and stops the
command where it can."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import os, signal, time, weakref
from attgit.interrupts import Terminated, termination_interrupts

class Thing:
    pass

try:
    with termination_interrupts():
        thing = Thing()

        def collected(_):
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, inside the callback
            sum(range(1000))

        ref = weakref.ref(thing, collected)
        del thing
        time.sleep(5)
    print("not stopped")
except Terminated as exc:
    print("stopped by", exc.signum)
"""


def test_a_sigterm_inside_a_weakref_callback_still_stops_the_command():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "stopped by 15", (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


MAKING = """
import os, signal, sys, tempfile, threading
from attgit.format.backup import spool as module
from attgit.interrupts import termination_interrupts

signal.signal(signal.SIGINT, signal.default_int_handler)  # not ignored, as a background job's would be
threading.Thread(target=threading.Event().wait, daemon=True).start()  # another thread, as the GnuPG reader's

real = tempfile.mkdtemp

def mkdtemp(*args, **kwargs):  # the signal lands the moment the folder exists
    made = real(*args, **kwargs)
    os.kill(os.getpid(), int(sys.argv[2]))
    sum(range(1000))  # where Python runs a handler that is not held back
    return made

tempfile.mkdtemp = mkdtemp
try:
    with termination_interrupts():
        module._Spool(sys.argv[1])
    print("not stopped")
except KeyboardInterrupt as exc:
    print("stopped", type(exc).__name__, sorted(os.listdir(sys.argv[1])))
"""


@pytest.mark.parametrize("signum, raised", [(signal.SIGTERM, "Terminated"), (signal.SIGINT, "KeyboardInterrupt")])
def test_a_signal_as_a_spool_folder_is_made_leaves_no_folder(tmp_path, signum, raised):
    """The window between the spool's folder and its clean-up is closed: the
    signal waits for the clean-up, then interrupts (CI once found a folder
    left by a SIGTERM there)."""
    parent = tmp_path / "spools"
    done = subprocess.run([sys.executable, "-c", MAKING, str(parent), str(int(signum))],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == f"stopped {raised} []", (done.stdout, done.stderr)


REMOVING = """
import os, shutil, signal, sys, threading
from attgit.format.backup import spool as module
from attgit.interrupts import termination_interrupts

signal.signal(signal.SIGINT, signal.default_int_handler)  # not ignored, as a background job's would be
threading.Thread(target=threading.Event().wait, daemon=True).start()  # another thread, as the GnuPG reader's

spool = module._Spool(sys.argv[1])
spool.add("acme", b"{}")
spool.flush()
real = shutil.rmtree

def rmtree(*args, **kwargs):  # the signal lands as the clean-up starts
    os.kill(os.getpid(), int(sys.argv[2]))
    sum(range(1000))
    return real(*args, **kwargs)

module.shutil.rmtree = rmtree
try:
    with termination_interrupts():
        spool.close()
    print("not stopped")
except KeyboardInterrupt as exc:
    print("stopped", type(exc).__name__, sorted(os.listdir(sys.argv[1])))
"""


@pytest.mark.parametrize("signum, raised", [(signal.SIGTERM, "Terminated"), (signal.SIGINT, "KeyboardInterrupt")])
def test_a_signal_as_a_spool_is_removed_leaves_no_folder(tmp_path, signum, raised):
    """The clean-up runs once (it is a ``weakref.finalize``): a signal in the
    middle of it would leave the rest of the folder for good, so it waits."""
    parent = tmp_path / "spools"
    done = subprocess.run([sys.executable, "-c", REMOVING, str(parent), str(int(signum))],
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == f"stopped {raised} []", (done.stdout, done.stderr)


SETTING_UP = """
import os, signal, sys
from django.apps import registry
from attgit.interrupts import termination_interrupts
from django_adapter.backend import _setup_django

real = registry.Apps.populate

def populate(self, installed):  # the SIGTERM lands as Django fills its registry
    os.kill(os.getpid(), signal.SIGTERM)
    sum(range(1000))
    return real(self, installed)

registry.Apps.populate = populate
try:
    with termination_interrupts():
        _setup_django("attendance_site.settings")
    print("not stopped")
except KeyboardInterrupt as exc:
    print("stopped", type(exc).__name__, registry.apps.ready)
"""


def test_a_sigterm_during_django_setup_waits_for_it(tmp_path):
    """A SIGTERM inside django.setup() left the registry half-filled, and the
    next setup said "populate() isn't reentrant": an internal error instead of
    "terminated" (found by the import kill trials, SIGTERM at 0.37 s)."""
    examples = str(Path(__file__).resolve().parents[1] / "examples")
    env = {**os.environ, "PYTHONPATH": examples, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    done = subprocess.run([sys.executable, "-c", SETTING_UP], capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout.strip() == "stopped Terminated True", (done.stdout, done.stderr)


IMPORTING = """
import os, signal, sys, time
from attgit.interrupts import Terminated, termination_interrupts

sys.path.insert(0, sys.argv[1])
try:
    with termination_interrupts():
        import signalled  # its body signals this process half-way, then carries on
        print("imported", signalled.whole)
        time.sleep(5)
    print("not stopped")
except Terminated as exc:
    print("stopped by", exc.signum, "with the module", "signalled" in sys.modules)
"""

SIGNALLED = """
import os, signal
os.kill(os.getpid(), signal.SIGTERM)
sum(range(1000))  # where Python runs a handler that does not wait
whole = True
"""


def test_a_sigterm_inside_an_import_waits_for_the_import(tmp_path):
    """An exception raised inside a module's import can land in a C
    extension's initialisation, which some (orjson's) answer with a
    segmentation fault: the import kill trials saw exit -11 for a SIGTERM
    0.06 s into a command.  The signal is sent again once the import is
    whole, and then stops the command."""
    (tmp_path / "signalled.py").write_text(SIGNALLED)
    done = subprocess.run([sys.executable, "-c", IMPORTING, str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.split("\n")[:2] == ["imported True", "stopped by 15 with the module True"], (
        done.stdout, done.stderr)
