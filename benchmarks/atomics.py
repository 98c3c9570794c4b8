"""Atomic increments on a shared mapping: C loop vs rawmmap (module function and Mapping method).

The same rows are also shown against the stdlib's ``s[i]`` on an ``mmap.mmap``:
a C call of the same shape, the floor for any call made from Python.
"""

from __future__ import annotations

import ctypes
import mmap as stdlib_mmap

import rawmmap

from ._harness import Contender, Row, build_c, interleave, rows_for, timed


def run(scale: float = 1.0) -> list[Row]:
    lib = build_c("atomics")
    lib.atomic_adds.restype = ctypes.c_longlong
    lib.atomic_adds.argtypes = [ctypes.c_size_t, ctypes.c_long]
    m = rawmmap.map_anonymous(4096, flags=rawmmap.MAP_SHARED)

    def c_loop(n: int) -> float:
        return float(lib.atomic_adds(m.address, n)) / 1e9

    def module_loop(n: int) -> None:
        add, addr = rawmmap.atomic_add, m.address
        for _ in range(n):
            add(addr, 1)

    s = stdlib_mmap.mmap(-1, 4096)

    def stdlib_loop(n: int) -> None:
        mm = s
        for _ in range(n):
            mm[8]

    def method_loop(n: int) -> None:
        add = m.atomic_add
        for _ in range(n):
            add(0, 1)

    contenders = [
        Contender("C __atomic_fetch_add", c_loop),
        Contender("rawmmap.atomic_add(addr, 1)", timed(module_loop)),
        Contender("Mapping.atomic_add(0, 1)", timed(method_loop)),
        Contender("stdlib s[i] (not atomic: the floor of a C call)", timed(stdlib_loop)),
    ]
    interleave(contenders, max(int(100_000 * scale), 1), 7)
    rows = rows_for("atomic increment", contenders, "C __atomic_fetch_add", unit="add")
    rows += rows_for("atomic increment vs a C call", contenders[1:], contenders[3].name,
                     unit="call")  # fmt: skip
    m.close()
    s.close()
    return rows
