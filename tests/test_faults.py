"""Behaviours 1, 2, 3, 6 and 7 of docs/design.md, each compared with C (tests/c/fault_cases.c).

For a fault, three views of the same event must agree with C's SA_SIGINFO
handler: rawmmap's unguarded access in a forked child (run_isolated: same
signal, si_code and offset), guarded access (MappingFault, interpreter alive),
and where it applies the fix that makes the access work.
"""

from __future__ import annotations

import ctypes
import errno
import faulthandler
import os
import pathlib
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

import rawmmap
from rawmmap import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)

PAGE = rawmmap.PAGESIZE


def run_c(program: pathlib.Path, case: str, tmp_path: pathlib.Path) -> tuple[int, dict[str, int]]:
    proc = subprocess.run([str(program), case, str(tmp_path)], capture_output=True, text=True)
    values = {k: int(v) for k, v in (line.split() for line in proc.stdout.splitlines())}
    return proc.returncode, values


@pytest.fixture(scope="module")
def fault_c(c_program: Callable[[str], pathlib.Path]) -> pathlib.Path:
    return c_program("fault_cases")


def raw_store(addr: int, value: int) -> None:
    """An unguarded one-byte store, as C's ``*p = value``."""
    ctypes.memset(addr, value, 1)


def raw_load(addr: int) -> int:
    """An unguarded one-byte load, as C's ``*p``."""
    return ctypes.string_at(addr, 1)[0]


def assert_same_fault(c: tuple[int, dict[str, int]], outcome: rawmmap.Outcome, base: int) -> None:
    returncode, values = c
    assert returncode == -values["signal"], "C must die of the signal it caught"
    assert outcome.signal == values["signal"]
    assert outcome.exitcode is None
    assert outcome.si_code == values["code"]
    assert outcome.si_addr is not None and outcome.si_addr - base == values["offset"]


def assert_same_guarded_fault(
    c: tuple[int, dict[str, int]], fault: rawmmap.MappingFault, base: int
) -> None:
    _, values = c
    assert fault.signal == values["signal"]
    assert fault.si_code == values["code"]
    assert fault.address - base == values["offset"]


# -- behaviour 1: SIGBUS on an empty file, and the ftruncate fix ---------------


def test_empty_file_sigbus_three_ways(fault_c: pathlib.Path, tmp_path: pathlib.Path) -> None:
    c = run_c(fault_c, "empty_file_write", tmp_path)
    assert c[0] == -signal.SIGBUS and c[1]["code"] == rawmmap._constants.VALUES["BUS_ADRERR"]

    path = tmp_path / "py-empty"
    path.write_bytes(b"")
    with rawmmap.map_file(path, 4096) as m:
        outcome = rawmmap.run_isolated(raw_store, m.address, ord("x"))
        assert_same_fault(c, outcome, m.address)
        assert "killed by SIGBUS (BUS_ADRERR)" in repr(outcome)

        with pytest.raises(rawmmap.MappingFault) as info:
            m[0] = ord("x")
        fault = info.value
        assert_same_guarded_fault(c, fault, m.address)
        assert fault.code == "BUS_ADRERR" and fault.signal is signal.SIGBUS
        assert fault.mapping is m and fault.offset == 0
        assert "ftruncate" in str(fault) and "size 0" in str(fault)

        # the fix, on the same mapping: the interpreter is alive and the mapping usable
        rawmmap.ftruncate(m.fd, 4096)
        m[0] = ord("x")
    fixed = run_c(fault_c, "ftruncate_fix", tmp_path)
    assert fixed == (0, {"file_byte0": ord("x"), "exit": 0})
    assert path.read_bytes()[0] == fixed[1]["file_byte0"]


# -- behaviour 2: past EOF inside the last page --------------------------------


def test_past_eof_zero_fill_and_sigbus(fault_c: pathlib.Path, tmp_path: pathlib.Path) -> None:
    c = run_c(fault_c, "past_eof", tmp_path)
    path = tmp_path / "py-5000"
    path.write_bytes(b"\1" * 5000)
    with rawmmap.map_file(path) as m:
        assert len(m) == 5000
        last_page_end = -(-5000 // PAGE) * PAGE
        tail = rawmmap.read(m.address + 5000, last_page_end - 5000)
        assert tail[0] == c[1]["byte_5000"] == 0 and tail[-1] == c[1]["byte_8191"] == 0
        assert tail == bytes(len(tail))
        with pytest.raises(IndexError):
            m[5000]  # indexing covers [0, length) only
        rawmmap.write(m.address + 6000, b"z")
        m.sync()
        assert path.stat().st_size == c[1]["file_size"] == 5000
        assert len(os.pread(m.fd, 1, 6000)) == c[1]["file_read_at_6000"] == 0
    with rawmmap.map_file(path, 3 * PAGE) as m:
        assert m[4999] == 1
        with pytest.raises(rawmmap.MappingFault) as info:
            m[2 * PAGE]
        assert_same_guarded_fault(c, info.value, m.address)
        outcome = rawmmap.run_isolated(raw_load, m.address + 2 * PAGE)
        assert_same_fault(c, outcome, m.address)


# -- behaviour 3: MAP_PRIVATE is copy-on-write -----------------------------------


def test_private_mapping_is_copy_on_write(fault_c: pathlib.Path, tmp_path: pathlib.Path) -> None:
    c = run_c(fault_c, "private_cow", tmp_path)
    assert c == (0, {"mapping_says_modified": 1, "file_says_original": 1,
                     "file_after_munmap_original": 1, "exit": 0})  # fmt: skip
    path = tmp_path / "py-cow"
    path.write_bytes(b"original".ljust(4096, b"\0"))
    with rawmmap.map_file(path, flags=MAP_PRIVATE) as m, rawmmap.map_file(path) as other:
        m[0:8] = b"modified"
        m.sync()
        assert m[0:8] == b"modified"
        assert other[0:8] == b"original"  # another mapper sees the old bytes
        assert os.pread(m.fd, 8, 0) == b"original"
    assert path.read_bytes()[:8] == b"original"


# -- behaviour 6: mprotect -------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "prot", "offset", "access"),
    [
        ("write_read_only", PROT_READ, 10, "store"),
        ("read_prot_none", PROT_NONE, 20, "load"),
    ],
)
def test_protection_faults(
    fault_c: pathlib.Path, tmp_path: pathlib.Path, case: str, prot: int, offset: int, access: str
) -> None:
    c = run_c(fault_c, case, tmp_path)
    assert c[0] == -signal.SIGSEGV and c[1]["code"] == rawmmap._constants.VALUES["SEGV_ACCERR"]
    with rawmmap.map_anonymous(PAGE) as m:
        m.protect(prot)
        if access == "store":
            outcome = rawmmap.run_isolated(raw_store, m.address + offset, 1)
        else:
            outcome = rawmmap.run_isolated(raw_load, m.address + offset)
        assert_same_fault(c, outcome, m.address)
        with pytest.raises(rawmmap.MappingFault) as info:
            if access == "store":
                m[offset] = 1
            else:
                m[offset]
        assert_same_guarded_fault(c, info.value, m.address)
        assert info.value.code == "SEGV_ACCERR" and info.value.offset == offset
        m.protect(PROT_READ | PROT_WRITE)  # and it works again
        m[offset] = 7
        assert m[offset] == 7


def test_unmapped_address_is_maperr(fault_c: pathlib.Path, tmp_path: pathlib.Path) -> None:
    c = run_c(fault_c, "read_unmapped", tmp_path)
    assert c[0] == -signal.SIGSEGV and c[1]["code"] == rawmmap._constants.VALUES["SEGV_MAPERR"]
    # the second page of a two-page reservation is unmapped and nothing else can land there
    # while the test runs: the first page stays mapped PROT_NONE right below it
    base = rawmmap.mmap(0, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    rawmmap.munmap(base + PAGE, PAGE)
    hole = base + PAGE
    try:
        outcome = rawmmap.run_isolated(raw_load, hole + 30)
        assert_same_fault(c, outcome, hole)
        with pytest.raises(rawmmap.MappingFault) as info:
            rawmmap.read(hole + 30, 1)
        assert_same_guarded_fault(c, info.value, hole)
        assert info.value.code == "SEGV_MAPERR" and info.value.mapping is None
    finally:
        rawmmap.munmap(base, PAGE)


def test_mprotect_unmapped_is_enomem(fault_c: pathlib.Path, tmp_path: pathlib.Path) -> None:
    c = run_c(fault_c, "mprotect_unmapped", tmp_path)
    addr = rawmmap.mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    rawmmap.munmap(addr, PAGE)
    with pytest.raises(OSError) as info:
        rawmmap.mprotect(addr, PAGE, PROT_READ)
    assert info.value.errno == c[1]["errno"] == errno.ENOMEM


# -- behaviour 7: MAP_FIXED ------------------------------------------------------


def test_map_fixed_replaces_and_noreplace_refuses(
    fault_c: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    c = run_c(fault_c, "map_fixed", tmp_path)
    assert c == (0, {"fixed_at_asked_address": 1, "replaced_silently": 1,
                     "noreplace_errno": errno.EEXIST, "exit": 0})  # fmt: skip
    anon = MAP_PRIVATE | MAP_ANONYMOUS
    rw = PROT_READ | PROT_WRITE
    reserve = rawmmap.mmap(0, 4 * PAGE, PROT_NONE, anon, -1, 0)
    try:
        spot = reserve + PAGE
        first = rawmmap.mmap(spot, PAGE, rw, anon | MAP_FIXED, -1, 0)
        assert first == spot
        rawmmap.write(first, b"A")
        second = rawmmap.mmap(spot, PAGE, rw, anon | MAP_FIXED, -1, 0)
        assert second == spot and rawmmap.read(second, 1) == b"\0"  # silently replaced
        with pytest.raises(FileExistsError) as info:
            rawmmap.mmap(spot, PAGE, PROT_READ, anon | MAP_FIXED_NOREPLACE, -1, 0)
        assert info.value.errno == c[1]["noreplace_errno"]
        # the safe layer refuses MAP_FIXED outright, naming the alternatives
        for make in (
            lambda: rawmmap.Mapping(PAGE, rw, anon | MAP_FIXED, addr=spot),
            lambda: rawmmap.map_anonymous(PAGE, flags=MAP_PRIVATE | MAP_FIXED, addr=spot),
            lambda: rawmmap.map_file(0, PAGE, flags=rawmmap.MAP_SHARED | MAP_FIXED, addr=spot),
        ):
            with pytest.raises(ValueError, match=r"MAP_FIXED_NOREPLACE.*rawmmap\.mmap"):
                make()
        assert rawmmap.read(spot, 1) == b"\0"  # nothing was replaced by the attempts
    finally:
        rawmmap.munmap(reserve, 4 * PAGE)  # covers the pages placed inside it


# -- the guard's own guarantees --------------------------------------------------


def test_fault_storm_eight_threads(tmp_path: pathlib.Path) -> None:
    """8 threads x 1000 guarded faults, mixed SIGBUS and SIGSEGV, faulthandler on."""
    assert faulthandler.is_enabled()  # pytest enables it; the guard must cope
    path = tmp_path / "empty"
    path.write_bytes(b"")
    bus = rawmmap.map_file(path, PAGE)
    segv = rawmmap.map_anonymous(PAGE, prot=PROT_NONE)
    good = rawmmap.map_anonymous(PAGE)
    good[0:5] = b"fine!"
    counts: list[tuple[int, int, int]] = []
    errors: list[BaseException] = []

    def storm() -> None:
        n_bus = n_segv = n_ok = 0
        try:
            for i in range(1000):
                target = bus if i % 2 else segv
                try:
                    target[i % PAGE]
                except rawmmap.MappingFault as fault:
                    if fault.signal is signal.SIGBUS and fault.code == "BUS_ADRERR":
                        n_bus += 1
                    elif fault.signal is signal.SIGSEGV and fault.code == "SEGV_ACCERR":
                        n_segv += 1
                if good[0:5] == b"fine!":
                    n_ok += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        counts.append((n_bus, n_segv, n_ok))

    threads = [threading.Thread(target=storm) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert counts == [(500, 500, 1000)] * 8
    for m in (bus, segv, good):
        m.close()


GUARD_SCRIPT = r"""
import faulthandler, sys, rawmmap
open(sys.argv[1], "wb").close()
m = rawmmap.map_file(sys.argv[1], 4096)
{setup}
try:
    m[0] = 1
except rawmmap.MappingFault as fault:
    print("caught", fault.code, flush=True)
m.view()[0] = 1          # unguarded: must die as C would
print("survived", flush=True)
"""


@pytest.mark.parametrize(
    ("setup", "faulthandler_report"),
    [
        ("", False),
        ("faulthandler.enable()", True),
        ("faulthandler.enable(); faulthandler.disable(); faulthandler.enable()", True),
        ("faulthandler.disable()", False),
    ],
)
def test_real_crashes_stay_real(
    tmp_path: pathlib.Path, setup: str, faulthandler_report: bool
) -> None:
    script = GUARD_SCRIPT.format(setup=setup)
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "f")], capture_output=True, text=True
    )
    assert proc.stdout == "caught BUS_ADRERR\n"
    assert proc.returncode == -signal.SIGBUS
    assert ("Fatal Python error: Bus error" in proc.stderr) is faulthandler_report


def test_faulthandler_enabled_before_import(tmp_path: pathlib.Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", GUARD_SCRIPT.format(setup=""),
         str(tmp_path / "f")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.stdout == "caught BUS_ADRERR\n"
    assert proc.returncode == -signal.SIGBUS
    assert "Fatal Python error: Bus error" in proc.stderr


def test_read_edge_inputs() -> None:
    assert type(rawmmap.read).__name__ == "builtin_function_or_method"  # no Python frame
    with rawmmap.map_anonymous(PAGE) as m, rawmmap.map_anonymous(PAGE, prot=PROT_NONE) as no:
        m[0:4] = b"abcd"
        assert rawmmap.read(m.address, 4) == b"abcd"
        assert rawmmap.read(m.address, 0) == b""
        assert rawmmap.read(m.address, True) == b"a"
        with pytest.raises(rawmmap.MappingFault) as fault:
            rawmmap.read(no.address, 8)
        assert fault.value.code == "SEGV_ACCERR"
        cases = [
            ((m.address, -1), ValueError, "read(): n must be >= 0, got -1"),
            ((m.address, 2.0), TypeError, "read(): n must be an integer, got float"),
            (("x", 1), TypeError, "read(): addr must be an integer, got str"),
            ((2**64, 1), ValueError, f"read(): addr must be in 0..2**64-1, got {2**64}"),
            ((m.address, 2**62), MemoryError, f"read(): cannot allocate {2**62} bytes"),
        ]
        for args, exc, message in cases:
            with pytest.raises(exc) as info:
                rawmmap.read(*args)  # type: ignore[arg-type]
            assert str(info.value).startswith(message), (args, info.value)
        with pytest.raises(rawmmap.MappingFault) as fault:
            rawmmap.read(0, 1)
        assert fault.value.code == "SEGV_MAPERR"


def test_guarded_read_survives_faulthandler_toggling(tmp_path: pathlib.Path) -> None:
    script = (
        "import faulthandler, rawmmap\n"
        "m = rawmmap.map_anonymous(4096, prot=rawmmap.PROT_NONE)\n"
        "for step in ('enable', 'disable', 'enable', 'enable', 'disable', 'disable'):\n"
        "    getattr(faulthandler, step)()\n"
        "    try:\n"
        "        rawmmap.read(m.address, 8)\n"
        "    except rawmmap.MappingFault as fault:\n"
        "        print(step, fault.code, flush=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        w for s in ("enable", "disable", "enable", "enable", "disable", "disable")
        for w in (s, "SEGV_ACCERR")
    ]  # fmt: skip
