"""Recovery mode, ``on_sigbus="zero"`` (DESIGN.md "Round 2"; _csrc/core.c section 1r).

Every test that faults runs in a forked child (rawmmap.run_isolated): a bug
in the handler kills the child, not the test run.  The "raise" mode is
compared with C (tests/c/fault_cases.c).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pathlib
import platform
import signal
import subprocess
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import rawmmap
from rawmmap import PROT_NONE, PROT_READ

PAGE = rawmmap.PAGESIZE
BUS_ADRERR = rawmmap._constants.VALUES["BUS_ADRERR"]
# where the CPU reports the access kind (x86-64's page-fault error code)
WRITE_KNOWN = platform.machine() in ("x86_64", "AMD64")


def isolated(fn: Callable[..., Any], *args: Any) -> Any:
    """Run fn in a child; it must return normally (a crash fails the test with its story)."""
    outcome = rawmmap.run_isolated(fn, *args, timeout=60)
    assert not outcome.killed and outcome.exitcode == 0, (outcome, outcome.stderr)
    return outcome.returned


def seen(m: rawmmap.Mapping) -> None:
    """check() the mapping and let the fault go (the test looks at m.patched itself)."""
    with contextlib.suppress(rawmmap.MappingFault):
        m.check()


def pattern_file(path: pathlib.Path, pages: int) -> bytes:
    data = bytes((i * 7 + 3) % 251 for i in range(pages * PAGE))
    path.write_bytes(data)
    return data


# -- the contract of the issue: numpy a += 1 over a file truncated under it -------------


def _numpy_truncated(path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = rawmmap.map_file(path, on_sigbus="zero")
    a = np.frombuffer(m, dtype=np.uint8)
    before = bytes(a)
    os.truncate(path, PAGE)
    a += 1  # pages 1-3 lie beyond the end of the file now: SIGBUS, patched
    out["patched"] = m.patched
    out["page0"] = bytes(a[:PAGE]) == bytes((b + 1) % 256 for b in before[:PAGE])
    out["patched_pages_hold"] = bytes(a[PAGE:]) == b"\1" * (3 * PAGE)  # 0 + 1
    out["guarded_sees"] = m[PAGE], m.read(2 * PAGE, 4)  # guarded reads of a patched page
    try:
        m.check()
    except rawmmap.MappingFault as fault:
        out["fault"] = (fault.signal, fault.si_code, fault.code, fault.offset, str(fault))
    m.sync()
    out["size_after"] = os.stat(path).st_size
    # regrow with new bytes, repair: the same array sees the file again
    with open(path, "r+b") as f:
        f.seek(PAGE)
        f.write(b"\x55" * (3 * PAGE))
    out["repaired"] = m.repair()
    out["after_repair"] = bytes(a[PAGE:]) == b"\x55" * (3 * PAGE)
    a[PAGE] = 0x66  # MAP_SHARED again: the write reaches the file
    out["patched_after"] = m.patched
    m.check()  # nothing to report any more
    del a
    m.close()
    with open(path, "rb") as f:
        data = f.read()
    out["file"] = (len(data), data[PAGE], data[PAGE + 1])
    return out


def test_numpy_over_truncated_file_survives(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    pattern_file(path, 4)
    out = isolated(_numpy_truncated, str(path))
    wrote = False if WRITE_KNOWN else None  # a += 1 loads first: the fault is a read
    assert out["patched"] == [(PAGE, wrote), (2 * PAGE, wrote), (3 * PAGE, wrote)]
    assert out["page0"] and out["patched_pages_hold"]
    assert out["guarded_sees"] == (1, b"\1\1\1\1")
    signo, si_code, code, offset, text = out["fault"]
    assert (signo, si_code, code, offset) == (signal.SIGBUS, BUS_ADRERR, "BUS_ADRERR", PAGE)
    assert all(str(off) in text for off in (PAGE, 2 * PAGE, 3 * PAGE)) and "repair()" in text
    assert out["size_after"] == PAGE  # the writes into patched pages never reached the file
    assert out["repaired"] == [PAGE, 2 * PAGE, 3 * PAGE]
    assert out["after_repair"] and out["patched_after"] == []
    assert out["file"] == (4 * PAGE, 0x66, 0x55)


def _pure_write(path: str) -> list[tuple[int, bool | None]]:
    m = rawmmap.map_file(path, on_sigbus="zero")
    a = np.frombuffer(m, dtype=np.uint8)
    os.truncate(path, 0)
    a[2 * PAGE :] = 9  # stores only
    _ = int(a[PAGE])  # a load
    patched = m.patched
    seen(m)
    return patched


def test_write_flag_from_the_cpu(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    pattern_file(path, 3)
    patched = isolated(_pure_write, str(path))
    if WRITE_KNOWN:
        assert patched == [(PAGE, False), (2 * PAGE, True)]
    else:
        assert patched == [(PAGE, None), (2 * PAGE, None)]


def _large(path: str) -> tuple[int, str, list[int]]:
    m = rawmmap.map_file(path, on_sigbus="zero")
    a = np.frombuffer(m, dtype=np.uint8)
    os.truncate(path, 10 * PAGE)
    a[::PAGE] += 1
    n = len(m.patched)
    try:
        m.check()
    except rawmmap.MappingFault as fault:
        text = str(fault)
    os.truncate(path, 3000 * PAGE)
    repaired = m.repair()
    return n, text, [len(repaired), int(a[-1]), len(m.patched)]


def test_thousands_of_pages_and_runs_in_the_message(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"\2" * (3000 * PAGE))
    n, text, after = isolated(_large, str(path))
    assert n == 2990
    assert f"offsets {10 * PAGE}-{2999 * PAGE};" in text
    assert after == [2990, 0, 0]  # the file regrown with a hole: zeros, from the file now


# -- the front doors -------------------------------------------------------------------


def test_on_sigbus_is_checked(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    pattern_file(path, 1)
    for bad in ("ignore", "", None, 0, "ZERO"):
        with pytest.raises(ValueError, match=r"map_file\(\): on_sigbus must be 'raise'.*'zero'"):
            rawmmap.map_file(path, on_sigbus=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"Mapping\(\): on_sigbus must be"):
            rawmmap.Mapping(PAGE, on_sigbus=bad)  # type: ignore[arg-type]
    with rawmmap.map_file(path) as m:
        assert m.on_sigbus == "raise" and m.patched == []
        m.check()
        assert m.repair() == []
    with rawmmap.map_file(path, on_sigbus="zero") as m:
        assert m.on_sigbus == "zero" and m.patched == []


def _with_and_close(path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        with rawmmap.map_file(path, on_sigbus="zero") as m:
            os.truncate(path, 0)
            ctypes.memset(m.address + PAGE, 1, 1)
    except rawmmap.MappingFault as fault:
        out["with"] = (fault.offset, m.closed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with rawmmap.map_file(path, on_sigbus="zero") as m:
                ctypes.memset(m.address, 1, 1)
                raise KeyError("the block's own error wins")
        except KeyError:
            out["with_raised"] = m.closed, [w.category.__name__ for w in caught]
    m = rawmmap.map_file(path, on_sigbus="zero")
    ctypes.memset(m.address, 1, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.close()
    out["warned"] = [(w.category.__name__, str(w.message)) for w in caught]
    m = rawmmap.map_file(path, on_sigbus="zero")
    ctypes.memset(m.address, 1, 1)
    with contextlib.suppress(rawmmap.MappingFault):
        m.check()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.close()
    out["checked_quiet"] = len(caught)
    return out


def test_with_checks_and_close_warns(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    pattern_file(path, 2)
    out = isolated(_with_and_close, str(path))
    assert out["with"] == (PAGE, True)
    # the block's error wins; the unchecked patch is still said, as a warning
    assert out["with_raised"] == (True, ["PatchedPagesWarning"])
    assert len(out["warned"]) == 1
    name, text = out["warned"][0]
    assert name == "PatchedPagesWarning" and "[0]" in text and "check()" in text
    assert issubclass(rawmmap.PatchedPagesWarning, ResourceWarning)
    assert out["checked_quiet"] == 0


def _faulthandler_enabled_later(path: str) -> list[Any]:
    import faulthandler

    m = rawmmap.map_file(path, on_sigbus="zero")
    faulthandler.enable()  # its handler now sits on top of rawmmap's
    os.truncate(path, 0)
    with contextlib.suppress(rawmmap.MappingFault), m:  # entering puts rawmmap's back on top
        a = np.frombuffer(m, dtype=np.uint8)
        a[PAGE] = 1
        patched = m.patched
        del a  # leaving checks (the fault is suppressed), then closes
    return patched


def test_with_puts_the_handler_back_after_faulthandler(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    pattern_file(path, 2)
    assert [off for off, _ in isolated(_faulthandler_enabled_later, str(path))] == [PAGE]


def _guarded_unpatched(path: str) -> tuple[str, int, list[Any]]:
    m = rawmmap.map_file(path, on_sigbus="zero")
    os.truncate(path, 0)
    try:
        m[PAGE]
    except rawmmap.MappingFault as fault:
        return fault.code, fault.offset or 0, m.patched
    return "no fault", -1, m.patched


def test_guarded_access_still_raises_on_an_unpatched_page(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    pattern_file(path, 2)
    assert isolated(_guarded_unpatched, str(path)) == ("BUS_ADRERR", PAGE, [])


# -- "raise" mode and SIGSEGV are untouched ---------------------------------------------


def _numpy_touch(path: str, on_sigbus: str) -> None:
    m = rawmmap.map_file(path, PAGE, on_sigbus=on_sigbus)
    a = np.frombuffer(m, dtype=np.uint8)
    a[0] = ord("x")


def test_raise_mode_dies_as_c(
    c_program: Callable[[str], pathlib.Path], tmp_path: pathlib.Path
) -> None:
    proc = subprocess.run([str(c_program("fault_cases")), "empty_file_write", str(tmp_path)],
                          capture_output=True, text=True)  # fmt: skip
    values = {k: int(v) for k, v in (line.split() for line in proc.stdout.splitlines())}
    assert proc.returncode == -signal.SIGBUS
    path = tmp_path / "empty"
    path.write_bytes(b"")
    outcome = rawmmap.run_isolated(_numpy_touch, str(path), "raise")
    assert outcome.signal == signal.SIGBUS == values["signal"]
    assert outcome.si_code == values["code"] == BUS_ADRERR
    # and the same access survives in "zero" mode
    assert not rawmmap.run_isolated(_numpy_touch, str(path), "zero").killed


def _segv_on_zero_mode(path: str) -> None:
    m = rawmmap.map_file(path, on_sigbus="zero")
    m.protect(PROT_NONE)
    ctypes.string_at(m.address, 1)  # SIGSEGV (SEGV_ACCERR): never patched


def _segv_beyond_eof(path: str) -> None:
    m = rawmmap.map_file(path, 2 * PAGE, prot=PROT_READ, on_sigbus="zero")
    ctypes.memset(m.address + PAGE, 1, 1)  # a write to a read-only page: SIGSEGV first


def test_sigsegv_is_never_patched(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    pattern_file(path, 1)
    outcome = rawmmap.run_isolated(_segv_on_zero_mode, str(path))
    assert outcome.signal == signal.SIGSEGV and outcome.code == "SEGV_ACCERR"
    outcome = rawmmap.run_isolated(_segv_beyond_eof, str(path))
    assert outcome.signal == signal.SIGSEGV and outcome.code == "SEGV_ACCERR"


def _outside_any_range(path: str) -> None:
    keep = rawmmap.map_file(path, on_sigbus="zero")  # a recovery range elsewhere
    other = rawmmap.map_file(path, 2 * PAGE)  # "raise" mode
    np.frombuffer(other, dtype=np.uint8)[PAGE] = 1
    del keep


def test_a_fault_outside_every_range_is_a_crash(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data"
    pattern_file(path, 1)
    outcome = rawmmap.run_isolated(_outside_any_range, str(path))
    assert outcome.signal == signal.SIGBUS and outcome.code == "BUS_ADRERR"


# -- threads, many mappings, closing while others fault --------------------------------

THREADS, MAPPINGS, PAGES = 8, 4, 48


def _many_threads(directory: str) -> dict[str, Any]:
    maps = []
    for i in range(MAPPINGS):
        path = os.path.join(directory, f"f{i}")
        with open(path, "wb") as f:
            f.write(b"\xee" * (PAGES * PAGE))
        maps.append(rawmmap.map_file(path, on_sigbus="zero"))
        os.truncate(path, 0)
    start = threading.Barrier(THREADS)

    def work(t: int) -> None:
        start.wait()
        for k in range(PAGES * MAPPINGS):  # every page of every mapping, in its own order
            idx = (k * 7 + t * 13) % (PAGES * MAPPINGS)
            m, page = maps[idx % MAPPINGS], idx // MAPPINGS
            # an unguarded one-byte store (ctypes releases the GIL around memset):
            # every thread writes its own byte of every page
            ctypes.memset(m.address + page * PAGE + t, t + 1, 1)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out: dict[str, Any] = {"patched": [], "lost": 0}
    for m in maps:
        offsets = [off for off, _ in m.patched]
        out["patched"].append(sorted(offsets))
        for page in range(PAGES):
            got = ctypes.string_at(m.address + page * PAGE, THREADS)
            out["lost"] += sum(got[t] != t + 1 for t in range(THREADS))
        seen(m)
        m.close()
    return out


def test_eight_threads_fault_across_four_mappings(tmp_path: pathlib.Path) -> None:
    out = isolated(_many_threads, str(tmp_path))
    # each page patched exactly once (a second patch would have thrown writes away) ...
    assert out["patched"] == [[p * PAGE for p in range(PAGES)]] * MAPPINGS
    # ... and no thread's write into a patched page was lost
    assert out["lost"] == 0


def _close_while_faulting(directory: str) -> dict[str, Any]:
    path = os.path.join(directory, "busy")
    with open(path, "wb") as f:
        f.write(b"\1" * (256 * PAGE))
    busy = rawmmap.map_file(path, on_sigbus="zero")
    os.truncate(path, 0)
    stop = threading.Event()

    def fault_forever() -> None:
        rounds = 0
        while not stop.is_set():
            for page in range(256):
                ctypes.memset(busy.address + page * PAGE, 2, 1)
            rounds += 1
            seen(busy)

    th = threading.Thread(target=fault_forever)
    th.start()
    other = os.path.join(directory, "other")
    closed = 0
    for i in range(200):
        with open(other, "wb") as f:
            f.write(b"\3" * (4 * PAGE))
        m = rawmmap.map_file(other, on_sigbus="zero")
        os.truncate(other, 0)
        if i % 3 == 0:
            m.remap(8 * PAGE)  # the slot follows the range
            ctypes.memset(m.address + 6 * PAGE, 4, 1)
        ctypes.memset(m.address + (i % 4) * PAGE, 4, 1)
        if i % 3 == 0:
            with pytest.raises(ValueError, match=r"remap\(\): pages .* repair\(\) first"):
                m.remap(4 * PAGE)
        seen(m)
        m.close()
        closed += 1
    stop.set()
    th.join()
    n = len(busy.patched)
    busy.close()
    return {"closed": closed, "busy_patched": n}


def test_mappings_closed_while_another_thread_faults(tmp_path: pathlib.Path) -> None:
    out = isolated(_close_while_faulting, str(tmp_path))
    assert out == {"closed": 200, "busy_patched": 256}


def _table_reuse() -> int:
    n = 0
    for _ in range(3 * 64):  # more than the table's slots, one at a time
        m = rawmmap.Mapping(PAGE, on_sigbus="zero")
        m.close()
        n += 1
    held = [rawmmap.Mapping(PAGE, on_sigbus="zero") for _ in range(64)]
    try:
        rawmmap.Mapping(PAGE, on_sigbus="zero")
    except RuntimeError as e:
        assert "at most 64" in str(e)
        n += 1
    for m in held:
        m.close()
    return n


def test_the_table_is_reused_and_its_limit_named() -> None:
    assert isolated(_table_reuse) == 3 * 64 + 1


def test_protect_changes_the_patch_protection(tmp_path: pathlib.Path) -> None:
    def run(path: str) -> bool:
        m = rawmmap.map_file(path, on_sigbus="zero")
        os.truncate(path, 0)
        m.protect(PROT_READ)
        _ = np.frombuffer(m, dtype=np.uint8)[PAGE]  # a read: patched read-only
        seen(m)
        return bool(m.patched) and m.prot == PROT_READ

    path = tmp_path / "data"
    pattern_file(path, 2)
    assert isolated(run, str(path))

    def write_after(path: str) -> None:
        m = rawmmap.map_file(path, on_sigbus="zero")
        os.truncate(path, 0)
        m.protect(PROT_READ)
        ctypes.string_at(m.address + PAGE, 1)
        ctypes.memset(m.address + PAGE, 1, 1)  # the zero page is read-only too: SIGSEGV

    pattern_file(path, 2)
    outcome = rawmmap.run_isolated(write_after, str(path))
    assert outcome.signal == signal.SIGSEGV and outcome.code == "SEGV_ACCERR"
