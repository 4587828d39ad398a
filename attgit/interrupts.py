"""Interruptions: SIGTERM and SIGHUP raised like Ctrl-C, and moments no
signal may cut in two.

A command's clean-up (the database transaction's rollback, the removal of
a spool of plain-text records) runs in ``finally`` blocks.  Python's
default for SIGTERM ends the process where it stands, skipping them, so
:func:`termination_interrupts` turns SIGTERM and SIGHUP into an exception
as SIGINT already is.  Some steps must not be cut in two by that exception
either (a folder made but its clean-up not yet registered; a clean-up that
runs once, stopped half-way): :func:`held` defers a signal to the end of
such a step, and a signal that lands inside a module's import is sent again
once the import is whole.

The hold is kept by the handlers themselves, not by a signal mask: a
process-directed signal is delivered to any thread that does not block it
(the GnuPG reader's, say), and Python then runs the handler in the main
thread whatever the main thread's mask (found by CI: a spool folder left
behind by a SIGTERM during an encrypted import).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Iterator, List


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so every ``finally`` runs (the
    database transaction rolls back, the spool is removed)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


_TERMINATIONS = (signal.SIGTERM, signal.SIGHUP)
#: How deep the main thread is in :func:`held` steps, and the signals that
#: came meanwhile.
_depth = 0
_pending: List[int] = []


def _exception(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _interrupt(signum, frame) -> None:
    """The handler of SIGINT, SIGTERM and SIGHUP inside
    :func:`termination_interrupts`."""
    if _depth:
        _pending.append(signum)
        return
    if _importing(frame):
        _send_again(signum)
        return
    raise _exception(signum)


def _importing(frame) -> bool:
    """Whether the main thread is running a module's import.  An exception
    raised there can land inside a C extension's initialisation, in Python
    code it calls back; some (orjson's) then crash the process instead of
    failing the import (found by the import kill trials: SIGTERM 0.06 s into
    a command, SIGSEGV, exit -11).  Imports end quickly: the signal waits."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _send_again(signum: int) -> None:
    """Send ``signum`` to this process again a moment later, from another
    thread, to land where it can stop the command."""
    threading.Timer(0.01, os.kill, (os.getpid(), signum)).start()


@contextlib.contextmanager
def termination_interrupts() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP interrupt the main thread as SIGINT
    does (Python's default would end the process at once, leaving the
    plain-text spool behind), and all three wait out a :func:`held` step.
    SIGINT keeps a disposition set from outside (ignored, for a command
    started in the background).  A no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    ours = list(_TERMINATIONS)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        ours.append(signal.SIGINT)
    before = {s: signal.signal(s, _interrupt) for s in ours}
    hook, sys.unraisablehook = sys.unraisablehook, _redeliver_interruptions(sys.unraisablehook)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        sys.unraisablehook = hook


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A step no interruption cuts in two: a signal that comes while inside
    is raised on the way out, once the step is whole.  Only the main thread
    is interrupted, so elsewhere this holds nothing back."""
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _pending:
            signum = _pending[0]
            _pending.clear()
            raise _exception(signum)


def _redeliver_interruptions(previous):
    """An unraisable-exception hook that sends a swallowed interruption
    again.  A signal whose handler runs inside a garbage collector's
    callback (a weakref, a ``__del__``) cannot raise there: Python prints
    "Exception ignored" and carries on, and the SIGTERM is lost.  Sent
    again a moment later from another thread, it lands where it can stop
    the command."""

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            _send_again(getattr(unraisable.exc_value, "signum", signal.SIGINT))
            return
        previous(unraisable)

    return hook
