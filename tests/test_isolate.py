"""run_isolated: how a forked child ended, reported faithfully."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

import rawmmap


def test_return_value_and_output() -> None:
    def work(a: int, *, b: int) -> dict[str, int]:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        os.write(1, b"raw fd 1\n")
        return {"sum": a + b}

    outcome = rawmmap.run_isolated(work, 2, b=3)
    assert outcome.returned == {"sum": 5}
    assert outcome.exitcode == 0 and outcome.signal is None and outcome.si_code is None
    assert outcome.stdout == "to stdout\nraw fd 1\n"
    assert outcome.stderr == "to stderr\n"
    assert repr(outcome) == "<Outcome: returned {'sum': 5}>"


def test_exit_code() -> None:
    outcome = rawmmap.run_isolated(sys.exit, 3)
    assert outcome.exitcode == 3 and outcome.returned is None and not outcome.killed
    assert repr(outcome) == "<Outcome: exited with 3>"
    assert rawmmap.run_isolated(os._exit, 4).exitcode == 4


def test_exception_is_raised_again_with_child_traceback() -> None:
    def fail() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing") as info:
        rawmmap.run_isolated(fail)
    cause = info.value.__cause__
    assert isinstance(cause, rawmmap.ChildTraceback)
    assert "in fail" in str(cause) and "KeyError" in str(cause)


def test_unpicklable_result_is_a_clear_error() -> None:
    with pytest.raises(Exception, match="pickl"):
        rawmmap.run_isolated(lambda: lambda: 1)


def test_abort_and_kill_are_reported() -> None:
    outcome = rawmmap.run_isolated(os.abort)
    assert outcome.signal is signal.SIGABRT and outcome.exitcode is None
    assert outcome.si_addr is None  # not a fault: no address
    killed = rawmmap.run_isolated(lambda: os.kill(os.getpid(), signal.SIGKILL))
    assert killed.signal is signal.SIGKILL and killed.si_code is None


def test_timeout_kills_the_child() -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"within 0.3 s.*SIGKILL"):
        rawmmap.run_isolated(time.sleep, 30, timeout=0.3)
    assert time.monotonic() - start < 5


def test_guarded_fault_inside_child_is_an_exception_not_a_death(tmp_path: object) -> None:
    def child() -> str:
        with rawmmap.map_anonymous(rawmmap.PAGESIZE, prot=rawmmap.PROT_NONE) as m:
            try:
                m[0]
            except rawmmap.MappingFault as fault:
                return fault.code
        return "no fault"

    assert rawmmap.run_isolated(child).returned == "SEGV_ACCERR"


def test_parent_waitpid_sees_the_real_signal() -> None:
    """The child dies of the signal itself, not of a simulated exit code."""
    m = rawmmap.map_anonymous(rawmmap.PAGESIZE, prot=rawmmap.PROT_NONE)
    import ctypes

    outcome = rawmmap.run_isolated(ctypes.string_at, m.address, 1)
    assert outcome.signal is signal.SIGSEGV and outcome.code == "SEGV_ACCERR"
    assert outcome.si_addr == m.address
    assert "Fatal Python error: Segmentation fault" in outcome.stderr  # faulthandler ran too
    m.close()
