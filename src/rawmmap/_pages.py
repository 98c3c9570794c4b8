"""Every page's state as the kernel tells a process: ``/proc/PID/pagemap``, ``/proc/kpageflags``.

``/proc/PID/pagemap`` holds one 64-bit entry per virtual page of the process
(proc(5); the kernel's ``Documentation/admin-guide/mm/pagemap.rst``)::

    bit 63      page present (mapped to a physical frame)
    bit 62      page swapped out
    bit 61      file page, or shared anonymous memory (shmem)
    bit 56      page exclusively mapped (by this process only)
    bit 55      PTE soft-dirty (written since the last clear_refs "4")
    bits 0-54   the page frame number (PFN) when present — zero unless the
                reader has CAP_SYS_ADMIN (Linux 4.2+), which we report as None

No system header defines this layout (it is an ABI of ``/proc``, documented
only in the kernel's text), so the bit numbers are written once, here, with
that reference.  ``/proc/kpageflags`` holds one 64-bit word of page flags per
PFN (root only); their names and bit numbers come from the uapi header
``<linux/kernel-page-flags.h>`` at build time (``KPF_*`` in ``_build.py``).
A bit that header does not name (the kernel's unstable bits 32 and up, or a
build machine without the header) is shown as ``bit<N>``, never guessed.
"""

from __future__ import annotations

import operator
import os
import struct
from dataclasses import asdict, dataclass
from typing import Any

from . import _raw
from ._access import write
from ._constants import VALUES

__all__ = [
    "STATES", "PageInfo", "clear_soft_dirty", "flag_names", "pages", "soft_dirty_works", "text_row",
]  # fmt: skip

_PAGE = _raw.page_size()

# pagemap entry bits (pagemap.rst; see the module docstring for why they are here)
_PM_PRESENT = 1 << 63
_PM_SWAPPED = 1 << 62
_PM_FILE_OR_SHARED = 1 << 61
_PM_EXCLUSIVE = 1 << 56
_PM_SOFT_DIRTY = 1 << 55
_PM_PFN_MASK = (1 << 55) - 1
_ENTRY = 8  # bytes per pagemap / kpageflags word

#: bit number -> name ("LRU", "ANON", ...) from <linux/kernel-page-flags.h>
KPF_NAMES: dict[int, str] = {v: n[4:] for n, v in VALUES.items() if n.startswith("KPF_")}


def flag_names(kflags: int) -> str:
    """A ``/proc/kpageflags`` word as names, lowest bit first: ``"UPTODATE|LRU|MMAP|ANON"``."""
    names = []
    bit = 0
    while kflags >> bit:
        if kflags >> bit & 1:
            names.append(KPF_NAMES.get(bit, f"bit{bit}"))
        bit += 1
    return "|".join(names)


@dataclass(frozen=True)
class PageInfo:
    """One virtual page as ``/proc/PID/pagemap`` (and ``/proc/kpageflags``) describe it."""

    address: int  # the page's first address
    entry: int  # the raw 64-bit pagemap entry
    present: bool
    swapped: bool
    file_or_shared: bool  # a file page, or shared anonymous memory
    exclusive: bool  # mapped by this process only
    soft_dirty: bool  # written since the last clear_soft_dirty() (CONFIG_MEM_SOFT_DIRTY)
    pfn: int | None  # physical frame number; None when absent or hidden from this reader
    kflags: int | None  # the /proc/kpageflags word; None when unreadable or no PFN
    mapcount: int | None  # /proc/kpagecount: how many times the frame is mapped

    @property
    def flags(self) -> str:
        """The kernel's page flags by name (``"UPTODATE|LRU|MMAP|ANON|SWAPBACKED"``), or ``""``."""
        return "" if self.kflags is None else flag_names(self.kflags)

    @property
    def state(self) -> str:
        """One word for pictures: absent, swapped, zero, file, private or shared.

        ``zero`` is the kernel's shared zero page (a read of untouched anonymous
        memory), known only where ``/proc/kpageflags`` is readable; ``private``
        is anonymous memory mapped by this process only; ``shared`` is anonymous
        memory mapped by several (copy-on-write after fork, or the zero page
        seen without privilege).
        """
        if not self.present:
            return "swapped" if self.swapped else "absent"
        if self.kflags is not None and "ZERO_PAGE" in self.flags.split("|"):
            return "zero"
        if self.file_or_shared:
            return "file"
        return "private" if self.exclusive else "shared"

    def as_dict(self) -> dict[str, Any]:
        """The fields plus ``flags`` and ``state``, for JSON."""
        return {**asdict(self), "flags": self.flags, "state": self.state}


#: state -> (character for text, what it means); the order of legends
STATES: dict[str, tuple[str, str]] = {
    "absent": (".", "not present: never touched, or dropped"),
    "private": ("#", "anonymous, this process only (exclusive)"),
    "shared": ("+", "anonymous, mapped by other processes too (copy-on-write or the zero page)"),
    "zero": ("0", "the kernel's shared zero page (read, never written)"),
    "file": ("f", "a file page, or shared memory"),
    "swapped": ("s", "swapped out"),
}


def text_row(infos: list[PageInfo]) -> str:
    """One character per page (see :data:`STATES`): ``"#.#.0..."``."""
    return "".join(STATES[p.state][0] for p in infos)


def _index(func: str, name: str, value: object) -> int:
    if not hasattr(value, "__index__") or isinstance(value, (str, bytes, bool)):
        raise TypeError(f"{func}(): {name} must be an integer, got {type(value).__name__}")
    return operator.index(value)


def _proc(func: str, pid: object) -> str:
    if pid is None:
        return "/proc/self"
    number = _index(func, "pid", pid)
    if number <= 0:
        raise ValueError(f"{func}(): pid must be a positive process id or None, got {number}")
    return f"/proc/{number}"


def _pread_words(fd: int, first: int, count: int) -> list[int]:
    """``count`` 64-bit words from word index ``first``; missing words (past the end) are 0."""
    want = count * _ENTRY
    data = bytearray()
    while len(data) < want:
        chunk = os.pread(fd, min(want - len(data), 1 << 20), (first * _ENTRY) + len(data))
        if not chunk:
            break
        data += chunk
    data += bytes(want - len(data))
    return list(struct.unpack(f"={count}Q", data))  # native byte order, as the kernel wrote


def _open_or_none(path: str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # root only (and absent without CONFIG_PROC_PAGE_MONITOR)
        return None


def pages(addr: int, length: int, pid: int | None = None) -> list[PageInfo]:
    """Every page overlapping ``[addr, addr + length)`` of process ``pid`` (default: this one).

    Reads ``/proc/PID/pagemap`` (proc(5)) and, for present pages whose PFN the
    kernel shows (CAP_SYS_ADMIN), ``/proc/kpageflags`` and ``/proc/kpagecount``.
    Unmapped addresses come back absent (the kernel reports them as zero
    entries).  Raises ``TypeError``/``ValueError`` for a bad argument before
    reading anything, ``PermissionError`` when the kernel refuses the pagemap
    (another user's process), ``FileNotFoundError`` for a process that is gone.
    """
    start = _index("pages", "addr", addr)
    size = _index("pages", "length", length)
    where = _proc("pages", pid)
    if not 0 <= start < 2**64:
        raise ValueError(f"pages(): addr must be in 0..2**64-1, got {start}")
    if size < 0:
        raise ValueError(f"pages(): length must be >= 0, got {size}")
    if start + size > 2**64:
        raise ValueError(f"pages(): addr + length must not pass 2**64, got {start:#x} + {size}")
    first = start // _PAGE
    count = (-(-(start + size) // _PAGE) - first) if size else 0
    fd = os.open(f"{where}/pagemap", os.O_RDONLY | os.O_CLOEXEC)
    try:
        entries = _pread_words(fd, first, count)
    finally:
        os.close(fd)
    pfns = [e & _PM_PFN_MASK if e & _PM_PRESENT else 0 for e in entries]
    kflags: dict[int, int] = {}
    kcount: dict[int, int] = {}
    if any(pfns):
        for path, into in (("/proc/kpageflags", kflags), ("/proc/kpagecount", kcount)):
            kfd = _open_or_none(path)
            if kfd is None:
                continue
            try:
                for pfn in set(pfns) - {0}:
                    (into[pfn],) = _pread_words(kfd, pfn, 1)
            finally:
                os.close(kfd)
    out = []
    for i, (e, pfn) in enumerate(zip(entries, pfns, strict=True)):
        out.append(
            PageInfo(
                address=(first + i) * _PAGE,
                entry=e,
                present=bool(e & _PM_PRESENT),
                swapped=bool(e & _PM_SWAPPED),
                file_or_shared=bool(e & _PM_FILE_OR_SHARED),
                exclusive=bool(e & _PM_EXCLUSIVE),
                soft_dirty=bool(e & _PM_SOFT_DIRTY),
                pfn=pfn or None,
                kflags=kflags.get(pfn),
                mapcount=kcount.get(pfn),
            )
        )
    return out


def clear_soft_dirty(pid: int | None = None) -> None:
    """Write ``4`` to ``/proc/PID/clear_refs``: clear every soft-dirty bit of the process.

    Afterwards a page's ``soft_dirty`` is set again only when it is written,
    so an experiment can see which pages were written since (proc(5), the
    kernel's ``Documentation/admin-guide/mm/soft-dirty.rst``).  Needs a kernel
    built with ``CONFIG_MEM_SOFT_DIRTY`` to be of use (see
    :func:`soft_dirty_works`); without it the write succeeds and no bit is
    ever set.  Raises ``PermissionError`` for another user's process.
    """
    where = _proc("clear_soft_dirty", pid)
    fd = os.open(f"{where}/clear_refs", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, b"4")
    finally:
        os.close(fd)


def soft_dirty_works() -> bool:
    """Whether this kernel tracks soft-dirty bits (``CONFIG_MEM_SOFT_DIRTY``).

    A page written for the first time is soft-dirty on such a kernel; the
    test writes one fresh anonymous page and looks.
    """
    prot = VALUES["PROT_READ"] | VALUES["PROT_WRITE"]
    addr = _raw.mmap(0, _PAGE, prot, VALUES["MAP_PRIVATE"] | VALUES["MAP_ANONYMOUS"], -1, 0)
    try:
        write(addr, b"\1")
        return pages(addr, 1)[0].soft_dirty
    finally:
        _raw.munmap(addr, _PAGE)
