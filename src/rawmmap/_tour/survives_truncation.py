"""Lesson 15 — How a runtime survives truncation (docs/design.md, behaviour 15)."""

from __future__ import annotations

import os
import signal

import rawmmap

from ._lesson import PAGE, Lesson, make_file, raised, scratch

TITLE = "How a runtime survives truncation"
WHAT = (
    "Map a {pages}-page file, truncate it to one page under the mapping, and add 1 to every byte "
    "through a zero-copy view (numpy when installed), first with on_sigbus='raise', then 'zero'."
)
WHY = (
    "A zero-copy view runs no Python between the access and the fault, so no guard can turn the "
    "SIGBUS into an exception: in C, and in rawmmap's default mode, the process dies. A runtime "
    "can survive instead (the JVM does): its signal handler maps a private page of zeros over the "
    "missing page (mmap with MAP_FIXED) and lets the instruction run again. Nothing is silent: "
    "the pages are recorded, check() raises, and writes into them are lost — once the file is "
    "regrown, repair() maps the file back under the same addresses."
)
READ = ["mmap(2) (MAP_FIXED; ERRORS: SIGBUS)", "sigaction(2) (SA_SIGINFO, BUS_ADRERR)",
        "ftruncate(2)"]  # fmt: skip

PAGES = 4
VALUES = {"pages": PAGES}  # fills {pages} in WHAT


def increment(m: rawmmap.Mapping) -> None:
    """``a += 1`` over the whole mapping through a zero-copy view: unguarded, as C's loop."""
    view = m.view()
    try:
        import numpy as np
    except ImportError:
        for i in range(len(view)):
            view[i] = (view[i] + 1) % 256
    else:
        a = np.frombuffer(view, dtype=np.uint8)
        a += 1
        del a
    view.release()


def run(lesson: Lesson) -> None:
    with scratch() as d, rawmmap.trace(file=None) as calls:
        path = make_file(d, "shrinks", b"\1" * (PAGES * PAGE))
        with rawmmap.map_file(path) as m:
            os.truncate(path, PAGE)
            out = rawmmap.run_isolated(increment, m)
        lesson.saw("on_sigbus='raise', the file cut to one page, a child adds 1: {outcome}",
                   outcome=out.describe())  # fmt: skip
        lesson.check("in 'raise' mode the loop dies of SIGBUS (BUS_ADRERR), as in C",
                     out.signal == signal.SIGBUS and out.code == "BUS_ADRERR")  # fmt: skip

        os.truncate(path, PAGES * PAGE)
        m = rawmmap.map_file(path, on_sigbus="zero")
        os.truncate(path, PAGE)
        increment(m)  # in this very process
        lesson.saw("on_sigbus='zero', the same loop here completes; m.patched = {patched}",
                   patched=m.patched)  # fmt: skip
        lesson.check("the pages past the new end of the file were patched, one record each",
                     [off for off, _ in m.patched] == [p * PAGE for p in range(1, PAGES)])  # fmt: skip
        fault = raised(rawmmap.MappingFault, m.check)
        lesson.saw("m.check(): {fault}", fault=fault)
        lesson.check("check() reports the patches as MappingFault(SIGBUS, BUS_ADRERR)",
                     fault is not None and fault.code == "BUS_ADRERR"
                     and fault.offset == PAGE)  # fmt: skip
        m.sync()
        lesson.check("the writes into patched pages never reached the file (it is one page)",
                     os.path.getsize(path) == PAGE)  # fmt: skip

        with open(path, "r+b") as f:
            f.seek(PAGE)
            f.write(b"\7" * ((PAGES - 1) * PAGE))
        repaired = m.repair()
        tail = m[PAGE : PAGE + 4]
        lesson.saw("the file regrown with 7s, m.repair() = {repaired}; the mapping reads {tail!r} "
                   "at offset {page}, at the same address", repaired=repaired, tail=tail)  # fmt: skip
        lesson.check("after repair() the file's bytes show through the same addresses again",
                     repaired == [p * PAGE for p in range(1, PAGES)] and tail == b"\7" * 4
                     and m.patched == [])  # fmt: skip
        m.close()
    lesson.calls += calls
    lesson.aside("(in the signal handler, not traced: mmap(page, {page}, PROT_READ|PROT_WRITE, "
                 "MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0) once per patched page)")  # fmt: skip
