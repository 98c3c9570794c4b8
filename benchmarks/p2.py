"""P2, the seed's workload: increment every 32-bit integer of a file of N integers.

Contenders, interleaved per N: C pread+increment+pwrite, C mmap (MAP_SHARED,
loop, munmap), rawmmap mmap + numpy in place on the zero-copy view, os.pread /
os.pwrite + numpy, stdlib mmap + numpy, numpy.memmap.  Every contender opens
and closes the file inside its timed region, and unmaps (mmap contenders)
there too; none calls msync: the writes end in the page cache, as a
process's writes do.  The page cache is warm: the file was just written and
every contender reads the same cached pages.

Why rawmmap + numpy can trail C's mmap loop: numpy's ``arr += 1`` reads a
chunk before writing it, so each page is first mapped read-only (a read fault,
for the kernel's dirty tracking) and then write-faulted again; C's ``p[i]++``
writes at once and takes one write fault per large folio.
``madvise(MADV_POPULATE_WRITE)`` takes the write faults up front.
"""

from __future__ import annotations

import ctypes
import mmap as stdlib_mmap
import os
import pathlib
import tempfile
from collections.abc import Callable

import numpy as np

import rawmmap

from ._harness import Contender, Row, build_c, interleave, rows_for, timed

SIZES = [10**4, 10**5, 10**6, 10**7]
FULL_SIZES = [*SIZES, 10**8]


def _c_lib() -> ctypes.CDLL:
    lib = build_c("p2")
    for name in ("p2_rw", "p2_mmap"):
        fn = getattr(lib, name)
        fn.restype = ctypes.c_longlong
        fn.argtypes = [ctypes.c_char_p, ctypes.c_long]
    return lib


def contenders_for(path: str, n: int) -> list[tuple[str, Callable[[int], float]]]:
    """(name, run(times) -> seconds) for each contender on the file at ``path``."""
    lib = _c_lib()
    raw_path = os.fsencode(path)

    def c_call(fn: Callable[[bytes, int], int]) -> Callable[[int], float]:
        def run(times: int) -> float:
            total = 0
            for _ in range(times):
                ns = fn(raw_path, n)
                if ns < 0:
                    raise OSError(f"C baseline failed on {path}")
                total += ns
            return total / 1e9

        return run

    def each(body: Callable[[], None]) -> Callable[[int], float]:
        def repeated(times: int) -> None:
            for _ in range(times):
                body()

        return timed(repeated)

    def with_rawmmap(populate: bool) -> None:
        with rawmmap.map_file(path, 4 * n) as m:
            if populate:
                m.advise(rawmmap.MADV_POPULATE_WRITE)  # write-fault every page up front
            view = m.view()
            arr = np.frombuffer(view, dtype=np.uint32)
            arr += 1
            del arr
            view.release()

    def with_pread() -> None:
        fd = os.open(path, os.O_RDWR)
        try:
            arr = np.frombuffer(bytearray(os.pread(fd, 4 * n, 0)), dtype=np.uint32)
            arr += 1
            os.pwrite(fd, arr, 0)
        finally:
            os.close(fd)

    def with_stdlib_mmap() -> None:
        with open(path, "r+b") as f:
            mm = stdlib_mmap.mmap(f.fileno(), 4 * n)
            arr = np.frombuffer(mm, dtype=np.uint32)
            arr += 1
            del arr
            mm.close()

    def with_memmap() -> None:
        arr = np.memmap(path, dtype=np.uint32, mode="r+", shape=(n,))
        arr += 1
        del arr

    return [
        ("C pread+pwrite", c_call(lib.p2_rw)),
        ("C mmap", c_call(lib.p2_mmap)),
        ("rawmmap mmap + numpy view", each(lambda: with_rawmmap(False))),
        ("rawmmap mmap + MADV_POPULATE_WRITE + numpy", each(lambda: with_rawmmap(True))),
        ("os.pread/os.pwrite + numpy", each(with_pread)),
        ("stdlib mmap + numpy", each(with_stdlib_mmap)),
        ("numpy.memmap", each(with_memmap)),
    ]


def make_file(directory: str, n: int) -> str:
    path = os.path.join(directory, f"ints-{n}")
    np.arange(n, dtype=np.uint32).tofile(path)
    return path


def run(scale: float = 1.0, full: bool = False, sizes: list[int] | None = None) -> list[Row]:
    rows: list[Row] = []
    if sizes is None:
        sizes = FULL_SIZES if full else SIZES
        if scale < 1:
            sizes = sizes[:3]
    with tempfile.TemporaryDirectory(prefix="rawmmap-p2-") as d:
        for n in sizes:
            path = make_file(d, n)
            contenders = [Contender(name, fn) for name, fn in contenders_for(path, n)]
            rounds = 7 if n <= 10**6 else 3
            interleave(contenders, 1, rounds)
            for c in contenders:
                c.samples = [s / n for s in c.samples]
            rows += rows_for(f"P2 increment N={n:.0e} int32", contenders, "C mmap", unit="int")
            pathlib.Path(path).unlink()
    return rows
