"""Lesson 9 — Demand paging and MAP_POPULATE (docs/design.md, behaviour 9)."""

from __future__ import annotations

import rawmmap

from ._lesson import PAGE, Lesson, bar

TITLE = "Demand paging and MAP_POPULATE"
WHAT = (
    "Touch a fresh anonymous mapping page by page, counting faults; give the pages back with "
    "MADV_DONTNEED; then MAP_POPULATE."
)
WHY = (
    "mmap only reserves addresses: each page is allocated at its first touch, by a (minor) page "
    "fault. MADV_DONTNEED frees the frames (a private anonymous page then reads as zeros "
    "again). MAP_POPULATE takes all those faults inside the mmap call."
)
READ = ["mmap(2) (MAP_POPULATE)", "madvise(2) (MADV_DONTNEED)", "mincore(2)",
        "getrusage(2) (ru_minflt)", "proc(5) (/proc/PID/pagemap)"]  # fmt: skip

PAGES = 64


def touch_page_by_page(m: rawmmap.Mapping, seen: list[list[rawmmap.PageInfo]]) -> list[int]:
    """Write one byte into each page in turn; the resident count after pages 1 and PAGES/2.

    ``seen`` gets each page's state (pagemap) at those two moments, for the picture.
    """
    steps = []
    for i in range(PAGES):
        rawmmap.touch(m.address + i * PAGE, 1, write=True)
        if i in (0, PAGES // 2 - 1):
            steps.append(sum(m.residency()))
            seen.append(rawmmap.pages(m.address, m.length))
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
        touch_page_by_page(warm_up, [])
    with rawmmap.trace(file=None) as calls:
        with fresh_mapping() as m:
            start = m.residency()
            seen = [rawmmap.pages(m.address, m.length)]
            with rawmmap.fault_counts() as faults:
                steps = touch_page_by_page(m, seen)
            end = m.residency()
            seen.append(rawmmap.pages(m.address, m.length))
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
            lesson.pages("Demand paging: a page gets a physical frame at its first touch, not at "
                         "mmap", [("fresh mapping", seen[0]), ("after touching page 0", seen[1]),
                                  ("after touching pages 0-{half}", seen[2]),
                                  ("after touching all {pages}", seen[3])],
                         half=PAGES // 2 - 1, pages=PAGES)  # fmt: skip
            m[0] = 1  # so that reading a zero afterwards means something
            m.advise(rawmmap.MADV_DONTNEED)
            dropped = rawmmap.pages(m.address, m.length)
            kept = sum(p.present for p in dropped)
            lesson.saw("MADV_DONTNEED over the whole mapping: {kept}/{pages} pages still have a "
                       "frame; the next read of one gives zeros", kept=kept, pages=PAGES)  # fmt: skip
            lesson.pages("MADV_DONTNEED: the frames go back to the kernel, the addresses stay",
                         [("before madvise(MADV_DONTNEED)", seen[3]),
                          ("after", dropped)])  # fmt: skip
            lesson.check("MADV_DONTNEED takes every frame back", kept == 0 and m[0] == 0)
        flags = rawmmap.MAP_PRIVATE | rawmmap.MAP_POPULATE
        with rawmmap.map_anonymous(PAGES * PAGE, flags=flags) as m:
            res = m.residency()
            populated_pages = rawmmap.pages(m.address, m.length)
            with rawmmap.fault_counts() as populated:
                rawmmap.touch(m.address, PAGES * PAGE, write=True)
            lesson.saw("MAP_POPULATE: [{bar}] {resident}/{pages} resident before any touch; "
                       "touching them all: {minor} minor faults", bar=bar(res),
                       resident=sum(res), pages=PAGES, minor=populated.minor)  # fmt: skip
            lesson.pages("MAP_POPULATE: every page has its frame when mmap returns",
                         [("MAP_POPULATE, before any touch", populated_pages)])  # fmt: skip
            lesson.check("MAP_POPULATE faults everything in at once",
                         all(res) and populated.minor < PAGES // 4)  # fmt: skip
    lesson.calls += calls
