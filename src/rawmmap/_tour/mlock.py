"""Lesson 8 — MAP_LOCKED and mlock (docs/design.md, behaviour 8)."""

from __future__ import annotations

import errno
import os
import resource
import sys

import rawmmap

from ._lesson import PAGE, Lesson, bar, vm_status

TITLE = "MAP_LOCKED and mlock"
WHAT = "Map {pages} pages MAP_LOCKED; then mlock beyond RLIMIT_MEMLOCK without privilege."
WHY = (
    "Locked pages are faulted in at once and stay in RAM; they count in VmLck. An unprivileged "
    "process may lock only RLIMIT_MEMLOCK bytes."
)
READ = ["mlock(2)", "getrlimit(2) (RLIMIT_MEMLOCK)", "proc(5) (VmLck)"]
LIMITED = (
    "RLIMIT_MEMLOCK is {limit} bytes here and {locked} are locked already; this part locks "
    "{size} more. Raise the limit (`ulimit -l {kib}` in the shell, in kB; beyond the hard limit "
    "only root can) or run as root."
)

PAGES = 16  # locked with MAP_LOCKED
OVER = 64  # pages the child tries to mlock with a limit of one page
VALUES = {"pages": PAGES}
LIMIT_ERRNOS = (errno.EAGAIN, errno.ENOMEM, errno.EPERM)


def mlock_over_limit(pages: int) -> tuple[int, int]:
    """What the child runs: drop privilege, limit locking to a page, mlock more: (errno, limit)."""
    if os.geteuid() == 0:  # root has CAP_IPC_LOCK, which ignores the limit: become nobody
        os.setgid(65534)
        os.setuid(65534)
    _, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    limit = PAGE if hard == resource.RLIM_INFINITY else min(PAGE, hard)
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (limit, limit))
    with rawmmap.trace(file=sys.stdout), rawmmap.map_anonymous(pages * PAGE) as m:
        try:
            m.lock()
        except OSError as exc:
            return exc.errno or 0, limit
    return 0, limit


def map_locked(lesson: Lesson) -> None:
    """The first part: MAP_LOCKED pages are resident at once and count in VmLck."""
    before = vm_status().get("VmLck", 0)
    flags = rawmmap.MAP_PRIVATE | rawmmap.MAP_LOCKED
    try:
        m = rawmmap.map_anonymous(PAGES * PAGE, flags=flags)
    except OSError as exc:
        limit, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
        need = before + PAGES * PAGE
        if exc.errno not in LIMIT_ERRNOS or limit == resource.RLIM_INFINITY or limit >= need:
            raise
        # an environment limit, not a kernel that misbehaves: say so, and how to lift it
        lesson.saw("MAP_LOCKED, {pages} pages: {error}", pages=PAGES, error=exc)
        values = {"limit": limit, "locked": before, "size": PAGES * PAGE, "kib": -(-need // 1024)}
        lesson.not_applicable("MAP_LOCKED pages are resident at once", LIMITED, **values)
        lesson.not_applicable("locked pages count in VmLck", LIMITED, **values)
        return
    with m:
        resident = m.residency()
        locked = vm_status().get("VmLck", 0) - before
        lesson.saw("MAP_LOCKED, {pages} pages, never touched: residency [{bar}] {resident}/{pages};"
                   " VmLck grew by {kib} kB", pages=PAGES, bar=bar(resident),
                   resident=sum(resident), kib=locked // 1024)  # fmt: skip
        lesson.check("MAP_LOCKED pages are resident at once", all(resident))
        lesson.check("locked pages count in VmLck", locked >= PAGES * PAGE)
        with rawmmap.map_anonymous(PAGES * PAGE) as plain:
            lesson.pages("Both mappings were just made, neither touched: the locked one has all "
                         "its frames at once (as root, hover a cell: UNEVICTABLE)",
                         [("{pages} pages, MAP_PRIVATE", rawmmap.pages(plain.address, plain.length)),
                          ("{pages} pages, MAP_PRIVATE|MAP_LOCKED", rawmmap.pages(m.address,
                                                                                  m.length))],
                         pages=PAGES)  # fmt: skip


def run(lesson: Lesson) -> None:
    with rawmmap.trace(file=None) as calls:
        try:
            map_locked(lesson)
        finally:
            lesson.calls += calls  # a refused mmap is shown too
    out = rawmmap.run_isolated(mlock_over_limit, OVER)
    lesson.child_calls(out.stdout)
    code, limit = out.returned
    lesson.saw("mlock of {over} pages over RLIMIT_MEMLOCK={limit} without privilege: "
               "{name} ({error})", over=OVER, limit=limit,
               name=errno.errorcode.get(code, code), error=os.strerror(code))  # fmt: skip
    lesson.check("mlock over RLIMIT_MEMLOCK fails with EAGAIN/ENOMEM/EPERM", code in LIMIT_ERRNOS)
