"""Lesson 10 — malloc uses mmap for large blocks (docs/design.md, behaviour 10)."""

from __future__ import annotations

import ctypes

import rawmmap

from ._lesson import PAGE, Lesson

TITLE = "malloc uses mmap for large blocks"
WHAT = "malloc 1 KiB and 1 MiB, and find the VMA of each."
WHY = (
    "glibc serves blocks above M_MMAP_THRESHOLD (128 KiB by default) with their own anonymous "
    "mmap, returned to the kernel by free; small blocks come from the heap."
)
READ = ["malloc(3)", "mallopt(3) (M_MMAP_THRESHOLD)", "proc(5) (/proc/PID/maps)"]

SMALL, BIG = 1024, 1 << 20


def run(lesson: Lesson) -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    small = libc.malloc(SMALL)
    big = libc.malloc(BIG)
    try:
        vs, vb = rawmmap.vma_for(small), rawmmap.vma_for(big)
        lesson.saw("malloc({n}) -> {addr:#x} in {kind}", n=SMALL, addr=small,
                   kind=vs.kind if vs else "?")  # fmt: skip
        lesson.saw("malloc(1 MiB) -> {addr:#x} in its own VMA: {vma} ({kib} kB)", addr=big,
                   vma=vb.line() if vb else "?", kib=(vb.size if vb else 0) // 1024)  # fmt: skip
        lesson.check("a small block comes from the heap", vs is not None and vs.path == "[heap]")
        lesson.check("a large block is a new anonymous mapping",
                     vb is not None and vb.path == "" and vb.inode == 0 and vb.size > BIG)  # fmt: skip
        lesson.address_space("This process's address space, each run of VMAs to scale: the 1 MiB "
                             "block's own VMA is marked in red; the 1 KiB block is inside {kind}",
                             highlight=(vb.start, vb.end) if vb else None,
                             kind=vs.kind if vs else "?")  # fmt: skip
    finally:
        libc.free(big)
        libc.free(small)
    lesson.aside("(glibc calls mmap itself; `strace -e trace=mmap` shows mmap(NULL, {size}, "
                 "PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0))",
                 size=-(-(BIG + 2 * ctypes.sizeof(ctypes.c_size_t)) // PAGE) * PAGE)  # fmt: skip
