"""Leaks, durability after SIGKILL, and a table of bad input for every public function."""

from __future__ import annotations

import math
import os
import pathlib
import signal
from collections.abc import Callable

import pytest

import rawmmap
from rawmmap import MAP_FIXED, MAP_PRIVATE, MAP_SHARED, MS_SYNC, PROT_READ, PROT_WRITE

P = rawmmap.PAGESIZE
SOAK = int(os.environ.get("RAWMMAP_SOAK", "10000"))


def maps_text() -> str:
    return pathlib.Path("/proc/self/maps").read_text()


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- leaks -----------------------------------------------------------------------


def test_map_write_close_cycles_leak_nothing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(P))
    lines, fds = maps_text().count("\n"), fd_count()
    for i in range(SOAK):
        with rawmmap.map_anonymous(P) as m:
            m[i % P] = i & 0xFF
        with rawmmap.map_file(path) as m:
            m[i % P] = i & 0xFF
            if i % 100 == 0:
                m.view().release()
    assert (maps_text().count("\n"), fd_count()) == (lines, fds)
    assert path.read_bytes()[(SOAK - 1) % P] == (SOAK - 1) & 0xFF


# -- durability --------------------------------------------------------------------

PATTERN = bytes(range(256)) * (3 * P // 256)


def _write_and_die(path: str, flags: int, sync: bool) -> None:
    m = rawmmap.map_file(path, flags=flags)
    m.write(0, PATTERN)
    if sync:
        m.sync(MS_SYNC)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize(
    ("flags", "sync", "reaches_file"),
    [(MAP_SHARED, True, True), (MAP_SHARED, False, True), (MAP_PRIVATE, True, False)],
    ids=["shared+msync", "shared-no-msync", "private"],
)
def test_writes_survive_sigkill(
    tmp_path: pathlib.Path, flags: int, sync: bool, reaches_file: bool
) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(len(PATTERN)))
    outcome = rawmmap.run_isolated(_write_and_die, str(path), flags, sync)
    assert outcome.signal is signal.SIGKILL
    assert path.read_bytes() == (PATTERN if reaches_file else bytes(len(PATTERN)))


# -- bad input ---------------------------------------------------------------------

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | rawmmap.MAP_ANONYMOUS
NAN = math.nan


def _closed() -> rawmmap.Mapping:
    m = rawmmap.map_anonymous(P)
    m.close()
    return m


_live = rawmmap.map_anonymous(P)
_c = _closed()

BAD: list[tuple[str, Callable[[], object], type[BaseException]]] = [
    ("mmap length NaN", lambda: rawmmap.mmap(0, NAN, RW, ANON, -1, 0), TypeError),
    ("mmap length None", lambda: rawmmap.mmap(0, None, RW, ANON, -1, 0), TypeError),
    ("mmap length str", lambda: rawmmap.mmap(0, "4096", RW, ANON, -1, 0), TypeError),
    ("mmap length -1", lambda: rawmmap.mmap(0, -1, RW, ANON, -1, 0), ValueError),
    ("mmap length 2**64", lambda: rawmmap.mmap(0, 2**64, RW, ANON, -1, 0), ValueError),
    ("mmap length 2**62", lambda: rawmmap.mmap(0, 2**62, RW, ANON, -1, 0), OSError),
    ("mmap flags float", lambda: rawmmap.mmap(0, P, RW, 34.0, -1, 0), TypeError),
    ("mmap fd None", lambda: rawmmap.mmap(0, P, RW, ANON, None, 0), TypeError),
    ("mmap offset misaligned", lambda: rawmmap.mmap(0, P, RW, ANON, -1, 1), OSError),
    ("mmap FIXED misaligned", lambda: rawmmap.mmap(1, P, RW, ANON | MAP_FIXED, -1, 0), OSError),
    ("munmap addr str", lambda: rawmmap.munmap("0", P), TypeError),
    ("munmap misaligned", lambda: rawmmap.munmap(_live.address + 1, P), OSError),
    ("msync length -1", lambda: rawmmap.msync(_live.address, -1, MS_SYNC), ValueError),
    ("mprotect prot None", lambda: rawmmap.mprotect(_live.address, P, None), TypeError),
    ("ftruncate fd float", lambda: rawmmap.ftruncate(1.0, 0), TypeError),
    ("ftruncate length 2**63", lambda: rawmmap.ftruncate(0, 2**63), ValueError),
    ("madvise advice NaN", lambda: rawmmap.madvise(_live.address, P, NAN), TypeError),
    ("mincore length -1", lambda: rawmmap.mincore(_live.address, -1), ValueError),
    ("mlock addr None", lambda: rawmmap.mlock(None, P), TypeError),
    ("munlock length str", lambda: rawmmap.munlock(_live.address, "x"), TypeError),
    ("mremap new_size -1", lambda: rawmmap.mremap(_live.address, P, -1, 0), ValueError),
    ("memfd_create name None", lambda: rawmmap.memfd_create(None), TypeError),
    ("memfd_create flags float", lambda: rawmmap.memfd_create("x", 1.0), TypeError),
    ("read n -1", lambda: rawmmap.read(_live.address, -1), ValueError),
    ("read addr float", lambda: rawmmap.read(1.0, 1), TypeError),
    ("read addr 2**64", lambda: rawmmap.read(2**64, 1), ValueError),
    ("read NULL", lambda: rawmmap.read(0, 1), rawmmap.MappingFault),
    ("write str", lambda: rawmmap.write(_live.address, "text"), TypeError),
    ("write addr -1", lambda: rawmmap.write(-1, b"x"), ValueError),
    ("read_into read-only buffer", lambda: rawmmap.read_into(_live.address, b"xx"), TypeError),
    ("touch length -1", lambda: rawmmap.touch(_live.address, -1), ValueError),
    ("Mapping length None", lambda: rawmmap.Mapping(None), TypeError),
    ("Mapping length 0", lambda: rawmmap.Mapping(0), OSError),
    ("map_anonymous -1", lambda: rawmmap.map_anonymous(-1), ValueError),
    ("map_anonymous NaN", lambda: rawmmap.map_anonymous(NAN), TypeError),
    ("map_file missing", lambda: rawmmap.map_file("/nonexistent/rawmmap"), FileNotFoundError),
    ("map_file bad fd", lambda: rawmmap.map_file(9999), OSError),
    ("map_file float", lambda: rawmmap.map_file(1.5), TypeError),
    ("index float", lambda: _live[1.5], TypeError),
    ("index out of range", lambda: _live[P], IndexError),
    ("slice of str", lambda: _live["a":"b"], TypeError),
    ("setitem 256", lambda: _live.__setitem__(0, 256), ValueError),
    ("setitem bytes wrong size", lambda: _live.__setitem__(slice(0, 2), b"abc"), IndexError),
    ("write int", lambda: _live.write(0, 5), TypeError),
    ("write past end", lambda: _live.write(P - 1, b"ab"), IndexError),
    ("read negative offset", lambda: _live.read(-1, 1), IndexError),
    ("sync both", lambda: _live.sync(MS_SYNC | rawmmap.MS_ASYNC), OSError),
    ("protect str", lambda: _live.protect("rw"), TypeError),
    ("advise invalid", lambda: _live.advise(999), OSError),
    ("atomic misaligned", lambda: _live.atomic_add(1, 1, 8), ValueError),
    ("atomic value float", lambda: _live.atomic_add(0, 1.5), TypeError),
    ("atomic size 3", lambda: rawmmap.atomic_load(_live.address, 3), ValueError),
    ("SharedMutex of str", lambda: rawmmap.SharedMutex("x"), TypeError),
    ("vmas pid str", lambda: rawmmap.vmas("abc"), ValueError),
    ("vmas no such pid", lambda: rawmmap.vmas(2**22 + 12345), FileNotFoundError),
    ("run_isolated not callable", lambda: rawmmap.run_isolated(5), TypeError),
    ("closed read", lambda: _c.read(0, 1), ValueError),
    ("closed index", lambda: _c[0], ValueError),
    ("closed view", lambda: _c.view(), ValueError),
    ("closed sync", lambda: _c.sync(), ValueError),
    ("closed protect", lambda: _c.protect(PROT_READ), ValueError),
    ("closed lock", lambda: _c.lock(), ValueError),
    ("closed residency", lambda: _c.residency(), ValueError),
    ("closed atomic", lambda: _c.atomic_load(0), ValueError),
    ("closed enter", lambda: _c.__enter__(), ValueError),
    ("closed remap", lambda: _c.remap(2 * P), ValueError),
    ("remap length -1", lambda: _live.remap(-1), ValueError),
]  # fmt: skip


@pytest.mark.parametrize(("call", "exc"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_refused_and_changes_nothing(
    call: Callable[[], object], exc: type[BaseException]
) -> None:
    with pytest.raises(exc):
        call()  # once: lets the interpreter settle its own allocations
    before = (maps_text(), fd_count(), _live[0:16])
    for _ in range(3):
        with pytest.raises(exc):
            call()
    assert (maps_text(), fd_count(), _live[0:16]) == before
