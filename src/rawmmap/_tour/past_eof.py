"""Lesson 2 — Past EOF inside the last page (docs/design.md, behaviour 2)."""

from __future__ import annotations

import os
import signal

import rawmmap

from ._lesson import PAGE, Lesson, make_file, raised, scratch

TITLE = "Past EOF inside the last page"
WHAT = "Map a {size}-byte file with length {size} and look beyond byte {size}."
WHY = (
    "Mappings are made of whole pages. The rest of the last page reads as zeros and writes there "
    "never reach the file; a page wholly beyond EOF has nothing behind it: SIGBUS."
)
READ = ["mmap(2) (NOTES: the remaining bytes of a partial page are zeroed)",
        "proc(5) (/proc/PID/pagemap)"]  # fmt: skip

SIZE = 5000  # not a multiple of any page size: the file ends inside a page
VALUES = {"size": SIZE}  # fills {size} in WHAT


def run(lesson: Lesson) -> None:
    pages = -(-SIZE // PAGE)
    end = pages * PAGE  # the end of the last, partial page
    with scratch() as d, rawmmap.trace(file=None) as calls:
        path = make_file(d, "five-thousand", b"\1" * SIZE)
        with rawmmap.map_file(path) as m:
            # m[...] stops at the mapping's length; rawmmap.read reaches the rest of the page
            tail = rawmmap.read(m.address + SIZE, end - SIZE)
            lesson.saw("length {size} maps {pages} pages; bytes {size}..{last} read as {zeros}",
                       size=SIZE, pages=pages, last=end - 1,
                       zeros="all zero" if not any(tail) else "NOT zero")  # fmt: skip
            beyond = SIZE + (end - SIZE) // 2
            rawmmap.write(m.address + beyond, b"z")
            m.sync()
            size = os.path.getsize(path)
            lesson.saw("a write at byte {at} (past EOF, same page): the file's size stays {size}",
                       at=beyond, size=size)  # fmt: skip
            lesson.check("the tail of the last page reads as zeros", not any(tail))
            lesson.check("writes past EOF do not reach the file", size == SIZE)
        with rawmmap.map_file(path, end + PAGE) as m:
            fault = raised(rawmmap.MappingFault, lambda: m[end])
            lesson.saw("reading page {page_no}, wholly beyond EOF: {fault}",
                       page_no=pages, fault=fault)  # fmt: skip
            lesson.check("a page wholly beyond EOF gives SIGBUS",
                         fault is not None and fault.signal == signal.SIGBUS)  # fmt: skip
            rawmmap.touch(m.address, end)  # read every page the file covers
            seen = rawmmap.pages(m.address, m.length)
            lesson.pages("Mapped over {total} pages, a {size}-byte file has frames for {pages}: "
                         "page {page_no}, wholly past EOF, has none — touching it was the SIGBUS",
                         [("the mapping, every page read (the last one tried)", seen)],
                         total=pages + 1, size=SIZE, pages=pages, page_no=pages)  # fmt: skip
            lesson.check("the pages the file covers are file pages; the one past EOF never gets "
                         "a frame", [p.state for p in seen] == ["file"] * pages + ["absent"])  # fmt: skip
    lesson.calls += calls
