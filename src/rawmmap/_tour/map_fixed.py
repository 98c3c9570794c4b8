"""Lesson 7 — MAP_FIXED and MAP_FIXED_NOREPLACE (docs/design.md, behaviour 7).

MAP_FIXED replaces memory, so this lesson uses the raw calls: the safe
``Mapping`` does not place mappings over others.
"""

from __future__ import annotations

import errno

import rawmmap

from ._lesson import PAGE, Lesson, raised

TITLE = "MAP_FIXED and MAP_FIXED_NOREPLACE"
WHAT = "Reserve a range PROT_NONE, place mappings inside it with MAP_FIXED."
WHY = (
    "MAP_FIXED maps exactly at the address and silently unmaps whatever was there; "
    "MAP_FIXED_NOREPLACE refuses with EEXIST. Reserving a PROT_NONE range first and placing "
    "mappings inside it is the safe pattern."
)
READ = ["mmap(2) (MAP_FIXED, MAP_FIXED_NOREPLACE)"]


def run(lesson: Lesson) -> None:
    anon = rawmmap.MAP_PRIVATE | rawmmap.MAP_ANONYMOUS
    rw = rawmmap.PROT_READ | rawmmap.PROT_WRITE
    with rawmmap.trace(file=None) as calls:
        reserve = rawmmap.mmap(0, 4 * PAGE, rawmmap.PROT_NONE, anon, -1, 0)
        try:
            spot = reserve + PAGE
            first = rawmmap.mmap(spot, PAGE, rw, anon | rawmmap.MAP_FIXED, -1, 0)
            rawmmap.write(first, b"A")
            vma = rawmmap.vma_for(spot)
            lesson.saw("reserved 4 pages PROT_NONE, placed a page at +{page} with MAP_FIXED: "
                       "{vma}", vma=vma.line() if vma else "no VMA")  # fmt: skip
            lesson.check("MAP_FIXED maps exactly at the address asked", first == spot)

            second = rawmmap.mmap(spot, PAGE, rw, anon | rawmmap.MAP_FIXED, -1, 0)
            now = rawmmap.read(second, 1)[0]
            lesson.saw("a second MAP_FIXED at the same address silently replaced it: "
                       "byte 0 is now {now} (was {was})", now=now, was=ord("A"))  # fmt: skip
            lesson.check("MAP_FIXED silently replaces what was there", now == 0)

            noreplace = anon | rawmmap.MAP_FIXED_NOREPLACE
            err = raised(OSError, lambda: rawmmap.mmap(spot, PAGE, rw, noreplace, -1, 0))
            lesson.saw("MAP_FIXED_NOREPLACE there instead: {error}", error=err)
            lesson.check("MAP_FIXED_NOREPLACE fails with EEXIST",
                         err is not None and err.errno == errno.EEXIST)  # fmt: skip
        finally:
            rawmmap.munmap(reserve, 4 * PAGE)  # one munmap: the placed pages are inside it
    lesson.calls += calls
