"""Run a callable in a forked child and report how it ended.

The child dies of its crash for real: the parent's ``waitpid`` sees the very
signal.  Just before, rawmmap's signal handler (armed in the child with
``rawmmap._core.capture_arm``) writes the signal's ``si_code`` and ``si_addr`` into
a pipe, then hands the signal to the previous disposition (the default
action, or faulthandler's report first), so nothing about the death is
softened.  The child's fds 1 and 2 go to temporary files, read back as
``Outcome.stdout``/``.stderr``; its return value comes back pickled.  An
exception raised in the child is raised again in the parent, with the
child's traceback as its ``__cause__``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import os
import pickle
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._bindings import core
from ._constants import si_code_name

__all__ = ["ChildTraceback", "Outcome", "run_isolated"]

_RECORD = struct.Struct("@iiNi")
_FAULT_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP}
assert _RECORD.size <= core.FAULT_RECORD_SIZE
_RECORD_SIZE = core.FAULT_RECORD_SIZE


@dataclass(frozen=True, repr=False)
class Outcome:
    """How a child run by :func:`run_isolated` ended."""

    returned: Any = None
    exitcode: int | None = None  # None when killed by a signal
    signal: signal.Signals | None = None
    si_code: int | None = None
    code: str | None = None  # the si_code's name, e.g. "BUS_ADRERR"
    si_addr: int | None = None
    stdout: str = ""
    stderr: str = ""
    pkey: int | None = None  # the protection key of a SEGV_PKUERR fault

    @property
    def killed(self) -> bool:
        """True when the child died of a signal."""
        return self.signal is not None

    def describe(self) -> str:
        """``killed by SIGBUS (BUS_ADRERR) at 0x7f...``, ``returned 42`` or ``exited with 3``."""
        if self.signal is not None:
            text = f"killed by {self.signal.name}"
            if self.code is not None:
                text += f" ({self.code})"
            if self.si_addr:
                text += f" at {self.si_addr:#x}"
            return text
        if self.exitcode == 0:
            return f"returned {self.returned!r}"
        return f"exited with {self.exitcode}"

    def __repr__(self) -> str:
        return f"<Outcome: {self.describe()}>"


class ChildTraceback(Exception):
    """The traceback of an exception raised in the isolated child (as text)."""


def _child(fn: Callable[..., Any], args: Any, kwargs: Any, out: int, err: int, res: int,
           rec: int) -> None:  # fmt: skip
    code = 1
    try:
        os.dup2(out, 1)
        os.dup2(err, 2)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)
        if faulthandler.is_enabled():  # its crash report belongs in Outcome.stderr too
            faulthandler.enable(file=sys.stderr, all_threads=False)
        core.capture_arm(rec)
        try:
            payload = ("returned", fn(*args, **kwargs))
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
            payload = ("exited", None)
        except BaseException as exc:
            text = traceback.format_exc()
            payload = ("raised", (exc, text))
        try:
            data = pickle.dumps(payload)
        except Exception as exc:
            text = traceback.format_exc()
            data = pickle.dumps(
                ("raised", (None, f"{text}\n(while pickling {payload[0]}: {exc!r})"))
            )
            code = 1
        os.write(res, data)
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def run_isolated(
    fn: Callable[..., Any], *args: Any, timeout: float | None = None, **kwargs: Any
) -> Outcome:
    """Run ``fn(*args, **kwargs)`` in a forked child; return an :class:`Outcome`.

    A crash (SIGBUS, SIGSEGV, abort, ...) kills only the child and is reported
    with its signal, ``si_code`` (number and name) and ``si_addr``.  An
    exception in the child is raised again here (its child-side traceback as
    ``__cause__``).  With ``timeout`` (seconds), a child still running then is
    killed with SIGKILL and ``TimeoutError`` is raised.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.flush()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryFile() as res:  # fmt: skip
        rec_r, rec_w = os.pipe()
        try:
            with warnings.catch_warnings():
                # the child only runs fn and leaves with os._exit: fork's
                # "multi-threaded process" DeprecationWarning (3.12+) does not apply
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                os.close(rec_r)
                _child(fn, args, kwargs, out.fileno(), err.fileno(), res.fileno(), rec_w)
            os.close(rec_w)
            rec_w = -1
            status = _wait(pid, timeout, fn)
            # the record, if any, was written before the child died; a grandchild the
            # function forked may still hold the pipe open, so never wait for EOF
            os.set_blocking(rec_r, False)
            try:
                record = os.read(rec_r, _RECORD_SIZE)[: _RECORD.size]
            except BlockingIOError:
                record = b""
        finally:
            os.close(rec_r)
            if rec_w >= 0:
                os.close(rec_w)
        stdout, stderr, result = (_slurp(f) for f in (out, err, res))
    return _outcome(status, record, stdout.decode(errors="replace"),
                    stderr.decode(errors="replace"), result)  # fmt: skip


def _slurp(f: Any) -> bytes:
    f.seek(0)
    data: bytes = f.read()
    return data


def _wait(pid: int, timeout: float | None, fn: Callable[..., Any]) -> int:
    if timeout is None:
        return os.waitpid(pid, 0)[1]
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            name = getattr(fn, "__qualname__", repr(fn))
            raise TimeoutError(
                f"run_isolated: {name} did not finish within {timeout} s; "
                f"the child (pid {pid}) was killed with SIGKILL"
            )
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)


def _outcome(status: int, record: bytes, stdout: str, stderr: str, result: bytes) -> Outcome:
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status))
        si_code = si_addr = code = pkey = None
        if len(record) == _RECORD.size:
            r_sig, r_code, r_addr, r_pkey = _RECORD.unpack(record)
            if r_sig == sig:
                si_code, code = r_code, si_code_name(r_sig, r_code)
                pkey = r_pkey if r_pkey >= 0 else None
                # si_addr is an address only for a fault the kernel raised
                si_addr = r_addr if r_code > 0 and sig in _FAULT_SIGNALS else None
        return Outcome(None, None, sig, si_code, code, si_addr, stdout, stderr, pkey)
    exitcode = os.WEXITSTATUS(status)
    returned = None
    if result:
        kind, value = pickle.loads(result)
        if kind == "raised":
            exc, text = value
            cause = ChildTraceback("Traceback in the isolated child:\n" + text)
            if isinstance(exc, BaseException):
                raise exc.with_traceback(None) from cause
            last = text.strip().splitlines()[-1] if text.strip() else "no traceback"
            raise RuntimeError(f"the isolated child failed: {last}") from cause
        returned = value
    return Outcome(returned, exitcode, None, None, None, None, stdout, stderr)
