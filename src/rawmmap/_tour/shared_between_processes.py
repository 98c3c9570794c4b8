"""Lesson 4 — MAP_SHARED between processes (docs/design.md, behaviour 4)."""

from __future__ import annotations

import rawmmap

from ._lesson import PAGE, Lesson, make_file, scratch

TITLE = "MAP_SHARED between processes"
WHAT = "A forked child writes into MAP_SHARED memory (file-backed and anonymous)."
WHY = (
    "MAP_SHARED pages are the same physical pages in every process that maps them (the page "
    "cache for a file); fork keeps sharing them. MAP_PRIVATE pages are copied on write."
)
READ = ["mmap(2) (MAP_SHARED)", "fork(2)"]


def child_writes(m: rawmmap.Mapping, data: bytes) -> None:
    """What the forked child runs: write ``data`` at the start of the mapping."""
    m.write(0, data)


def run(lesson: Lesson) -> None:
    with scratch() as d, rawmmap.trace(file=None) as calls:
        path = make_file(d, "shared", bytes(PAGE))
        with rawmmap.map_file(path) as m:
            out = rawmmap.run_isolated(child_writes, m, b"from the child")
            lesson.saw("a forked child wrote through its MAP_SHARED file mapping; "
                       "the parent reads {seen!r}", seen=m[0:14])  # fmt: skip
            lesson.check("MAP_SHARED file mappings share writes",
                         m[0:14] == b"from the child" and out.exitcode == 0)  # fmt: skip
        with rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED) as shared, \
                rawmmap.map_anonymous(PAGE) as private:  # fmt: skip
            rawmmap.run_isolated(child_writes, shared, b"anon shared")
            rawmmap.run_isolated(child_writes, private, b"anon private")
            lesson.saw("MAP_SHARED|MAP_ANONYMOUS: the parent reads {shared!r}; "
                       "MAP_PRIVATE|MAP_ANONYMOUS: the parent reads {private!r}",
                       shared=shared[0:11], private=private[0:12])  # fmt: skip
            lesson.check("MAP_SHARED|MAP_ANONYMOUS shares memory with a forked child",
                         shared[0:11] == b"anon shared")  # fmt: skip
            lesson.check("MAP_PRIVATE memory is copied on write at fork",
                         private[0:12] == bytes(12))  # fmt: skip
    lesson.calls += calls
