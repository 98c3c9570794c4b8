"""Lesson 9 — Demand paging and MAP_POPULATE (docs/design.md, behaviour 9)."""

from __future__ import annotations

import rawmmap

from ._lesson import PAGE, Lesson, bar

TITLE = "Demand paging and MAP_POPULATE"
WHAT = "Touch a fresh anonymous mapping page by page, counting faults; then MAP_POPULATE."
WHY = (
    "mmap only reserves addresses: each page is allocated at its first touch, by a (minor) page "
    "fault. MAP_POPULATE takes all those faults inside the mmap call."
)
READ = ["mmap(2) (MAP_POPULATE)", "mincore(2)", "getrusage(2) (ru_minflt)"]

PAGES = 64


def touch_page_by_page(m: rawmmap.Mapping) -> list[int]:
    """Write one byte into each page in turn; the resident count after pages 1 and PAGES/2."""
    steps = []
    for i in range(PAGES):
        rawmmap.touch(m.address + i * PAGE, 1, write=True)
        if i in (0, PAGES // 2 - 1):
            steps.append(sum(m.residency()))
    return steps


def fresh_mapping() -> rawmmap.Mapping:
    m = rawmmap.map_anonymous(PAGES * PAGE)
    # one page per fault: no (multi-size) transparent huge pages for this lesson
    if hasattr(rawmmap, "MADV_NOHUGEPAGE"):
        m.advise(rawmmap.MADV_NOHUGEPAGE)
    return m


def run(lesson: Lesson) -> None:
    # getrusage counts every fault of this thread, the interpreter's own too: run the loop
    # once over a throwaway mapping first, so that Python's memory for it is in place
    with fresh_mapping() as warm_up:
        touch_page_by_page(warm_up)
    with rawmmap.trace(file=None) as calls:
        with fresh_mapping() as m:
            start = m.residency()
            with rawmmap.fault_counts() as faults:
                steps = touch_page_by_page(m)
            end = m.residency()
            lesson.saw("fresh {pages}-page mapping: [{bar}] {resident}/{pages} resident",
                       pages=PAGES, bar=bar(start), resident=sum(start))  # fmt: skip
            lesson.saw("after touching page by page: [{bar}] {resident}/{pages}, {minor} minor "
                       "faults, {major} major", bar=bar(end), resident=sum(end), pages=PAGES,
                       minor=faults.minor, major=faults.major)  # fmt: skip
            if faults.minor > PAGES:
                lesson.saw("the {extra} faults beyond one per page are the interpreter's own: "
                           "getrusage counts every fault of the thread, and Python's memory "
                           "grew during the loop", extra=faults.minor - PAGES)  # fmt: skip
            lesson.check("a fresh mapping costs no memory", sum(start) == 0)
            lesson.check("residency grows page by page", steps == [1, PAGES // 2] and all(end))
            lesson.check("each first touch is a minor fault", faults.minor >= PAGES)
        flags = rawmmap.MAP_PRIVATE | rawmmap.MAP_POPULATE
        with rawmmap.map_anonymous(PAGES * PAGE, flags=flags) as m:
            res = m.residency()
            with rawmmap.fault_counts() as populated:
                rawmmap.touch(m.address, PAGES * PAGE, write=True)
            lesson.saw("MAP_POPULATE: [{bar}] {resident}/{pages} resident before any touch; "
                       "touching them all: {minor} minor faults", bar=bar(res),
                       resident=sum(res), pages=PAGES, minor=populated.minor)  # fmt: skip
            lesson.check("MAP_POPULATE faults everything in at once",
                         all(res) and populated.minor < PAGES // 4)  # fmt: skip
    lesson.calls += calls
