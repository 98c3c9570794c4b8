"""The one owner of rawmmap's compiled modules and of the guard protocol.

Two extensions are built at install time:

* ``rawmmap._native`` — the CFFI binding of the libc calls (raw layer) and the
  header constants;
* ``rawmmap._core`` — plain CPython C: the fault guard, guarded copies and
  atomics, ``Region`` (the C base of :class:`rawmmap.Mapping`, which owns one
  mapped range and counts its buffer exports) and ``MutexBase`` (the C base of
  :class:`rawmmap.SharedMutex`).  Its design comment (``_csrc/core.c``) says
  how the guard stays current; ``docs/design.md`` tells the whole story.

Every other module imports what it needs from here, never from the compiled
modules.  Configuring the guard is done once, here: ``_core`` is given the
function that builds a :class:`~rawmmap.MappingFault`, the functions it reads
faulthandler's and Python's signal state with (called directly, no syscall),
and :func:`_claim`, which puts a fresh :class:`GuardToken` into Python's
signal table when the guard (re)establishes itself from the main thread.
Importing rawmmap changes no signal disposition: all of that happens at the
first guarded access.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # C module: signal.getsignal is a ~1 µs wrapper
import faulthandler
import os
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from . import _core
from ._native import ffi, lib

if TYPE_CHECKING:
    from ._errors import MappingFault

core = _core

__all__ = ["GuardToken", "core", "ffi", "lib"]


class GuardToken:
    """What ``signal.getsignal(SIGSEGV/SIGBUS)`` returns while rawmmap's guard holds the signal.

    rawmmap's C handler is installed under Python's signal table; this token
    sits in the table so that any later ``signal.signal()`` for the signal —
    even one that sets the same handler again — is visible to the guard
    (a fresh token is made each time the guard re-establishes itself).  The
    token forwards to the Python-level handler it displaced, so a signal
    sent with ``kill`` still reaches the handler the program set.
    """

    def __init__(self, signum: int, previous: Any) -> None:
        self.signum = signal.Signals(signum)
        self.previous = previous

    def __call__(self, signum: int, frame: FrameType | None) -> Any:
        previous = self.previous
        if callable(previous):
            return previous(signum, frame)
        if previous == signal.SIG_DFL:  # as if rawmmap were not there
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        return None

    def __repr__(self) -> str:
        return f"<rawmmap fault guard for {self.signum.name}; before it: {self.previous!r}>"


def _claim(signum: int) -> GuardToken:
    """Put a fresh token for ``signum`` into Python's signal table (main thread only)."""
    current = signal.getsignal(signum)
    previous = current.previous if isinstance(current, GuardToken) else current
    token = GuardToken(signum, previous)
    signal.signal(signum, token)
    return token


def _fault(signo: int, si_code: int, address: int, pkey: int) -> MappingFault:
    # imported here: _errors needs _constants, which needs this module's lib
    from ._errors import MappingFault, explain_fault

    fault = MappingFault(signo, si_code, address)
    fault.explanation = explain_fault(signo, fault.code)
    if pkey >= 0:
        fault.pkey = pkey
    return fault


main_thread = threading.main_thread().ident
_core.configure(
    fault_factory=_fault,
    claim=_claim,
    fh_is_enabled=faulthandler.is_enabled,
    getsignal=_signal.getsignal,
    main_thread=main_thread if main_thread is not None else 0,
)
