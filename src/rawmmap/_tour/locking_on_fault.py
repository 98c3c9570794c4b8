"""Lesson 13 — Locking on fault (docs/design.md, behaviour 13)."""

from __future__ import annotations

import errno
import resource

import rawmmap

from ._lesson import PAGE, Lesson, bar, vm_status

TITLE = "Locking on fault"
WHAT = (
    "Lock {pages} fresh pages with mlock and {pages} with mlock2(MLOCK_ONFAULT); touch pages "
    "{touched} of the second; compare residency and VmLck."
)
WHY = (
    "mlock faults every page in at once and keeps it in RAM. MLOCK_ONFAULT only marks the "
    "range locked: a page comes in (and then stays) at its first touch. VmLck counts the whole "
    "range at once either way: RLIMIT_MEMLOCK limits what may be locked, not what is resident."
)
READ = ["mlock(2) (mlock2, MLOCK_ONFAULT)", "mincore(2)", "proc(5) (VmLck)"]
LIMITED = (
    "RLIMIT_MEMLOCK is {limit} bytes here and this lesson locks {size}. Raise the limit "
    "(`ulimit -l {kib}` in the shell, in kB; beyond the hard limit only root can) or run as root."
)
NO_MLOCK2 = "The C library rawmmap was built with has no mlock2 (glibc has it since 2.27)."

PAGES = 16
TOUCHED = (0, 5, 6)  # the pages of the MLOCK_ONFAULT mapping the lesson writes to
VALUES = {"pages": PAGES, "touched": ", ".join(map(str, TOUCHED))}
EAGER = "mlock makes every page resident at once"
LAZY = "MLOCK_ONFAULT faults nothing in"
TOUCH = "with MLOCK_ONFAULT exactly the touched pages are resident"
COUNTED = "VmLck counts the whole range at once, with or without MLOCK_ONFAULT"


def fresh_mapping() -> rawmmap.Mapping:
    m = rawmmap.map_anonymous(PAGES * PAGE)
    # one page per fault: no (multi-size) transparent huge pages for this lesson
    if hasattr(rawmmap, "MADV_NOHUGEPAGE"):
        m.advise(rawmmap.MADV_NOHUGEPAGE)
    return m


def locked_kib() -> int:
    return vm_status().get("VmLck", 0) // 1024


def run(lesson: Lesson) -> None:
    if not hasattr(rawmmap, "mlock2"):
        lesson.not_applicable(LAZY, NO_MLOCK2)
        return
    with rawmmap.trace(file=None) as calls, fresh_mapping() as eager, fresh_mapping() as lazy:
        before = locked_kib()
        try:
            eager.lock()  # mlock
            after_mlock = locked_kib()
            rawmmap.mlock2(lazy.address, lazy.length, rawmmap.MLOCK_ONFAULT)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ENOMEM, errno.EPERM):
                raise
            limit, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
            lesson.saw("locking {pages} pages: {error}", pages=PAGES, error=exc)
            values = {"limit": limit, "size": 2 * PAGES * PAGE,
                      "kib": before + 2 * PAGES * PAGE // 1024}  # fmt: skip
            lesson.not_applicable(EAGER, LIMITED, **values)
            lesson.not_applicable(LAZY, LIMITED, **values)
            lesson.not_applicable(TOUCH, LIMITED, **values)
            lesson.not_applicable(COUNTED, LIMITED, **values)
            lesson.calls += calls
            return
        after_onfault = locked_kib()
        untouched = lazy.residency()
        before_touch = rawmmap.pages(lazy.address, lazy.length)
        for page in TOUCHED:
            lazy[page * PAGE] = 1
        touched = lazy.residency()
        everything = eager.residency()
        lesson.pages("mlock against mlock2(MLOCK_ONFAULT): both locked, only touched pages "
                     "in RAM", [("mlock", rawmmap.pages(eager.address, eager.length)),
                                ("MLOCK_ONFAULT", before_touch),
                                ("MLOCK_ONFAULT, pages {touched} written",
                                 rawmmap.pages(lazy.address, lazy.length))],
                     touched=VALUES["touched"])  # fmt: skip
    lesson.calls += calls
    lesson.saw("mlock, {pages} pages never touched: [{bar}] {resident}/{pages} resident; VmLck "
               "+{kib} kB", pages=PAGES, bar=bar(everything), resident=sum(everything),
               kib=after_mlock - before)  # fmt: skip
    lesson.saw("mlock2(MLOCK_ONFAULT), {pages} pages: [{bar}] {resident}/{pages} resident; "
               "VmLck +{kib} kB", pages=PAGES, bar=bar(untouched), resident=sum(untouched),
               kib=after_onfault - after_mlock)  # fmt: skip
    lesson.saw("after writing to pages {touched}: [{bar}] {resident}/{pages} resident",
               touched=VALUES["touched"], bar=bar(touched), resident=sum(touched),
               pages=PAGES)  # fmt: skip
    range_kib = PAGES * PAGE // 1024
    lesson.check(EAGER, all(everything))
    lesson.check(LAZY, not any(untouched))
    lesson.check(TOUCH, [i for i, r in enumerate(touched) if r] == list(TOUCHED))
    lesson.check(COUNTED, after_mlock - before == after_onfault - after_mlock == range_kib)
