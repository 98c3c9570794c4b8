"""Lesson 5 — When data reaches the file (docs/design.md, behaviour 5)."""

from __future__ import annotations

import errno
import os
import signal
import sys

import rawmmap

from ._lesson import PAGE, Lesson, make_file, raised, scratch

TITLE = "When data reaches the file"
WHAT = "A child writes through MAP_SHARED and is killed with SIGKILL; then msync's flags."
WHY = (
    "A store into a shared mapping is a store into the page cache: the file's contents change at "
    "once, for every reader, whatever happens to the process. msync(MS_SYNC) only waits for the "
    "disk; MS_ASYNC schedules; asking for both is EINVAL."
)
READ = ["msync(2)", "mmap(2) (MAP_SHARED)"]

DATA = b"written, then SIGKILL"


def write_then_die(path: str) -> None:
    """What the child runs: map, write, and die at once — no msync, no munmap, no exit."""
    with rawmmap.trace(file=sys.stdout):  # the parent shows these lines as [child] calls
        m = rawmmap.map_file(path)
        m.write(0, DATA)
    os.kill(os.getpid(), signal.SIGKILL)


def run(lesson: Lesson) -> None:
    with scratch() as d, rawmmap.trace(file=None) as calls:
        path = make_file(d, "durable", bytes(PAGE))
        out = rawmmap.run_isolated(write_then_die, path)
        with open(path, "rb") as f:
            got = f.read(len(DATA))
        lesson.child_calls(out.stdout)
        lesson.saw("a child wrote through MAP_SHARED then was {outcome}; the file holds {got!r}",
                   outcome=out.describe(), got=got)  # fmt: skip
        lesson.check("writes of a SIGKILLed process stay in the page cache, so in the file",
                     out.signal == signal.SIGKILL and got == DATA)  # fmt: skip
        with rawmmap.map_file(path) as m:
            m.write(0, b"synced")
            m.sync(rawmmap.MS_SYNC)
            m.sync(rawmmap.MS_ASYNC)
            err = raised(OSError, lambda: m.sync(rawmmap.MS_SYNC | rawmmap.MS_ASYNC))
            lesson.saw("msync(MS_SYNC) waits for the write-back, MS_ASYNC schedules it; "
                       "both together: {error}", error=err)  # fmt: skip
            lesson.check("MS_SYNC|MS_ASYNC is EINVAL",
                         err is not None and err.errno == errno.EINVAL)  # fmt: skip
    lesson.calls += calls
