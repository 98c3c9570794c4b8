"""Small guarded accesses against the standard library's ``mmap.mmap``, same run.

Each pair runs interleaved in one process: the stdlib's access on an
``mmap.mmap`` (the baseline, ratio 1.00) and rawmmap's guarded equivalent on a
``Mapping`` of the same size (or at its address, for the module functions).
Both loops have the same shape (locals, ``for _ in range(n): <one access>``),
so the ratio is what choosing the guarded path costs a Python program.  The
stdlib's equivalent of ``rawmmap.read(addr, 8)`` / ``write(addr, b)`` is the
slice ``s[i:i+8]`` (it includes the ``i + 8``, as a program would write it).
"""

from __future__ import annotations

import mmap as stdlib_mmap

import rawmmap

from ._harness import Contender, Row, interleave, rows_for, timed

SIZE = 1 << 20
AT = 8  # the offset every access uses
DATA = b"12345678"
ROUNDS = 15


def run(scale: float = 1.0) -> list[Row]:
    s = stdlib_mmap.mmap(-1, SIZE)
    m = rawmmap.map_anonymous(SIZE, flags=rawmmap.MAP_SHARED)
    addr = m.address + AT
    read, write = rawmmap.read, rawmmap.write

    def s_item(n: int) -> None:
        x, i = s, AT
        for _ in range(n):
            x[i]

    def m_item(n: int) -> None:
        x, i = m, AT
        for _ in range(n):
            x[i]

    def s_slice(n: int) -> None:
        x, i = s, AT
        for _ in range(n):
            x[i : i + 8]

    def m_slice(n: int) -> None:
        x, i = m, AT
        for _ in range(n):
            x[i : i + 8]

    def s_set_item(n: int) -> None:
        x, i = s, AT
        for _ in range(n):
            x[i] = 1

    def m_set_item(n: int) -> None:
        x, i = m, AT
        for _ in range(n):
            x[i] = 1

    def s_set_slice(n: int) -> None:
        x, i, b = s, AT, DATA
        for _ in range(n):
            x[i : i + 8] = b

    def m_set_slice(n: int) -> None:
        x, i, b = m, AT, DATA
        for _ in range(n):
            x[i : i + 8] = b

    def m_write(n: int) -> None:
        w, a, b = write, addr, DATA
        for _ in range(n):
            w(a, b)

    def m_read(n: int) -> None:
        r, a = read, addr
        for _ in range(n):
            r(a, 8)

    pairs = [
        ("m[i]", "stdlib s[i]", s_item, "Mapping m[i]", m_item),
        ("m[i:i+8]", "stdlib s[i:i+8]", s_slice, "Mapping m[i:i+8]", m_slice),
        ("m[i] = x", "stdlib s[i] = x", s_set_item, "Mapping m[i] = x", m_set_item),
        ("m[i:i+8] = b", "stdlib s[i:i+8] = b", s_set_slice, "Mapping m[i:i+8] = b",
         m_set_slice),
        ("write 8 bytes", "stdlib s[i:i+8] = b", s_set_slice, "rawmmap.write(addr, b)", m_write),
        ("read 8 bytes", "stdlib s[i:i+8]", s_slice, "rawmmap.read(addr, 8)", m_read),
    ]  # fmt: skip
    per_round = max(int(200_000 * scale), 1)
    rows: list[Row] = []
    for what, base_name, base, ours_name, ours in pairs:
        contenders = [Contender(base_name, timed(base)), Contender(ours_name, timed(ours))]
        interleave(contenders, per_round, ROUNDS)
        rows += rows_for(f"small: {what}", contenders, base_name, unit="access")
    assert m[AT : AT + 8] == s[AT : AT + 8] == DATA  # both did the same work
    m.close()
    s.close()
    return rows
