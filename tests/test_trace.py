"""Tracing: every line rawmmap.trace() prints must appear verbatim in strace's output."""

from __future__ import annotations

import inspect
import io
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import rawmmap

SCRIPT = r"""
import errno, os, sys, rawmmap
from rawmmap import *
P = rawmmap.PAGESIZE
path = sys.argv[1]
with open(path, "wb") as f:
    f.write(b"x" * 3 * P)
with rawmmap.trace(file=open(sys.argv[2], "w")):
    a = mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    mprotect(a, P, PROT_READ)
    mprotect(a, P, PROT_NONE)
    madvise(a, 2 * P, MADV_DONTNEED)
    mincore(a, 2 * P)
    mlock(a + P, P)
    munlock(a + P, P)
    mprotect(a, P, PROT_READ | PROT_WRITE)  # one VMA again: mremap cannot span two
    b = mremap(a, 2 * P, 8 * P, MREMAP_MAYMOVE)
    mincore(b, 8 * P)
    big = mmap(0, 64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
    mincore(big, 64 * P)
    munmap(big, 64 * P)
    fd = os.open(path, os.O_RDWR)
    c = mmap(0, P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, P)
    msync(c, P, MS_SYNC)
    msync(c, P, MS_ASYNC | MS_INVALIDATE)
    ftruncate(fd, 5 * P)
    m = memfd_create("rawmmap \"trace\"", MFD_CLOEXEC | MFD_ALLOW_SEALING)
    ftruncate(m, P)
    os.close(memfd_create("a name longer than strace's 32 bytes, cut short", 0))
    os.close(memfd_create("x" * 32, 0))
    for bad in (
        lambda: mmap(0, P, PROT_READ, MAP_SHARED, 9999, 0),
        lambda: mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
        lambda: mmap(c, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
        lambda: mmap(0, P, PROT_READ | PROT_EXEC | 0x100,
                     0x800000 | MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0),
        lambda: msync(c, P, MS_SYNC | MS_ASYNC),
        lambda: msync(c, P, 8),
        lambda: madvise(c, P, 999),
        lambda: mprotect(c + 1, P, PROT_READ),
        lambda: munmap(c + 1, P),
        lambda: ftruncate(fd, -1),
        lambda: ftruncate(9999, 0),
        lambda: mincore(c + 1, P),
        lambda: mremap(c, P, 2 * P, 0),
        lambda: memfd_create("x", 0x10000000),
        lambda: mmap(0, P, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0),  # EOPNOTSUPP
        lambda: mmap(0, P, PROT_READ, MAP_SHARED, fd, 1),  # glibc's EINVAL, no syscall
    ):
        try:
            bad()
        except OSError:
            pass
    r = mmap(0, 4 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    mremap(b, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, r + P)
    munmap(r, 4 * P)
    munmap(c, P)
"""


def strace() -> str:
    found = shutil.which("strace")
    if found is None:
        pytest.fail("strace is not installed: `apt-get install strace` (.ci/run installs it)")
    return found


def test_every_traced_line_is_in_strace_output(tmp_path: pathlib.Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    traced = tmp_path / "traced.txt"
    strace_out = tmp_path / "strace.txt"
    subprocess.run(
        [strace(), "-o", str(strace_out), "-e", "trace=memory,ftruncate,memfd_create",
         sys.executable, str(script), str(tmp_path / "data"), str(traced)],
        check=True, capture_output=True,
    )  # fmt: skip
    ours = traced.read_text().splitlines()
    assert len(ours) == 41  # every call of the script, failures included
    # strace pads the call to a column before " = "; fold that padding away
    theirs = {re.sub(r"\)\s+= ", ") = ", line) for line in strace_out.read_text().splitlines()}
    # a call libc refused never reached the kernel: marked in our trace, absent from strace's
    by_libc = [line for line in ours if line.endswith(" /* refused by libc, no syscall */")]
    assert by_libc == [f"{by_libc[0].partition(' = ')[0]} = -1 EINVAL (Invalid argument)"
                       " /* refused by libc, no syscall */"]  # fmt: skip
    call = by_libc[0].partition(" = ")[0]
    assert call.startswith("mmap(NULL, ") and call.endswith(", 0x1)")
    assert not [line for line in theirs if line.startswith(call)]
    missing = [line for line in ours if line not in theirs and line not in by_libc]
    assert not missing, "\n".join(missing)
    cut = 'memfd_create("a name longer than strace\'s 32 b"..., 0) = '
    assert any(line.startswith(cut) for line in ours)
    assert any(" = -1 EOPNOTSUPP (Operation not supported)" in line for line in ours)


def test_trace_lines_and_nesting() -> None:
    with rawmmap.trace(file=None) as outer:
        with rawmmap.trace(file=None) as inner:
            addr = rawmmap.mmap(
                0, 4096, rawmmap.PROT_READ, rawmmap.MAP_PRIVATE | rawmmap.MAP_ANONYMOUS, -1, 0
            )
        rawmmap.munmap(addr, 4096)
    assert inner == [f"mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = {addr:#x}"]
    assert outer == [*inner, f"munmap({addr:#x}, 4096) = 0"]


def test_trace_prints_to_stderr_by_default_once(capsys: pytest.CaptureFixture[str]) -> None:
    line = "ftruncate(9999, 0) = -1 EBADF (Bad file descriptor)"
    with rawmmap.trace() as outer, rawmmap.trace() as inner, pytest.raises(OSError):
        rawmmap.ftruncate(9999, 0)
    assert outer == inner == [line]
    assert capsys.readouterr() == ("", line + "\n")  # nested: printed once, as strace does


def test_trace_to_a_file_or_silent(capsys: pytest.CaptureFixture[str]) -> None:
    buffer = io.StringIO()
    with rawmmap.trace(file=buffer), pytest.raises(OSError):
        rawmmap.ftruncate(9999, 0)
    with rawmmap.trace(file=None) as lines, pytest.raises(OSError):
        rawmmap.ftruncate(9999, 1)
    assert buffer.getvalue() == "ftruncate(9999, 0) = -1 EBADF (Bad file descriptor)\n"
    assert lines == ["ftruncate(9999, 1) = -1 EBADF (Bad file descriptor)"]
    assert capsys.readouterr() == ("", "")
    assert repr(inspect.signature(rawmmap.trace).parameters["file"].default) == "sys.stderr"


def test_trace_failure_line() -> None:
    with rawmmap.trace(file=None) as lines, pytest.raises(OSError):
        rawmmap.mprotect(4096, 4096, rawmmap.PROT_NONE)
    assert lines == ["mprotect(0x1000, 4096, PROT_NONE) = -1 ENOMEM (Cannot allocate memory)"]


def test_environment_variable_traces_to_stderr() -> None:
    code = "import rawmmap; rawmmap.ftruncate(9999, 0)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "RAWMMAP_TRACE": "1"})  # fmt: skip
    assert "ftruncate(9999, 0) = -1 EBADF (Bad file descriptor)" in proc.stderr


def test_tracing_off_leaves_no_hook() -> None:
    from rawmmap import _raw

    with rawmmap.trace(file=None):
        assert _raw.trace_hook is not None
    assert _raw.trace_hook is None
