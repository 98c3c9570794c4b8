"""Lesson 12 — Concurrent writers lose updates (docs/design.md, behaviour 12)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from typing import Any

import rawmmap

from ._lesson import PAGE, Lesson, described, scratch

TITLE = "Concurrent writers lose updates"
WHAT = (
    "{procs} processes increment one counter in MAP_SHARED memory: unsynchronised, with flock, "
    "with a shared mutex, atomically."
)
WHY = (
    "Read-modify-write is three steps: two processes read the same value and both store +1. "
    "A lock around the increment (flock, or a PTHREAD_PROCESS_SHARED mutex living in the "
    "mapping itself) or one atomic instruction (lock xadd) makes it exact. A robust mutex "
    "survives its owner's death: the next locker is told (EOWNERDEAD) and repairs."
)
READ = [
    "mmap(2)",
    "flock(2)",
    "pthread_mutexattr_setpshared(3)",
    "pthread_mutexattr_setrobust(3)",
    "pthread_mutex_consistent(3)",
]

PROCS, COUNT = 4, 20_000
VALUES = {"procs": PROCS}


# -- the four ways to add 1, each run by PROCS processes at once ------------------------


def unsafe_increments(m: rawmmap.Mapping) -> None:
    for _ in range(COUNT):
        value = int.from_bytes(m[0:8], "little")
        m[0:8] = (value + 1).to_bytes(8, "little")


def flock_increments(m: rawmmap.Mapping, lock_path: str) -> None:
    with open(lock_path, "wb") as f:
        for _ in range(COUNT):
            fcntl.flock(f, fcntl.LOCK_EX)
            value = int.from_bytes(m[0:8], "little")
            m[0:8] = (value + 1).to_bytes(8, "little")
            fcntl.flock(f, fcntl.LOCK_UN)


def mutex_increments(m: rawmmap.Mapping, mutex: rawmmap.SharedMutex) -> None:
    for _ in range(COUNT):
        with mutex:
            value = int.from_bytes(m[0:8], "little")
            m[0:8] = (value + 1).to_bytes(8, "little")


def atomic_increments(m: rawmmap.Mapping) -> None:
    for _ in range(COUNT):
        m.atomic_add(0, 1)


def race(worker: Callable[..., None], *extra: Any) -> int:
    """Fork PROCS children running ``worker`` on one shared counter; the counter's final value."""
    with rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED) as m:
        pids = []
        for _ in range(PROCS):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                try:
                    worker(m, *extra)
                finally:
                    os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        return int.from_bytes(m[0:8], "little")


def die_holding(mutex: rawmmap.SharedMutex) -> None:
    """What the child runs: lock the mutex and exit without unlocking it."""
    mutex.acquire()
    os._exit(3)


def run(lesson: Lesson) -> None:
    expected = PROCS * COUNT
    with rawmmap.trace(file=None) as calls:
        unsafe = race(unsafe_increments)
    mmap_call, *rest = calls
    lesson.calls.append(mmap_call)
    lesson.aside("fork() x {procs}: each child adds 1 to the counter {count:,} times",
                 procs=PROCS, count=COUNT)  # fmt: skip
    lesson.calls += rest
    # an unlucky schedule may lose nothing once: try again before concluding
    for _attempt in range(2):
        if unsafe < expected:
            break
        unsafe = race(unsafe_increments)
    lesson.saw("{procs} processes x {count:,} unsynchronised read-modify-write increments of one "
               "counter in MAP_SHARED memory: {got:,} (lost {lost:,})",
               procs=PROCS, count=COUNT, got=unsafe, lost=expected - unsafe)  # fmt: skip
    lesson.check("unsynchronised writers lose updates", unsafe < expected)

    with scratch() as d:
        locked = race(flock_increments, os.path.join(d, "lock"))
    lesson.saw("the same with flock(LOCK_EX) around each increment: {got:,} of {expected:,}",
               got=locked, expected=expected)  # fmt: skip
    lesson.check("with flock no update is lost", locked == expected)

    with rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED) as place:
        mutex = rawmmap.SharedMutex(place)
        mutexed = race(mutex_increments, mutex)
        lesson.saw("with a robust process-shared pthread mutex in the mapping: "
                   "{got:,} of {expected:,}", got=mutexed, expected=expected)  # fmt: skip
        lesson.check("with a process-shared mutex no update is lost", mutexed == expected)
        out = rawmmap.run_isolated(die_holding, mutex)
        got = mutex.acquire(timeout=5)
        died = mutex.owner_died
        if died:
            mutex.consistent()
        mutex.release()
        mutex.close()  # a SharedMutex pins its mapping until it is closed (or dropped)
        lesson.saw("a process locked the mutex and {outcome} without unlocking; the next locker "
                   "got it at once with EOWNERDEAD (owner_died={died}), repaired, called "
                   "pthread_mutex_consistent", outcome=described(out), died=died)  # fmt: skip
        lesson.check("a robust mutex whose owner died is handed over with EOWNERDEAD, not a hang",
                     got and died)  # fmt: skip

    atomic = race(atomic_increments)
    lesson.saw("with atomic fetch-and-add (__atomic_fetch_add, lock-free): {got:,} of {expected:,}",
               got=atomic, expected=expected)  # fmt: skip
    lesson.check("with atomic increments no update is lost", atomic == expected)
