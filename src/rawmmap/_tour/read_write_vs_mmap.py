"""Lesson 11 — read/write versus mmap (docs/design.md, behaviour 11)."""

from __future__ import annotations

import array
import os
import time
from collections.abc import Callable

import rawmmap

from ._lesson import Lesson, make_file, scratch, words

TITLE = "read/write versus mmap"
WHAT = "Increment a million 32-bit integers of a file with pread/pwrite, then through mmap."
WHY = (
    "pread copies the file from the page cache into a buffer and pwrite copies it back; mmap "
    "works on the page-cache pages themselves: no copy, but page faults instead. numpy reads "
    "before it writes, so each page is first mapped read-only (the kernel tracks which pages "
    "get dirty) and then faults again on the write; MADV_POPULATE_WRITE takes the write "
    "faults up front, a few large ones. `python -m benchmarks p2` (in a checkout) measures "
    "the same paths with C alongside."
)
READ = ["read(2)", "write(2)", "mmap(2)", "madvise(2) (MADV_POPULATE_WRITE)"]

N = 1_000_000
ROUNDS = 3


def increment_with_numpy(buf: memoryview) -> None:
    """Add 1 to every 32-bit integer of ``buf`` in place, as one vectorised loop."""
    import numpy as np

    arr = np.frombuffer(buf, dtype=np.uint32)
    arr += 1
    del arr


def increment_in_python(buf: memoryview) -> None:
    """The same without numpy: a Python loop, a hundred times slower than either copy or fault."""
    ints = buf.cast("I")
    for i in range(len(ints)):
        ints[i] += 1
    ints.release()


def have_numpy() -> bool:
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def compared(base: float, took: float) -> tuple[str, float]:
    """How ``took`` compares with ``base``, in words a reader takes at face value."""
    if abs(took - base) < 0.05 * base:
        return "about as fast as pread+pwrite", 1.0
    if took < base:
        return "{ratio:.1f}× as fast as pread+pwrite", base / took
    return "{ratio:.1f}× slower than pread+pwrite", took / base


def run(lesson: Lesson) -> None:
    numpy = have_numpy()
    increment = increment_with_numpy if numpy else increment_in_python
    faults: dict[str, int] = {}
    times: dict[str, float] = {}
    shown: dict[str, list[str]] = {}
    with scratch() as d:
        path = make_file(d, "ints", array.array("I", range(N)).tobytes())
        fd = os.open(path, os.O_RDWR)
        try:

            def with_pread() -> None:
                data = bytearray(os.pread(fd, 4 * N, 0))
                increment(memoryview(data))
                os.pwrite(fd, data, 0)

            def with_mmap(populate: bool) -> None:
                with rawmmap.map_file(fd, 4 * N) as m:
                    if populate:
                        m.advise(rawmmap.MADV_POPULATE_WRITE)
                    view = m.view()
                    increment(view)
                    view.release()

            ways: list[tuple[str, Callable[[], None]]] = [
                ("pread+pwrite", with_pread),
                ("mmap", lambda: with_mmap(False)),
            ]
            if hasattr(rawmmap, "MADV_POPULATE_WRITE"):
                ways.append(("mmap+MADV_POPULATE_WRITE", lambda: with_mmap(True)))
            for name, fn in ways * ROUNDS:  # interleaved; the fastest round of each counts
                with rawmmap.trace(file=None) as calls, rawmmap.fault_counts() as counted:
                    start = time.perf_counter()
                    fn()
                    took = time.perf_counter() - start
                if took < times.get(name, float("inf")):
                    times[name], faults[name] = took, counted.minor + counted.major
                shown[name] = calls
            final = array.array("I", os.pread(fd, 4 * N, 0))
        finally:
            os.close(fd)
    runs = ROUNDS * len(times)
    lesson.aside("pread(fd, buf, {n}, 0) ... pwrite(fd, buf, {n}, 0)  (os.pread/os.pwrite)",
                 n=4 * N)  # fmt: skip
    lesson.calls += shown.get("mmap+MADV_POPULATE_WRITE", shown["mmap"])
    if not numpy:
        lesson.saw("numpy is not installed, so each path adds 1 with a Python loop; that loop "
                   "takes nearly all the time below and hides the copies and faults being "
                   "compared. `pip install numpy` (or '.[test]') to see them.")  # fmt: skip
    base = times["pread+pwrite"]
    for name, took in times.items():
        if name == "pread+pwrite":
            lesson.saw("{name}: {ms:.2f} ms, {faults} page faults",
                       name=name, ms=took * 1e3, faults=faults[name])  # fmt: skip
        else:
            how, ratio = compared(base, took)
            lesson.saw("{name}: {ms:.2f} ms, {faults} page faults ({how})", name=name,
                       ms=took * 1e3, faults=faults[name],
                       how=words(how, ratio=ratio))  # fmt: skip
    lesson.saw("the timing is shown, not checked here: `python -m benchmarks p2` measures it "
               "with C alongside")  # fmt: skip
    lesson.check("every path incremented every integer ({runs} runs: +{runs} each)",
                 final[0] == runs and final[-1] == N - 1 + runs, runs=runs)  # fmt: skip
