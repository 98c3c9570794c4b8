"""P3: guarded copies — 1 MiB bandwidth against C memcpy, 8-byte reads against stdlib mmap.

The 8-byte reads are also shown with the address computed in the loop
(``base + i``): a 48-bit address is a multi-digit int in CPython, and adding
to one costs ~50 ns by itself — the caller's arithmetic, not the read.
"""

from __future__ import annotations

import ctypes
import mmap as stdlib_mmap

import rawmmap

from ._harness import Contender, Row, build_c, interleave, rows_for, timed

MIB = 1 << 20


def run(scale: float = 1.0) -> list[Row]:
    lib = build_c("p3")
    lib.p3_memcpy.restype = ctypes.c_longlong
    lib.p3_memcpy.argtypes = [ctypes.c_size_t, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_long]

    src = rawmmap.map_anonymous(MIB)
    src.write(0, bytes(range(256)) * (MIB // 256))
    dst = bytearray(MIB)
    dst_addr = ctypes.addressof((ctypes.c_char * MIB).from_buffer(dst))

    def c_copy(n: int) -> float:
        return float(lib.p3_memcpy(dst_addr, src.address, MIB, n)) / 1e9

    def guarded_into(n: int) -> None:
        read_into, addr = rawmmap.read_into, src.address
        for _ in range(n):
            read_into(addr, dst)

    def guarded_bytes(n: int) -> None:
        read, addr = rawmmap.read, src.address
        for _ in range(n):
            read(addr, MIB)

    big = [
        Contender("C memcpy 1 MiB", c_copy),
        Contender("rawmmap.read_into 1 MiB (guarded)", timed(guarded_into)),
        Contender("rawmmap.read 1 MiB -> bytes (guarded)", timed(guarded_bytes)),
    ]
    interleave(big, max(int(200 * scale), 1), 7)
    rows = rows_for("P3 guarded copy 1 MiB", big, "C memcpy 1 MiB", unit="MiB")

    std = stdlib_mmap.mmap(-1, MIB)
    std.write(bytes(range(256)) * (MIB // 256))
    positions = [(i * 4099) % (MIB - 8) for i in range(1024)]

    def c_small(n: int) -> float:
        return float(lib.p3_memcpy(dst_addr, src.address + 64, 8, n)) / 1e9

    addresses = [src.address + p for p in positions]

    def raw_small(n: int) -> None:
        read = rawmmap.read
        for i in range(n):
            read(addresses[i & 1023], 8)

    def raw_small_arith(n: int) -> None:
        read, addr = rawmmap.read, src.address
        for i in range(n):
            read(addr + positions[i & 1023], 8)

    def mapping_small(n: int) -> None:
        m = src
        for i in range(n):
            p = positions[i & 1023]
            m[p : p + 8]

    def stdlib_small(n: int) -> None:
        m = std
        for i in range(n):
            p = positions[i & 1023]
            m[p : p + 8]

    small = [
        Contender("C memcpy 8 B", c_small),
        Contender("stdlib mmap m[i:i+8]", timed(stdlib_small)),
        Contender("rawmmap.read(addr, 8) (guarded)", timed(raw_small)),
        Contender("rawmmap.read(base + i, 8) (guarded)", timed(raw_small_arith)),
        Contender("rawmmap.Mapping m[i:i+8] (guarded)", timed(mapping_small)),
    ]
    interleave(small, max(int(200_000 * scale), 1), 7)
    rows += rows_for("P3 guarded 8-byte read", small, "C memcpy 8 B")
    std.close()
    src.close()
    return rows
