"""Lesson 3 — MAP_PRIVATE is copy-on-write (docs/design.md, behaviour 3)."""

from __future__ import annotations

import os

import rawmmap

from ._lesson import PAGE, Lesson, make_file, scratch

TITLE = "MAP_PRIVATE is copy-on-write"
WHAT = (
    "Write through a MAP_PRIVATE mapping of a file, msync, and compare; then fork and watch "
    "the child's write split a shared page in two."
)
WHY = (
    "The first write to a private page copies it; the copy belongs to this mapping only. "
    "msync has nothing to write back: the file and other mappers keep the old bytes. fork "
    "uses the same trick: parent and child share every private page, read-only, until one "
    "of them writes; only that page is copied."
)
READ = ["mmap(2) (MAP_PRIVATE)", "msync(2)", "fork(2) (copy-on-write)",
        "proc(5) (/proc/PID/pagemap)"]  # fmt: skip
SPLIT = (
    "after fork parent and child map the same {what}; after the child writes page 0 it has "
    "its own"
)
NOT_SHOWN = "the child could not read its parent's /proc/PID/pagemap ({error})"

Seen = list[rawmmap.PageInfo]


def child_writes(address: int, length: int) -> tuple[Seen, Seen, Seen, Seen]:
    """In the forked child: both processes' pages, before and after the child's write."""
    parent = os.getppid()
    before = rawmmap.pages(address, length, pid=parent), rawmmap.pages(address, length)
    rawmmap.write(address, b"child")
    after = rawmmap.pages(address, length, pid=parent), rawmmap.pages(address, length)
    return (*before, *after)


def frames(seen: Seen) -> str:
    """The pages' physical frame numbers: "0x12ebef, 0x12e991" ("hidden" without root)."""
    return ", ".join("hidden" if p.pfn is None else f"{p.pfn:#x}" for p in seen)


def exclusive(seen: Seen) -> str:
    """The pages' exclusive bits: "yes, no"."""
    return ", ".join("yes" if p.exclusive else "no" for p in seen)


def fork_and_write(lesson: Lesson) -> None:
    """The second part: after fork both processes share the frames; a write splits one."""
    with rawmmap.map_anonymous(2 * PAGE) as m:
        m.advise(rawmmap.MADV_NOHUGEPAGE)
        m[0] = m[PAGE] = 1  # both pages get a frame of this process
        try:
            parent0, child0, parent1, child1 = rawmmap.run_isolated(
                child_writes, m.address, m.length).returned  # fmt: skip
        except PermissionError as exc:
            lesson.not_applicable(SPLIT, NOT_SHOWN, what="frames", error=exc)
            return
    pfns = all(p.pfn is not None for p in parent0 + child0 + parent1 + child1)
    lesson.saw("after fork (both pages written before it): parent's frames {p_pfn}, child's "
               "{c_pfn}; exclusive in the parent {p_excl}, in the child {c_excl}",
               p_pfn=frames(parent0), c_pfn=frames(child0), p_excl=exclusive(parent0),
               c_excl=exclusive(child0))  # fmt: skip
    lesson.saw("after the child writes page 0: parent's frames {p_pfn}, child's {c_pfn}; "
               "exclusive in the parent {p_excl}, in the child {c_excl}",
               p_pfn=frames(parent1), c_pfn=frames(child1), p_excl=exclusive(parent1),
               c_excl=exclusive(child1))  # fmt: skip
    lesson.pages("Copy-on-write after fork: both processes map the same frames until the child "
                 "writes page 0 — then page 0 is copied to a new frame for the child, page 1 "
                 "stays shared", [("parent, after fork", parent0), ("child, after fork", child0),
                                  ("parent, after the child's write", parent1),
                                  ("child, after its write to page 0", child1)],
                 labels=True)  # fmt: skip
    shared = not any(p.exclusive for p in parent0 + child0)
    split = [p.exclusive for p in parent1] == [p.exclusive for p in child1] == [True, False]
    lesson.check("after fork neither process has a page to itself (exclusive bit clear)", shared)
    lesson.check("the child's write gives page 0 back to each process alone (exclusive), page "
                 "1 stays shared", split)  # fmt: skip
    if not pfns:
        lesson.not_applicable(SPLIT, "the kernel shows physical frame numbers to root only "
                              "(CAP_SYS_ADMIN); the exclusive bits above tell the same story",
                              what="frames")  # fmt: skip
        return
    same = [p.pfn for p in parent0] == [p.pfn for p in child0]
    moved = parent1[0].pfn == parent0[0].pfn != child1[0].pfn and parent1[1].pfn == child1[1].pfn
    lesson.check(SPLIT, same and moved, what="physical frames (equal PFNs)")


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
    with rawmmap.trace(file=None) as calls:
        fork_and_write(lesson)
    lesson.calls += calls
