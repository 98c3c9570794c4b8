"""More of the family: mlock2, mlockall, mincore's vector, memfd_create's name,
protection keys, process_madvise — against the kernel and against C
(tests/c/family_cases.c), and traced as strace prints them."""

from __future__ import annotations

import ctypes
import errno
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import rawmmap
from rawmmap import (
    MADV_COLD,
    MAP_ANONYMOUS,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    MCL_CURRENT,
    MCL_FUTURE,
    MCL_ONFAULT,
    MLOCK_ONFAULT,
    PKEY_DISABLE_ACCESS,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)

from .test_trace import strace

PAGE = rawmmap.PAGESIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
WRAPPING = 2**64 - PAGE  # addr + length wraps around the address space


@pytest.fixture(scope="module")
def family_c(c_program: Callable[[str], pathlib.Path]) -> pathlib.Path:
    return c_program("family_cases")


def run_c(binary: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)


def pairs(out: str) -> dict[str, int]:
    return {name: int(value) for name, value in (line.split() for line in out.splitlines())}


# -- errno, case by case --------------------------------------------------------


@dataclass
class Scene:
    """The same starting point as family_cases.c's errno mode."""

    area: int  # 3 pages, the middle one unmapped
    pidfd: int  # this process
    devnull: int


@pytest.fixture
def scene() -> Iterator[Scene]:
    area = rawmmap.mmap(0, 3 * PAGE, RW, ANON, -1, 0)
    rawmmap.munmap(area + PAGE, PAGE)
    pidfd = os.pidfd_open(os.getpid())
    devnull = os.open(os.devnull, os.O_RDONLY)
    yield Scene(area, pidfd, devnull)
    rawmmap.munmap(area, 3 * PAGE)
    os.close(pidfd)
    os.close(devnull)


# Each case does what the C program's case of the same name does.
CASES: dict[str, Callable[[Scene], object]] = {
    "mlock2_bad_flags": lambda s: rawmmap.mlock2(s.area, PAGE, 0x2),
    "mlock2_unmapped": lambda s: rawmmap.mlock2(s.area + PAGE, PAGE, MLOCK_ONFAULT),
    "mlock2_wrapping": lambda s: rawmmap.mlock2(s.area, WRAPPING, MLOCK_ONFAULT),
    "mlockall_zero": lambda s: rawmmap.mlockall(0),
    "mlockall_onfault_alone": lambda s: rawmmap.mlockall(MCL_ONFAULT),
    "mlockall_unknown_flag": lambda s: rawmmap.mlockall(0x10000),
    "mincore_vec_unmapped": lambda s: rawmmap.mincore(s.area, PAGE, s.area + PAGE),
    "mincore_vec_low_address": lambda s: rawmmap.mincore(s.area, PAGE, 8),
    "mincore_wrapping_length": lambda s: rawmmap.mincore(s.area, WRAPPING),
    "mincore_beyond_user_space": lambda s: rawmmap.mincore(s.area, 1 << 62),
    "memfd_create_null_name": lambda s: rawmmap.memfd_create(0),
    "memfd_create_name_unmapped": lambda s: rawmmap.memfd_create(s.area + PAGE),
    "pkey_get_key_16": lambda s: rawmmap.pkey_get(16),
    "pkey_set_key_negative": lambda s: rawmmap.pkey_set(-1, 0),
    "pkey_set_bad_rights": lambda s: rawmmap.pkey_set(0, 0x80),
    "process_madvise_bad_fd": lambda s: rawmmap.process_madvise(-1, [(s.area, PAGE)], MADV_COLD),
    "process_madvise_not_a_pidfd": lambda s: rawmmap.process_madvise(
        s.devnull, [(s.area, PAGE)], MADV_COLD
    ),
    "process_madvise_bad_advice": lambda s: rawmmap.process_madvise(s.pidfd, [(s.area, PAGE)], 999),
    "process_madvise_bad_flags": lambda s: rawmmap.process_madvise(
        s.pidfd, [(s.area, PAGE)], MADV_COLD, 1
    ),
    "process_madvise_unmapped": lambda s: rawmmap.process_madvise(
        s.pidfd, [(s.area + PAGE, PAGE)], MADV_COLD
    ),
    "process_madvise_unaligned": lambda s: rawmmap.process_madvise(
        s.pidfd, [(s.area + 1, 1)], MADV_COLD
    ),
}

FUNCS = ("mlock2", "mlockall", "mincore", "memfd_create", "pkey_get", "pkey_set",
         "process_madvise")  # fmt: skip

# What the kernel is documented to answer; the C program is the judge.
# mlock2 of a wrapping range: EINVAL, or ENOMEM first when the caller lacks
# CAP_IPC_LOCK (the RLIMIT_MEMLOCK check comes before the range check).
EXPECTED: dict[str, set[int]] = {
    "mlock2_bad_flags": {errno.EINVAL}, "mlock2_unmapped": {errno.ENOMEM},
    "mlock2_wrapping": {errno.EINVAL, errno.ENOMEM}, "mlockall_zero": {errno.EINVAL},
    "mlockall_onfault_alone": {errno.EINVAL}, "mlockall_unknown_flag": {errno.EINVAL},
    "mincore_vec_unmapped": {errno.EFAULT}, "mincore_vec_low_address": {errno.EFAULT},
    "mincore_wrapping_length": {errno.ENOMEM}, "mincore_beyond_user_space": {errno.ENOMEM},
    "memfd_create_null_name": {errno.EFAULT}, "memfd_create_name_unmapped": {errno.EFAULT},
    "pkey_get_key_16": {errno.EINVAL}, "pkey_set_key_negative": {errno.EINVAL},
    "pkey_set_bad_rights": {errno.EINVAL}, "process_madvise_bad_fd": {errno.EBADF},
    "process_madvise_not_a_pidfd": {errno.EBADF}, "process_madvise_bad_advice": {errno.EINVAL},
    "process_madvise_bad_flags": {errno.EINVAL}, "process_madvise_unmapped": {errno.ENOMEM},
    "process_madvise_unaligned": {errno.EINVAL},
}  # fmt: skip


@pytest.fixture(scope="module")
def c_errnos(family_c: pathlib.Path) -> dict[str, int]:
    proc = run_c(family_c, "errno")
    assert proc.returncode == 0, proc.stderr
    return pairs(proc.stdout)


def test_c_program_covers_every_case(c_errnos: dict[str, int]) -> None:
    assert set(c_errnos) == set(CASES) == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(CASES))
def test_errno_matches_c(case: str, scene: Scene, c_errnos: dict[str, int]) -> None:
    with pytest.raises(OSError) as info:
        CASES[case](scene)
    assert info.value.errno == c_errnos[case]
    assert info.value.errno in EXPECTED[case]
    func = max((f for f in FUNCS if case.startswith(f + "_")), key=len)
    assert str(info.value).startswith(func + "(")
    assert f"[Errno {info.value.errno}] {os.strerror(info.value.errno)}" in str(info.value)


def test_wrapping_mincore_allocates_nothing_first() -> None:
    # the kernel's ENOMEM, not a MemoryError from a 2**52-byte vector
    addr = rawmmap.mmap(0, PAGE, RW, ANON, -1, 0)
    try:
        with pytest.raises(OSError) as info:
            rawmmap.mincore(addr, WRAPPING)
        assert info.value.errno == errno.ENOMEM
        assert str(info.value).startswith(f"mincore({addr:#x}, {WRAPPING}, NULL)")
    finally:
        rawmmap.munmap(addr, PAGE)


# -- RLIMIT_MEMLOCK, as a user without CAP_IPC_LOCK ------------------------------

MEMLOCK_EXPECTED = {
    # RLIMIT_MEMLOCK 0: no locking at all without privilege
    0: {"mlock_two_pages": errno.EPERM, "mlock2_onfault_two_pages": errno.EPERM,
        "mlockall_current": errno.EPERM, "mmap_locked": errno.EPERM,
        "mlockall_future": errno.EPERM, "mmap_after_mcl_future": 0},
    # one page: two are too many, and MCL_FUTURE makes a later mmap fail
    1: {"mlock_two_pages": errno.ENOMEM, "mlock2_onfault_two_pages": errno.ENOMEM,
        "mlockall_current": errno.ENOMEM, "mmap_locked": errno.EAGAIN,
        "mlockall_future": 0, "mmap_after_mcl_future": errno.EAGAIN},
}  # fmt: skip


def _memlock_cases(limit: int) -> dict[str, int]:
    """family_cases.c's memlock mode, in Python: runs in a forked child."""
    import resource

    resource.setrlimit(resource.RLIMIT_MEMLOCK, (limit, limit))
    if os.geteuid() == 0:
        os.setuid(65534)  # nobody: without CAP_IPC_LOCK the limit applies
    area = rawmmap.mmap(0, 4 * PAGE, RW, ANON, -1, 0)
    out: dict[str, int] = dict.fromkeys(MEMLOCK_EXPECTED[0], -1)

    def attempt(name: str, call: Callable[[], object]) -> None:
        try:
            call()
            out[name] = 0
        except OSError as exc:
            out[name] = exc.errno or -1

    attempt("mlock_two_pages", lambda: rawmmap.mlock(area, 2 * PAGE))
    attempt("mlock2_onfault_two_pages", lambda: rawmmap.mlock2(area, 2 * PAGE, MLOCK_ONFAULT))
    attempt("mlockall_current", lambda: rawmmap.mlockall(MCL_CURRENT))
    attempt("mmap_locked", lambda: rawmmap.mmap(0, 2 * PAGE, PROT_READ, ANON | MAP_LOCKED, -1, 0))
    attempt("mlockall_future", lambda: rawmmap.mlockall(MCL_FUTURE))
    attempt("mmap_after_mcl_future", lambda: rawmmap.mmap(0, 2 * PAGE, PROT_READ, ANON, -1, 0))
    rawmmap.munlockall()
    return out


@pytest.mark.parametrize("pages", [0, 1])
def test_memlock_limit_without_privilege_matches_c(family_c: pathlib.Path, pages: int) -> None:
    proc = run_c(family_c, "memlock", str(pages * PAGE))
    assert proc.returncode == 0, proc.stderr
    outcome = rawmmap.run_isolated(_memlock_cases, pages * PAGE, timeout=60)
    assert outcome.exitcode == 0, outcome.describe() + outcome.stderr
    assert outcome.returned == pairs(proc.stdout) == MEMLOCK_EXPECTED[pages]


# -- behaviour: locking on fault, locking the future -----------------------------


def vm_lck_kib() -> int:
    """VmLck of this process, from /proc/self/status (proc(5))."""
    text = pathlib.Path("/proc/self/status").read_text()
    match = re.search(r"^VmLck:\s+(\d+) kB$", text, re.M)
    assert match is not None
    return int(match.group(1))


def vm_flags(addr: int) -> list[str]:
    """The VmFlags of the VMA holding addr, from /proc/self/smaps (proc(5))."""
    for block in re.split(
        r"\n(?=[0-9a-f]+-[0-9a-f]+ )", pathlib.Path("/proc/self/smaps").read_text()
    ):
        start, end = (int(x, 16) for x in block.split()[0].split("-"))
        if start <= addr < end:
            match = re.search(r"^VmFlags:(.*)$", block, re.M)
            assert match is not None
            return match.group(1).split()
    raise AssertionError(f"no VMA holds {addr:#x}")


def resident(addr: int, length: int) -> list[int]:
    return [b & 1 for b in rawmmap.mincore(addr, length)]


def _onfault_versus_mlock() -> dict[str, object]:
    n = 8
    lazy = rawmmap.mmap(0, n * PAGE, RW, ANON, -1, 0)
    eager = rawmmap.mmap(0, n * PAGE, RW, ANON, -1, 0)
    if hasattr(rawmmap, "MADV_NOHUGEPAGE"):  # one page per fault: no (multi-size) THP
        rawmmap.madvise(lazy, n * PAGE, rawmmap.MADV_NOHUGEPAGE)
    seen: dict[str, object] = {"vmlck_before": vm_lck_kib()}
    rawmmap.mlock2(lazy, n * PAGE, MLOCK_ONFAULT)
    seen["vmlck_onfault"] = vm_lck_kib()
    seen["onfault_untouched"] = resident(lazy, n * PAGE)
    rawmmap.write(lazy, b"a")
    rawmmap.write(lazy + 3 * PAGE, b"b")
    seen["onfault_touched"] = resident(lazy, n * PAGE)
    rawmmap.mlock(eager, n * PAGE)
    seen["vmlck_mlock"] = vm_lck_kib()
    seen["mlock"] = resident(eager, n * PAGE)
    return seen


def test_onfault_residency_grows_with_touches_mlock_makes_all_resident() -> None:
    outcome = rawmmap.run_isolated(_onfault_versus_mlock, timeout=60)
    assert outcome.exitcode == 0, outcome.describe() + outcome.stderr
    seen = outcome.returned
    eight_pages_kib = 8 * PAGE // 1024
    # VmLck counts the whole range at once, either way ...
    assert seen["vmlck_onfault"] - seen["vmlck_before"] == eight_pages_kib
    assert seen["vmlck_mlock"] - seen["vmlck_onfault"] == eight_pages_kib
    # ... but only mlock faults the pages in
    assert seen["onfault_untouched"] == [0] * 8
    assert seen["onfault_touched"] == [1, 0, 0, 1, 0, 0, 0, 0]
    assert seen["mlock"] == [1] * 8


def _mcl_future(flags: int) -> dict[str, object]:
    n = 8
    before = vm_lck_kib()
    rawmmap.mlockall(flags)
    later = rawmmap.mmap(0, n * PAGE, RW, ANON, -1, 0)
    seen: dict[str, object] = {"resident": resident(later, n * PAGE)}
    seen["vmlck_grew_kib"] = vm_lck_kib() - before
    seen["vmflags"] = vm_flags(later)
    rawmmap.munlockall()
    after = rawmmap.mmap(0, n * PAGE, RW, ANON, -1, 0)
    seen["resident_after_munlockall"] = resident(after, n * PAGE)
    return seen


def test_mcl_future_locks_a_later_mapping() -> None:
    outcome = rawmmap.run_isolated(_mcl_future, MCL_FUTURE, timeout=60)
    assert outcome.exitcode == 0, outcome.describe() + outcome.stderr
    seen = outcome.returned
    assert seen["resident"] == [1] * 8  # faulted in by the lock
    assert seen["vmlck_grew_kib"] >= 8 * PAGE // 1024
    assert "lo" in seen["vmflags"]
    assert seen["resident_after_munlockall"] == [0] * 8


def test_mcl_future_onfault_locks_without_faulting_in() -> None:
    outcome = rawmmap.run_isolated(_mcl_future, MCL_FUTURE | MCL_ONFAULT, timeout=60)
    assert outcome.exitcode == 0, outcome.describe() + outcome.stderr
    seen = outcome.returned
    assert seen["resident"] == [0] * 8
    assert seen["vmlck_grew_kib"] >= 8 * PAGE // 1024
    assert "lo" in seen["vmflags"]


# -- mincore's vector, memfd_create's name, process_madvise: success paths -------


@pytest.fixture
def half_touched() -> Iterator[int]:
    """4 pages, pages 1 and 2 touched."""
    addr = rawmmap.mmap(0, 4 * PAGE, RW, ANON, -1, 0)
    rawmmap.write(addr + PAGE, b"x")
    rawmmap.write(addr + 2 * PAGE, b"x")
    yield addr
    rawmmap.munmap(addr, 4 * PAGE)


def test_mincore_fills_a_callers_buffer(half_touched: int) -> None:
    import numpy as np

    for vec in (bytearray(6), memoryview(bytearray(4)), np.zeros(4, dtype=np.uint8)):
        out = rawmmap.mincore(half_touched, 4 * PAGE, vec)
        assert [b & 1 for b in out] == [0, 1, 1, 0]
        assert bytes(vec)[:4] == out  # written in place
    buf = bytearray(b"\xff" * 6)
    rawmmap.mincore(half_touched, 4 * PAGE, buf)
    assert buf[4:] == b"\xff\xff"  # one byte per page, not one more


def test_mincore_writes_at_an_int_address(half_touched: int) -> None:
    buf = ctypes.create_string_buffer(4)
    out = rawmmap.mincore(half_touched, 4 * PAGE, ctypes.addressof(buf))
    assert buf.raw == out and [b & 1 for b in out] == [0, 1, 1, 0]


@pytest.mark.parametrize(
    ("vec", "exc", "words"),
    [
        (bytearray(3), ValueError, "vec must hold one byte per page: 4 for length"),
        (b"\0\0\0\0", TypeError, "vec must be None, a writable buffer or an int address"),
        ("abcd", TypeError, "vec must be None, a writable buffer or an int address"),
        (-1, ValueError, "vec must be >= 0"),
        (2**64, ValueError, "vec must fit in an address"),
    ],
)
def test_mincore_refuses_what_c_could_not_pass(
    half_touched: int, vec: object, exc: type[Exception], words: str
) -> None:
    with pytest.raises(exc, match=words):
        rawmmap.mincore(half_touched, 4 * PAGE, vec)


def test_mincore_of_a_huge_range_probes_before_allocating() -> None:
    pages = (1 << 20) + 3  # just over the eager vector's size
    addr = rawmmap.mmap(0, pages * PAGE, PROT_NONE, ANON | MAP_NORESERVE, -1, 0)
    try:
        with rawmmap.trace() as lines:
            out = rawmmap.mincore(addr, pages * PAGE)
        assert out == bytes(pages)
        assert lines[0] == f"mincore({addr:#x}, {pages * PAGE}, NULL) = -1 EFAULT (Bad address)"
        assert lines[1].startswith(f"mincore({addr:#x}, {pages * PAGE}, [0, 0, ")
        assert len(lines) == 2
    finally:
        rawmmap.munmap(addr, pages * PAGE)


def test_memfd_create_reads_the_name_at_an_address() -> None:
    name = ctypes.create_string_buffer(b"by-address")
    fd = rawmmap.memfd_create(ctypes.addressof(name), rawmmap.MFD_CLOEXEC)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == "/memfd:by-address (deleted)"
    finally:
        os.close(fd)


def test_process_madvise_returns_the_bytes_advised(half_touched: int) -> None:
    pidfd = os.pidfd_open(os.getpid())
    view = (ctypes.c_char * (2 * PAGE)).from_address(half_touched + 2 * PAGE)
    try:
        ranges = [(half_touched, PAGE), (half_touched + PAGE, PAGE), memoryview(view)]
        assert rawmmap.process_madvise(pidfd, ranges, MADV_COLD) == 4 * PAGE
        assert rawmmap.process_madvise(pidfd, [], MADV_COLD) == 0
    finally:
        os.close(pidfd)


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: rawmmap.mlock2(0, -1), ValueError, "mlock2\\(\\): length must be >= 0"),
        (lambda: rawmmap.mlock2(0, 1, -1), ValueError, "mlock2\\(\\): flags must be >= 0"),
        (lambda: rawmmap.mlockall(1.0), TypeError, "mlockall\\(\\): flags must be an integer"),
        (lambda: rawmmap.mlockall(2**31), ValueError, "flags must fit in a C int"),
        (lambda: rawmmap.pkey_alloc(-1), ValueError, "pkey_alloc\\(\\): flags must be >= 0"),
        (lambda: rawmmap.pkey_alloc(0, "r"), TypeError, "access_rights must be an integer"),
        (lambda: rawmmap.pkey_free(2**31), ValueError, "pkey_free\\(\\): pkey must fit"),
        (lambda: rawmmap.pkey_mprotect(0, 1, 0, None), TypeError, "pkey must be an integer"),
        (lambda: rawmmap.pkey_get("1"), TypeError, "pkey_get\\(\\): pkey must be an integer"),
        (lambda: rawmmap.pkey_set(1, -1), ValueError, "access_rights must be >= 0"),
        (lambda: rawmmap.memfd_create(-1), ValueError, "name must be >= 0"),
        (lambda: rawmmap.memfd_create(1.5), TypeError, "name must be str, bytes or an int"),
        (lambda: rawmmap.process_madvise(0, b"ab", MADV_COLD), TypeError,
         "buffers must be a list"),
        (lambda: rawmmap.process_madvise(0, [(1, 2, 3)], MADV_COLD), ValueError,
         "buffers\\[0\\] must be an \\(addr, length\\) pair"),
        (lambda: rawmmap.process_madvise(0, [(0, -1)], MADV_COLD), ValueError,
         "buffers\\[0\\]\\[1\\] \\(length\\) must be >= 0"),
        (lambda: rawmmap.process_madvise(0, [3.0], MADV_COLD), TypeError,
         "buffers\\[0\\] must be an \\(addr, length\\) pair or a buffer"),
        (lambda: rawmmap.process_madvise(0, [], MADV_COLD, -1), ValueError,
         "flags must be >= 0"),
    ],
)  # fmt: skip
def test_inexpressible_arguments_are_refused(
    call: Callable[[], object], exc: type[Exception], words: str
) -> None:
    with rawmmap.trace() as lines, pytest.raises(exc, match=words):
        call()
    assert lines == []  # refused before any call


# -- protection keys --------------------------------------------------------------


def _pkeys_work() -> bool:
    try:
        rawmmap.pkey_free(rawmmap.pkey_alloc())
    except OSError:
        return False
    return True


# probed in a child: the kernel remembers a key allocated here
HAVE_PKEYS = rawmmap.run_isolated(_pkeys_work, timeout=30).returned is True
needs_pkeys = pytest.mark.skipif(
    not HAVE_PKEYS,
    reason="no memory protection keys: the CPU or kernel lacks them "
    "(no 'pku'/'ospke' in /proc/cpuinfo; pkey_alloc fails)",
)

PKEY_STEPS = r"""
import rawmmap, sys
P = rawmmap.PAGESIZE
area = rawmmap.mmap(0, 3 * P, 3, rawmmap.MAP_PRIVATE | rawmmap.MAP_ANONYMOUS, -1, 0)
rawmmap.munmap(area + P, P)

def step(name, call):
    try:
        result = call()
    except OSError as exc:
        print(name, -1, exc.errno)
        return -1
    result = 0 if result is None else result
    print(name, result, 0)
    return result

def alloc(*args):
    try:
        return rawmmap.pkey_alloc(*args)
    except OSError:
        return -1

r = step("alloc", lambda: rawmmap.pkey_alloc(0, 0))
key = r if r >= 0 else 1
step("alloc_bad_flags", lambda: rawmmap.pkey_alloc(1, 0))
step("alloc_bad_rights", lambda: rawmmap.pkey_alloc(0, 0x80))
if r >= 0:
    step("mprotect_with_key", lambda: rawmmap.pkey_mprotect(area, P, rawmmap.PROT_READ, key))
else:
    print("mprotect_with_key 0 0")
step("free", lambda: rawmmap.pkey_free(key))
step("free_again", lambda: rawmmap.pkey_free(key))
step("mprotect_freed_key", lambda: rawmmap.pkey_mprotect(area, P, rawmmap.PROT_READ, key))
step("mprotect_no_key", lambda: rawmmap.pkey_mprotect(area, P, rawmmap.PROT_READ, -1))
n = 0
while n < 64 and alloc(0, 0) >= 0:
    n += 1
print("exhausted_after", n)
step("alloc_when_exhausted", lambda: rawmmap.pkey_alloc(0, 0))
step("free_negative", lambda: rawmmap.pkey_free(-1))
"""


def test_pkey_steps_match_c(family_c: pathlib.Path) -> None:
    # fresh processes on both sides: a failed pkey_alloc can leave a trace in the kernel
    c = run_c(family_c, "pkeys")
    py = subprocess.run([sys.executable, "-c", PKEY_STEPS], capture_output=True, text=True,
                        timeout=60)  # fmt: skip
    assert c.returncode == 0 and py.returncode == 0, c.stderr + py.stderr
    assert py.stdout.splitlines() == c.stdout.splitlines()
    steps = {line.split()[0]: line.split()[1:] for line in c.stdout.splitlines()}
    for name in ("alloc_bad_flags", "alloc_bad_rights", "free_again", "mprotect_freed_key",
                 "free_negative"):  # fmt: skip
        assert steps[name] == ["-1", str(errno.EINVAL)], name
    assert steps["mprotect_no_key"] == ["0", "0"]
    assert steps["alloc_when_exhausted"] == ["-1", str(errno.ENOSPC)]
    if HAVE_PKEYS:
        assert int(steps["alloc"][0]) > 0 and steps["free"] == ["0", "0"]
        assert int(steps["exhausted_after"][0]) > 0


def test_pkey_get_ends_as_in_c(family_c: pathlib.Path) -> None:
    # where the CPU has no keys, glibc's RDPKRU is an illegal instruction: SIGILL in both
    c = run_c(family_c, "pkey_get")
    outcome = rawmmap.run_isolated(rawmmap.pkey_get, 0, timeout=30)
    if c.returncode < 0:
        assert outcome.signal == signal.Signals(-c.returncode), outcome.describe()
        assert HAVE_PKEYS or outcome.signal == signal.SIGILL
    else:
        assert c.returncode == 0, c.stderr
        assert outcome.exitcode == 0, outcome.describe()
        assert c.stdout == f"value {outcome.returned}\n"


def _pkey_fault() -> None:
    base = rawmmap.mmap(0, 2 * PAGE, RW, ANON, -1, 0)
    rawmmap.write(base + PAGE, b"\1")
    key = rawmmap.pkey_alloc(0, PKEY_DISABLE_ACCESS)
    rawmmap.pkey_mprotect(base + PAGE, PAGE, RW, key)
    print("key", key, "base", base, flush=True)
    ctypes.string_at(base + PAGE + 5, 1)  # unguarded, as C's p[page + 5]


@needs_pkeys
def test_pkey_fault_si_code_matches_c(family_c: pathlib.Path) -> None:
    c = run_c(family_c, "pkey_fault")
    assert c.returncode == -signal.SIGSEGV, c.stderr
    theirs = pairs(c.stdout)
    outcome = rawmmap.run_isolated(_pkey_fault, timeout=30)
    assert outcome.signal == signal.SIGSEGV, outcome.describe()
    assert outcome.si_code == theirs["code"]
    assert outcome.code == "SEGV_PKUERR"
    fields = outcome.stdout.split()
    assert outcome.si_addr is not None
    assert outcome.si_addr - int(fields[3]) == theirs["offset"] == PAGE + 5
    assert int(fields[1]) == theirs["key"] == theirs["pkey"]


@needs_pkeys
def test_pkey_fault_outcome_carries_the_key() -> None:
    outcome = rawmmap.run_isolated(_pkey_fault, timeout=30)
    assert outcome.pkey == int(outcome.stdout.split()[1])


def _per_thread() -> dict[str, object]:
    base = rawmmap.mmap(0, PAGE, RW, ANON, -1, 0)
    rawmmap.write(base, b"k")
    key = rawmmap.pkey_alloc()
    rawmmap.pkey_mprotect(base, PAGE, RW, key)
    go, seen = threading.Event(), {}

    def other() -> None:  # started before the change: PKRU is copied at thread creation
        go.wait()
        seen["other_rights"] = rawmmap.pkey_get(key)
        seen["other_reads"] = rawmmap.read(base, 1)

    thread = threading.Thread(target=other)
    thread.start()
    rawmmap.pkey_set(key, PKEY_DISABLE_ACCESS)  # this thread only, no mprotect
    seen["own_rights"] = rawmmap.pkey_get(key)
    try:
        rawmmap.read(base, 1)
        seen["own_fault"] = None
    except rawmmap.MappingFault as fault:
        seen["own_fault"] = fault.code
    go.set()
    thread.join()
    return seen


@needs_pkeys
def test_pkey_set_is_per_thread() -> None:
    outcome = rawmmap.run_isolated(_per_thread, timeout=30)
    assert outcome.exitcode == 0, outcome.describe() + outcome.stderr
    assert outcome.returned == {
        "own_rights": PKEY_DISABLE_ACCESS,
        "own_fault": "SEGV_PKUERR",
        "other_rights": 0,
        "other_reads": b"k",
    }


# -- strace's format ---------------------------------------------------------------

TRACED = r"""
import ctypes, os, sys, rawmmap
from rawmmap import *
P = rawmmap.PAGESIZE
a = mmap(0, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
name = ctypes.create_string_buffer(b"at-an-address")
pidfd = os.pidfd_open(os.getpid())
with rawmmap.trace(file=open(sys.argv[1], "w")):
    mlock2(a, P, MLOCK_ONFAULT)
    mlock2(a + P, P)
    munlock(a, 2 * P)
    mlockall(MCL_CURRENT | MCL_ONFAULT)
    munlockall()
    mincore(a, 4 * P, bytearray(4))
    mincore(a, 2 * P, ctypes.addressof(ctypes.create_string_buffer(2)))
    os.close(memfd_create(ctypes.addressof(name), MFD_CLOEXEC))
    pkey_mprotect(a, P, PROT_READ, -1)
    process_madvise(pidfd, [(a, P), (a + 2 * P, 2 * P)], MADV_COLD)
    process_madvise(pidfd, [], MADV_PAGEOUT)
    for bad in (
        lambda: mlock2(a, P, 2),
        lambda: mlock2(a, P, MLOCK_ONFAULT | 2),
        lambda: mlockall(0),
        lambda: mlockall(0x10),
        lambda: mincore(a, 2**64 - P),
        lambda: mincore(a, P, 8),
        lambda: memfd_create(0),
        lambda: memfd_create(8, MFD_CLOEXEC),
        lambda: pkey_alloc(1, 0),
        lambda: pkey_alloc(0, PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE),
        lambda: pkey_alloc(0, 0x10),
        lambda: pkey_free(15),
        lambda: pkey_mprotect(a, P, PROT_READ | PROT_WRITE, 15),
        lambda: process_madvise(-1, [(a, P)], MADV_COLD),
        lambda: process_madvise(pidfd, [(a, P)], 999, 1),
    ):
        try:
            bad()
        except OSError:
            pass
"""


def test_every_traced_family_line_is_in_strace_output(tmp_path: pathlib.Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(TRACED)
    traced = tmp_path / "traced.txt"
    strace_out = tmp_path / "strace.txt"
    subprocess.run(
        [strace(), "-o", str(strace_out), "-e",
         "trace=memory,memfd_create,process_madvise,pkey_alloc,pkey_free",
         sys.executable, str(script), str(traced)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    ours = traced.read_text().splitlines()
    assert len(ours) == 26  # every call of the script, failures and the mincore probe included
    theirs = {re.sub(r"\)\s+= ", ") = ", line) for line in strace_out.read_text().splitlines()}
    missing = [line for line in ours if line not in theirs]
    assert not missing, "\n".join(missing)


def test_trace_spells_each_new_call(half_touched: int) -> None:
    a = half_touched
    with rawmmap.trace() as lines:
        rawmmap.mincore(a, 4 * PAGE, bytearray(4))
        rawmmap.mlock2(a, PAGE, MLOCK_ONFAULT)
        rawmmap.mlock2(a, PAGE)  # glibc makes the mlock syscall
        rawmmap.munlock(a, PAGE)
        for bad in (
            lambda: rawmmap.mlockall(MCL_ONFAULT),
            lambda: rawmmap.pkey_get(16),  # no syscall: glibc refuses the key itself
            lambda: rawmmap.pkey_set(16, PKEY_DISABLE_ACCESS),
            lambda: rawmmap.pkey_mprotect(a, PAGE, PROT_READ, 15),
            lambda: rawmmap.memfd_create(0, rawmmap.MFD_CLOEXEC),
        ):
            with pytest.raises(OSError):
                bad()
    assert lines == [
        f"mincore({a:#x}, {4 * PAGE}, [0, 1, 1, 0]) = 0",
        f"mlock2({a:#x}, {PAGE}, MLOCK_ONFAULT) = 0",
        f"mlock({a:#x}, {PAGE}) = 0",
        f"munlock({a:#x}, {PAGE}) = 0",
        "mlockall(MCL_ONFAULT) = -1 EINVAL (Invalid argument)",
        "pkey_get(16) = -1 EINVAL (Invalid argument)",
        "pkey_set(16, PKEY_DISABLE_ACCESS) = -1 EINVAL (Invalid argument)",
        f"pkey_mprotect({a:#x}, {PAGE}, PROT_READ, 15) = -1 EINVAL (Invalid argument)",
        "memfd_create(NULL, MFD_CLOEXEC) = -1 EFAULT (Bad address)",
    ]


def test_error_message_spells_the_call_as_written() -> None:
    # the trace shows the syscall glibc made; the message, the call as C wrote it
    with pytest.raises(OSError) as info:
        rawmmap.mlock2(PAGE, PAGE, 0)
    assert str(info.value).startswith(f"mlock2({PAGE:#x}, {PAGE}, 0): [Errno 12]")
    with pytest.raises(OSError) as info:
        rawmmap.pkey_mprotect(PAGE, PAGE, PROT_READ, -1)
    assert str(info.value).startswith(f"pkey_mprotect({PAGE:#x}, {PAGE}, PROT_READ, -1): ")


# -- the export list ---------------------------------------------------------------


def test_the_family_is_exported() -> None:
    from rawmmap import _raw

    names = {"mlock2", "mlockall", "munlockall", "pkey_alloc", "pkey_free", "pkey_get",
             "pkey_mprotect", "pkey_set", "process_madvise"}  # fmt: skip
    libc = os.confstr("CS_GNU_LIBC_VERSION") or ""
    if libc.startswith("glibc "):
        major, minor = (int(x) for x in libc.split()[1].split(".")[:2])
        if (major, minor) >= (2, 36):
            assert not _raw.UNAVAILABLE
    assert names - _raw.UNAVAILABLE <= set(rawmmap.__all__)
    for name in names - _raw.UNAVAILABLE:
        assert callable(getattr(rawmmap, name))
    for name in _raw.UNAVAILABLE:
        with pytest.raises(AttributeError, match="C library"):
            getattr(rawmmap, name)
    for name in ("MLOCK_ONFAULT", "MCL_CURRENT", "MCL_FUTURE", "MCL_ONFAULT",
                 "PKEY_DISABLE_ACCESS", "PKEY_DISABLE_WRITE"):  # fmt: skip
        assert name in rawmmap.__all__ and isinstance(getattr(rawmmap, name), int)
