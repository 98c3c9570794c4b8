"""P4: first touch of every page of a fresh anonymous mapping.

mmap + touch one byte per page + munmap, timed as one: C loop, rawmmap
(``rawmmap.mmap`` + ``rawmmap.touch(write=True)`` + ``rawmmap.munmap``), and
C with ``MAP_POPULATE`` (the kernel faults everything in inside mmap).
"""

from __future__ import annotations

import ctypes

import rawmmap

from ._harness import Contender, Row, build_c, interleave, rows_for, timed

PAGES = 4096  # 16 MiB of 4 KiB pages


def run(scale: float = 1.0) -> list[Row]:
    lib = build_c("p4")
    for name in ("p4_loop", "p4_populate"):
        getattr(lib, name).restype = ctypes.c_longlong
        getattr(lib, name).argtypes = [ctypes.c_long]
    page = rawmmap.PAGESIZE
    rw = rawmmap.PROT_READ | rawmmap.PROT_WRITE
    anon = rawmmap.MAP_PRIVATE | rawmmap.MAP_ANONYMOUS

    def c_loop(n: int) -> float:
        return sum(lib.p4_loop(PAGES) for _ in range(n)) / 1e9

    def c_populate(n: int) -> float:
        return sum(lib.p4_populate(PAGES) for _ in range(n)) / 1e9

    def rawmmap_touch(n: int) -> None:
        for _ in range(n):
            addr = rawmmap.mmap(0, PAGES * page, rw, anon, -1, 0)
            rawmmap.touch(addr, PAGES * page, write=True)
            rawmmap.munmap(addr, PAGES * page)

    contenders = [
        Contender("C mmap + touch loop + munmap", c_loop),
        Contender("rawmmap mmap + touch + munmap", timed(rawmmap_touch)),
        Contender("C mmap(MAP_POPULATE) + munmap", c_populate),
    ]
    interleave(contenders, max(int(10 * scale), 1), 9)
    for c in contenders:
        c.samples = [s / PAGES for s in c.samples]
    return rows_for(f"P4 first touch, {PAGES} pages", contenders, "C mmap + touch loop + munmap",
                    unit="page")  # fmt: skip
