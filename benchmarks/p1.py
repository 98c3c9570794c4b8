"""P1: one anonymous 4 KiB mmap + munmap pair — C, rawmmap, stdlib mmap, ctypes."""

from __future__ import annotations

import ctypes
import mmap as stdlib_mmap

import rawmmap

from ._harness import Contender, Row, build_c, interleave, rows_for, timed

PAIRS = 200_000


def run(scale: float = 1.0) -> list[Row]:
    lib = build_c("p1")
    lib.p1_pairs.restype = ctypes.c_longlong
    lib.p1_pairs.argtypes = [ctypes.c_long]

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

    rw = rawmmap.PROT_READ | rawmmap.PROT_WRITE
    anon = rawmmap.MAP_PRIVATE | rawmmap.MAP_ANONYMOUS

    def c_loop(n: int) -> float:
        return float(lib.p1_pairs(n)) / 1e9

    def rawmmap_loop(n: int) -> None:
        mmap, munmap = rawmmap.mmap, rawmmap.munmap
        for _ in range(n):
            munmap(mmap(0, 4096, rw, anon, -1, 0), 4096)

    def cffi_loop(n: int) -> None:
        from rawmmap._native import lib as native

        mmap, munmap = native.rawmmap_mmap, native.rawmmap_munmap
        for _ in range(n):
            munmap(mmap(0, 4096, rw, anon, -1, 0), 4096)

    def stdlib_loop(n: int) -> None:
        new = stdlib_mmap.mmap
        for _ in range(n):
            new(-1, 4096).close()

    def ctypes_loop(n: int) -> None:
        mmap, munmap = libc.mmap, libc.munmap
        for _ in range(n):
            munmap(mmap(None, 4096, rw, anon, -1, 0), 4096)

    contenders = [
        Contender("C mmap+munmap", c_loop),
        Contender("rawmmap.mmap+munmap", timed(rawmmap_loop)),
        Contender("(the bare CFFI calls rawmmap wraps)", timed(cffi_loop)),
        Contender("stdlib mmap.mmap(-1, 4096)+close", timed(stdlib_loop)),
        Contender("ctypes libc.mmap+munmap", timed(ctypes_loop)),
    ]
    rounds = 10
    interleave(contenders, max(int(PAIRS * scale) // rounds, 1), rounds)
    return rows_for("P1 mmap+munmap 4 KiB", contenders, "C mmap+munmap", unit="pair")
