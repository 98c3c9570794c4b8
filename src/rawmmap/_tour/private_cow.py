"""Lesson 3 — MAP_PRIVATE is copy-on-write (docs/design.md, behaviour 3)."""

from __future__ import annotations

import rawmmap

from ._lesson import PAGE, Lesson, make_file, scratch

TITLE = "MAP_PRIVATE is copy-on-write"
WHAT = "Write through a MAP_PRIVATE mapping of a file, msync, and compare."
WHY = (
    "The first write to a private page copies it; the copy belongs to this mapping only. "
    "msync has nothing to write back: the file and other mappers keep the old bytes."
)
READ = ["mmap(2) (MAP_PRIVATE)", "msync(2)"]


def run(lesson: Lesson) -> None:
    with scratch() as d, rawmmap.trace(file=None) as calls:
        path = make_file(d, "cow", b"original".ljust(PAGE, b"\0"))
        with rawmmap.map_file(path, flags=rawmmap.MAP_PRIVATE) as mine, \
                rawmmap.map_file(path) as other:  # fmt: skip
            mine[0:8] = b"modified"
            mine.sync()
            seen_mine, seen_other = mine[0:8], other[0:8]
        with open(path, "rb") as f:
            on_disk = f.read(8)
    lesson.calls += calls
    lesson.saw("the private mapping reads {mine!r}; a shared mapper reads {other!r}; "
               "the file holds {disk!r} even after msync",
               mine=seen_mine, other=seen_other, disk=on_disk)  # fmt: skip
    lesson.check("the writer sees its write", seen_mine == b"modified")
    lesson.check("other mappers and the file keep the old bytes",
                 seen_other == b"original" and on_disk == b"original")  # fmt: skip
