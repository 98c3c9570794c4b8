"""Lesson 6 — mprotect and the SIGSEGV codes (docs/design.md, behaviour 6)."""

from __future__ import annotations

import ctypes
import errno
import signal

import rawmmap

from ._lesson import PAGE, Lesson, raised

TITLE = "mprotect and the SIGSEGV codes"
WHAT = "Write to a PROT_READ page, read a PROT_NONE page, read an unmapped address."
WHY = (
    "SEGV_ACCERR: a mapping exists but its protection forbids the access. SEGV_MAPERR: nothing "
    "is mapped there. mprotect needs a mapping to change: on a hole it is ENOMEM."
)
READ = ["mprotect(2)", "sigaction(2) (si_code)"]


def run(lesson: Lesson) -> None:
    with rawmmap.trace(file=None) as calls:
        with rawmmap.map_anonymous(PAGE) as m:
            m.protect(rawmmap.PROT_READ)
            # ctypes.memset is an unguarded store, as C's `*p = 1`: it dies, so in a child
            out = rawmmap.run_isolated(ctypes.memset, m.address, 1, 1)
            lesson.saw("writing a PROT_READ page (raw, in a child): {outcome}",
                       outcome=out.describe())  # fmt: skip
            lesson.check("write to PROT_READ: SIGSEGV SEGV_ACCERR",
                         out.signal == signal.SIGSEGV and out.code == "SEGV_ACCERR")  # fmt: skip
            m.protect(rawmmap.PROT_NONE)
            fault = raised(rawmmap.MappingFault, lambda: m[0])
            lesson.saw("reading a PROT_NONE page (guarded): {fault}", fault=fault)
            lesson.check("read of PROT_NONE: SEGV_ACCERR",
                         fault is not None and fault.code == "SEGV_ACCERR")  # fmt: skip

        # a hole we know is unmapped: map two pages, unmap the second
        anon = rawmmap.MAP_PRIVATE | rawmmap.MAP_ANONYMOUS
        hole = rawmmap.mmap(0, 2 * PAGE, rawmmap.PROT_NONE, anon, -1, 0) + PAGE
        rawmmap.munmap(hole, PAGE)
        try:
            # ctypes.string_at is an unguarded load, as C's `*p`
            out = rawmmap.run_isolated(ctypes.string_at, hole, 1)
            lesson.saw("reading an unmapped address (raw, in a child): {outcome}",
                       outcome=out.describe())  # fmt: skip
            lesson.check("unmapped address: SEGV_MAPERR", out.code == "SEGV_MAPERR")
            err = raised(OSError, lambda: rawmmap.mprotect(hole, PAGE, rawmmap.PROT_READ))
            lesson.saw("mprotect of the unmapped page: {error}", error=err)
            lesson.check("mprotect on an unmapped range is ENOMEM",
                         err is not None and err.errno == errno.ENOMEM)  # fmt: skip
        finally:
            rawmmap.munmap(hole - PAGE, PAGE)
    lesson.calls += calls
