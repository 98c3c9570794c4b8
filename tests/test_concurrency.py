"""Behaviour 12: concurrent writers on a shared mapping; atomics and SharedMutex."""

from __future__ import annotations

import errno
import fcntl
import os
import pathlib
import subprocess
from collections.abc import Callable

import pytest

import rawmmap
from rawmmap import MAP_SHARED

PROCS, COUNT = 4, 100_000


def race(worker: Callable[[rawmmap.Mapping, int], None], m: rawmmap.Mapping, count: int) -> int:
    pids = []
    for _ in range(PROCS):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            code = 1
            try:
                worker(m, count)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    for pid in pids:
        assert os.waitpid(pid, 0)[1] == 0
    return int.from_bytes(m[0:8], "little")


def unsafe(m: rawmmap.Mapping, count: int) -> None:
    for _ in range(count):
        m[0:8] = (int.from_bytes(m[0:8], "little") + 1).to_bytes(8, "little")


def test_unsynchronised_writers_lose_updates() -> None:
    # Losing an update needs two processes to interleave inside one
    # read-modify-write; on 2 cores with 4 processes that happens in practice
    # every run, but a scheduler could serialise a whole run, so a run that
    # lost nothing is retried (bounded) rather than taken as a counterexample.
    totals = []
    for _ in range(5):
        with rawmmap.map_anonymous(4096, flags=MAP_SHARED) as m:
            totals.append(race(unsafe, m, 20_000))
        if totals[-1] < PROCS * 20_000:
            break
    assert totals[-1] < PROCS * 20_000, totals


def test_flock_is_exact(tmp_path: pathlib.Path) -> None:
    lock = tmp_path / "lock"
    lock.touch()

    def worker(m: rawmmap.Mapping, count: int) -> None:
        with open(lock, "rb") as f:
            for _ in range(count):
                fcntl.flock(f, fcntl.LOCK_EX)
                m[0:8] = (int.from_bytes(m[0:8], "little") + 1).to_bytes(8, "little")
                fcntl.flock(f, fcntl.LOCK_UN)

    with rawmmap.map_anonymous(4096, flags=MAP_SHARED) as m:
        assert race(worker, m, COUNT) == PROCS * COUNT


def test_shared_mutex_is_exact() -> None:
    with rawmmap.map_anonymous(4096, flags=MAP_SHARED) as m:
        mutex = rawmmap.SharedMutex(m, 64)

        def worker(m: rawmmap.Mapping, count: int) -> None:
            for _ in range(count):
                with mutex:
                    m[0:8] = (int.from_bytes(m[0:8], "little") + 1).to_bytes(8, "little")

        assert race(worker, m, COUNT) == PROCS * COUNT
        mutex.close()  # it pins the mapping (a buffer export) until closed or dropped


def test_atomic_add_is_exact() -> None:
    def worker(m: rawmmap.Mapping, count: int) -> None:
        add = m.atomic_add
        for _ in range(count):
            add(0, 1)

    with rawmmap.map_anonymous(4096, flags=MAP_SHARED) as m:
        assert race(worker, m, COUNT) == PROCS * COUNT
        assert m.atomic_load(0) == PROCS * COUNT


def test_c_and_python_increment_one_counter_together(
    c_program: Callable[[str], pathlib.Path], tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "counter"
    path.write_bytes(bytes(4096))
    with rawmmap.map_file(path) as m:
        c_procs = [subprocess.Popen([str(c_program("atomic_counter")), str(path), str(COUNT)])
                   for _ in range(2)]  # fmt: skip

        def adder(m: rawmmap.Mapping, count: int) -> None:
            for _ in range(count):
                m.atomic_add(0, 1)

        python_total = race(adder, m, COUNT)
        assert all(p.wait() == 0 for p in c_procs)
        assert python_total <= (PROCS + 2) * COUNT
        assert m.atomic_load(0) == (PROCS + 2) * COUNT


def test_owner_death_is_reported_then_recovered() -> None:
    with rawmmap.map_anonymous(4096, flags=MAP_SHARED) as m:
        mutex = rawmmap.SharedMutex(m)
        out = rawmmap.run_isolated(lambda: mutex.acquire())  # dies holding it
        assert out.returned is True
        assert mutex.acquire(timeout=5)  # never a hang
        assert mutex.owner_died
        mutex.consistent()
        assert not mutex.owner_died
        mutex.release()

        def lock_again() -> tuple[bool, bool]:
            got = mutex.acquire()
            died = mutex.owner_died
            mutex.release()
            return got, died

        assert rawmmap.run_isolated(lock_again).returned == (True, False)
        mutex.close()


def test_owner_death_not_repaired_makes_the_mutex_unrecoverable() -> None:
    with rawmmap.map_anonymous(4096, flags=MAP_SHARED) as m:
        mutex = rawmmap.SharedMutex(m)
        rawmmap.run_isolated(mutex.acquire)
        assert mutex.acquire() and mutex.owner_died
        mutex.release()  # without consistent()
        with pytest.raises(OSError) as info:
            mutex.acquire()
        assert info.value.errno == errno.ENOTRECOVERABLE
        mutex.close()


def test_mutex_trylock_timeout_attach_and_misuse() -> None:
    with rawmmap.map_anonymous(4096, flags=MAP_SHARED) as m:
        mutex = rawmmap.SharedMutex(m, rawmmap.SharedMutex.SIZE * 2 // 8 * 8)
        other = rawmmap.SharedMutex.attach(m, mutex.offset)
        assert mutex.acquire()
        assert rawmmap.run_isolated(lambda: other.acquire(blocking=False)).returned is False
        assert rawmmap.run_isolated(lambda: other.acquire(timeout=0.05)).returned is False
        mutex.release()
        with pytest.raises(PermissionError):
            mutex.release()  # not held: EPERM (robust mutexes check the owner)
        with pytest.raises(ValueError, match="aligned"):
            rawmmap.SharedMutex(m, 3)
        with pytest.raises(ValueError, match="does not fit"):
            rawmmap.SharedMutex(m, 4096 - 8)
        with pytest.raises(BufferError):
            m.close()  # the mutexes pin the mapping
        mutex.close()
        other.close()
    with pytest.raises(ValueError, match="closed"):
        mutex.acquire()


@pytest.mark.parametrize("size", [1, 2, 4, 8])
def test_atomic_operations_each_size(size: int) -> None:
    top = 2 ** (8 * size)
    with rawmmap.map_anonymous(4096) as m:
        off = 16
        m.atomic_store(off, top - 1, size)
        assert m.atomic_load(off, size) == top - 1
        assert m.atomic_add(off, 2, size) == top - 1  # wraps
        assert m.atomic_load(off, size) == 1
        assert m.atomic_exchange(off, 7, size) == 1
        assert m.atomic_compare_exchange(off, 7, 9, size) == (True, 7)
        assert m.atomic_compare_exchange(off, 7, 11, size) == (False, 9)
        assert m[off + size : off + size + 1] == b"\0"  # neighbour untouched
        assert rawmmap.atomic_load(m.address + off, size) == 9


def test_atomic_errors() -> None:
    with rawmmap.map_anonymous(4096) as m:
        with pytest.raises(ValueError, match="aligned"):
            m.atomic_add(4, 1, 8)
        with pytest.raises(ValueError, match="1, 2, 4 or 8"):
            m.atomic_load(0, 3)
        with pytest.raises(ValueError, match="outside"):
            m.atomic_load(4096, 8)
        with pytest.raises(ValueError, match="aligned"):
            rawmmap.atomic_store(m.address + 1, 0, 2)
        m.protect(rawmmap.PROT_READ)
        with pytest.raises(rawmmap.MappingFault) as info:
            m.atomic_add(0, 1)
        assert info.value.code == "SEGV_ACCERR" and info.value.mapping is m
