"""What the kernel says about a process's memory: VMAs, residency, faults, locked pages.

Sources: ``/proc/PID/maps`` (proc(5)), ``mincore(2)``, ``getrusage(2)``
(``ru_minflt``/``ru_majflt``) and ``/proc/PID/status`` (``VmRSS``, ``VmLck``).
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import _raw
from ._constants import VALUES

__all__ = [
    "VMA", "FaultCounts", "Residency", "fault_counts", "file_residency", "status", "vma_for",
    "vmas",
]  # fmt: skip

_PAGE = _raw.page_size()


@dataclass(frozen=True, repr=False)
class VMA:
    """One line of ``/proc/PID/maps``: a virtual memory area."""

    start: int
    end: int
    perms: str  # e.g. "rw-p": read, write, execute, p(rivate) or s(hared)
    offset: int
    dev: str  # "major:minor" of the file's device, "00:00" for anonymous memory
    inode: int
    path: str  # verbatim, e.g. "/dev/zero (deleted)", "[heap]", "" for anonymous

    @property
    def size(self) -> int:
        """Length in bytes."""
        return self.end - self.start

    def __repr__(self) -> str:  # addresses and offset in hex, as /proc/PID/maps and pmap
        return (
            f"VMA(start={self.start:#x}, end={self.end:#x}, perms={self.perms!r}, "
            f"offset={self.offset:#x}, dev={self.dev!r}, inode={self.inode}, path={self.path!r})"
        )

    def __contains__(self, address: object) -> bool:
        return isinstance(address, int) and self.start <= address < self.end

    @property
    def kind(self) -> str:
        """What the area is, in words: the file, ``[heap]``, ``[stack]``, or ``anonymous``."""
        if self.path:
            return self.path
        return "anonymous" if self.inode == 0 else f"inode {self.inode}"

    def line(self) -> str:
        """The line as the kernel printed it (without the column padding)."""
        return (
            f"{self.start:08x}-{self.end:08x} {self.perms} {self.offset:08x} {self.dev} "
            f"{self.inode} {self.path}"
        ).rstrip()


def _parse(line: str) -> VMA:
    fields = line.split(maxsplit=5)
    start, end = (int(x, 16) for x in fields[0].split("-"))
    path = fields[5] if len(fields) > 5 else ""
    return VMA(start, end, fields[1], int(fields[2], 16), fields[3], int(fields[4]), path)


def vmas(pid: int | None = None) -> list[VMA]:
    """The VMAs of a process (default: this one), from ``/proc/PID/maps``."""
    where = "self" if pid is None else str(int(pid))
    with open(f"/proc/{where}/maps", encoding="utf-8", errors="surrogateescape") as f:
        return [_parse(line.rstrip("\n")) for line in f if line.strip()]


def vma_for(address: int, pid: int | None = None) -> VMA | None:
    """The VMA holding ``address``, or None when nothing is mapped there."""
    for vma in vmas(pid):
        if address in vma:
            return vma
    return None


@dataclass
class FaultCounts:
    """Page faults counted by :func:`fault_counts` (filled in when the block ends)."""

    minor: int = 0
    major: int = 0


_WHO = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)


@contextmanager
def fault_counts() -> Iterator[FaultCounts]:
    """Count the minor and major page faults of the block (this thread, via getrusage(2))."""
    counts = FaultCounts()
    before = resource.getrusage(_WHO)
    try:
        yield counts
    finally:
        after = resource.getrusage(_WHO)
        counts.minor = after.ru_minflt - before.ru_minflt
        counts.major = after.ru_majflt - before.ru_majflt


def status(pid: int | None = None) -> dict[str, int]:
    """The ``Vm*`` lines of ``/proc/PID/status`` in bytes (``VmRSS``, ``VmLck``, ...)."""
    where = "self" if pid is None else str(int(pid))
    out: dict[str, int] = {}
    with open(f"/proc/{where}/status", encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            parts = value.split()
            if key.startswith(("Vm", "Rss")) and len(parts) == 2 and parts[1] == "kB":
                out[key] = int(parts[0]) * 1024
    return out


@dataclass(frozen=True)
class Residency:
    """Which pages of a file are in the page cache."""

    path: str
    size: int
    pages: list[bool]

    @property
    def resident(self) -> int:
        return sum(self.pages)

    @property
    def total(self) -> int:
        return len(self.pages)


def file_residency(path: str | os.PathLike[str]) -> Residency:
    """Page-cache residency of a file, like vmtouch: map it read-only and ask mincore(2)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return Residency(os.fsdecode(path), 0, [])
        addr = _raw.mmap(0, size, VALUES["PROT_READ"], VALUES["MAP_SHARED"], fd, 0)
        try:
            vec = _raw.mincore(addr, size)
        finally:
            _raw.munmap(addr, size)
    finally:
        os.close(fd)
    return Residency(os.fsdecode(path), size, [bool(b & 1) for b in vec])


def bar(pages: list[bool], width: int = 40) -> str:
    """A residency bar: one cell per group of pages, '#' resident, '.' not, '+' partly."""
    if not pages:
        return ""
    cells = []
    per = max(1, -(-len(pages) // width))
    for i in range(0, len(pages), per):
        group = pages[i : i + per]
        cells.append("#" if all(group) else "." if not any(group) else "+")
    return "".join(cells)
