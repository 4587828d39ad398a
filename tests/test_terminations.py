"""A SIGTERM is never lost: one that lands while the garbage collector runs
a callback (where Python cannot raise it) is sent again, and stops the
command where it can."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import os, signal, time, weakref
from attgit.format.backup.spool import Terminated, termination_interrupts

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
