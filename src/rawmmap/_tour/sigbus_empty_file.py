"""Lesson 1 — SIGBUS on an empty file (docs/design.md, behaviour 1)."""

from __future__ import annotations

import ctypes
import signal

import rawmmap

from ._lesson import PAGE, Lesson, make_file, raised, scratch

TITLE = "SIGBUS on an empty file"
WHAT = "Map {page} bytes of a new, empty file MAP_SHARED and store one byte."
WHY = (
    "The mapping is {page} bytes but the file has none: no page of the file backs the address, "
    "so the kernel raises SIGBUS (BUS_ADRERR). C dies; rawmmap's guard turns it into "
    "MappingFault. Giving the file a size with ftruncate first makes the page exist."
)
READ = ["mmap(2) (ERRORS: SIGBUS)", "ftruncate(2)"]


def run(lesson: Lesson) -> None:
    with scratch() as d, rawmmap.trace(file=None) as calls:
        path = make_file(d, "empty", b"")
        with rawmmap.map_file(path, PAGE) as m:
            # ctypes.memset is an unguarded store, as C's `*p = 'x'`: it dies, so in a child
            out = rawmmap.run_isolated(ctypes.memset, m.address, ord("x"), 1)
            lesson.saw("a child storing one byte through the mapping: {outcome}",
                       outcome=out.describe())  # fmt: skip
            lesson.check("the child dies of SIGBUS with si_code BUS_ADRERR at the first page",
                         out.signal == signal.SIGBUS and out.code == "BUS_ADRERR"
                         and out.si_addr == m.address)  # fmt: skip

            fault = raised(rawmmap.MappingFault, lambda: m.write(0, b"x"))
            lesson.saw("the same store, guarded, in this process: MappingFault: {fault}",
                       fault=fault)  # fmt: skip
            lesson.check("guarded access raises MappingFault(SIGBUS, BUS_ADRERR)",
                         fault is not None and fault.code == "BUS_ADRERR")  # fmt: skip

            rawmmap.ftruncate(m.fd, PAGE)
            m.write(0, b"x")
            m.sync()
        with open(path, "rb") as f:
            first = f.read(1)
    lesson.calls += calls
    lesson.saw("after ftruncate(fd, {page}) the store works; the file starts with {first!r}",
               first=first)  # fmt: skip
    lesson.check("after ftruncate the write lands in the file", first == b"x")
