"""Lesson 14 — Protection keys (docs/design.md, behaviour 14)."""

from __future__ import annotations

import ctypes
import errno
import sys
import threading

import rawmmap

from ._lesson import PAGE, Lesson, raised

TITLE = "Protection keys"
WHAT = (
    "Tag one page with a protection key; deny the key in one thread with pkey_set; read the "
    "page from that thread and from another."
)
WHY = (
    "A key's rights live in a per-thread CPU register (PKRU on x86), not in the page tables: "
    "pkey_set changes them for the calling thread only, with no system call and no mprotect. "
    "The denied thread gets SIGSEGV with si_code SEGV_PKUERR, not SEGV_ACCERR; the other "
    "thread reads on."
)
READ = ["pkeys(7)", "pkey_alloc(2)", "mprotect(2) (pkey_mprotect)", "glibc manual (pkey_set)",
        "sigaction(2) (si_code)"]  # fmt: skip
NO_KEYS = (
    "This CPU or kernel has no memory protection keys: pkey_alloc answers {error} (x86 needs "
    "'pku' and 'ospke' in /proc/cpuinfo: Intel since Skylake-SP, AMD since Zen 3, and a "
    "hypervisor that passes them through)."
)
NO_CALLS = "The C library rawmmap was built with has no pkey_alloc (glibc has it since 2.27)."

OTHER = "another thread still reads the page"
DENIED = "the denied thread's guarded read is a MappingFault with SEGV_PKUERR"
RAW = "a raw read in that thread dies of SIGSEGV with si_code SEGV_PKUERR, as C does"
NO_MPROTECT = "no mprotect between pkey_set and the reads: the page tables did not change"


def other_thread(
    m: rawmmap.Mapping, key: int, go: threading.Event, seen: dict[str, object]
) -> None:
    """Started before the key is denied: a new thread copies its creator's PKRU."""
    go.wait()
    seen["other_rights"] = rawmmap.pkey_get(key)
    seen["other_read"] = m[0:5]


def two_threads() -> dict[str, object]:
    """What the child runs (the key and the thread's rights stay out of the tour's process)."""
    with rawmmap.trace(file=sys.stdout) as lines:
        try:
            key = rawmmap.pkey_alloc()
        except OSError as exc:
            return {"no_keys": errno.errorcode.get(exc.errno or 0, "?"), "error": str(exc)}
        m = rawmmap.map_anonymous(PAGE)
        m[0:5] = b"hello"
        rawmmap.pkey_mprotect(m.address, PAGE, rawmmap.PROT_READ | rawmmap.PROT_WRITE, key)
        tagged = len(lines)
        go = threading.Event()
        seen: dict[str, object] = {"key": key}
        thread = threading.Thread(target=other_thread, args=(m, key, go, seen))
        thread.start()
        rawmmap.pkey_set(key, rawmmap.PKEY_DISABLE_ACCESS)  # this thread only
        seen["own_rights"] = rawmmap.pkey_get(key)
        fault = raised(rawmmap.MappingFault, lambda: m[0:5])
        seen["fault"] = str(fault)
        seen["fault_code"] = fault.code if fault is not None else None
        go.set()
        thread.join()
        seen["later_calls"] = lines[tagged:]
    # ctypes.string_at is an unguarded load, as C's `*p`; a forked child keeps this thread's PKRU
    raw = rawmmap.run_isolated(ctypes.string_at, m.address, 1)
    seen["raw"], seen["raw_code"] = raw.describe(), raw.code
    return seen


def run(lesson: Lesson) -> None:
    if not hasattr(rawmmap, "pkey_alloc"):
        lesson.not_applicable(DENIED, NO_CALLS)
        return
    out = rawmmap.run_isolated(two_threads, timeout=60)
    lesson.child_calls(out.stdout)
    seen = out.returned
    if not isinstance(seen, dict):
        lesson.check("the child ran the lesson ({outcome})", False, outcome=out.describe())
        return
    if "no_keys" in seen:
        lesson.saw("pkey_alloc fails: {error}", error=seen["error"])
        lesson.not_applicable(OTHER, NO_KEYS, error=seen["no_keys"])
        lesson.not_applicable(DENIED, NO_KEYS, error=seen["no_keys"])
        lesson.not_applicable(RAW, NO_KEYS, error=seen["no_keys"])
        lesson.not_applicable(NO_MPROTECT, NO_KEYS, error=seen["no_keys"])
        return
    lesson.saw("key {key} tags the page; this thread's rights after pkey_set: {own}; the other "
               "thread's: {other}", key=seen["key"], own=seen["own_rights"],
               other=seen["other_rights"])  # fmt: skip
    lesson.saw("the other thread read {data!r}", data=seen["other_read"])
    lesson.saw("this thread, guarded read: {fault}", fault=seen["fault"])
    lesson.saw("this thread, raw read (in a forked child): {outcome}", outcome=seen["raw"])
    later = seen["later_calls"]
    lesson.check(OTHER, seen["other_read"] == b"hello" and seen["other_rights"] == 0)
    lesson.check(DENIED, seen["fault_code"] == "SEGV_PKUERR")
    lesson.check(RAW, seen["raw_code"] == "SEGV_PKUERR")
    lesson.check(NO_MPROTECT, isinstance(later, list) and not any("mprotect(" in c for c in later))
