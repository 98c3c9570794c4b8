"""``Mapping``: one mapped range, owned, with guarded access and tracked views.

A Mapping is made by exactly one ``mmap`` call with the arguments given, and
unmapped by exactly one ``munmap`` in :meth:`Mapping.close`.  Indexing,
slicing, :meth:`~Mapping.read` and :meth:`~Mapping.write` go through the
fault guard: a SIGBUS/SIGSEGV becomes :class:`rawmmap.MappingFault` with
``.mapping`` and ``.offset`` set.  :meth:`~Mapping.view` gives a zero-copy
memoryview that is *not* guarded.

Views are tracked the way the standard library's ``mmap`` tracks them: all
views share one buffer exporter, and while anything (a memoryview, a slice of
it, a numpy array made from it) still holds that exporter, :meth:`close`
raises ``BufferError`` instead of unmapping memory still in use.  The exporter
also keeps the Mapping alive, so a Mapping dropped while a view lives is not
unmapped under the view.  Nothing ever touches an address after ``munmap``.
"""

from __future__ import annotations

import operator
import os
import sys
from types import TracebackType
from typing import Any, overload

from . import _access, _atomic, _raw
from ._access import ensure_guard, fault_from_last
from ._constants import (
    VALUES,
    format_addr,
    format_map_flags,
    format_prot,
)
from ._errors import MappingFault
from ._native import ffi, lib

__all__ = ["Mapping", "map_anonymous", "map_file"]

PROT_READ = VALUES["PROT_READ"]
PROT_WRITE = VALUES["PROT_WRITE"]
MAP_PRIVATE = VALUES["MAP_PRIVATE"]
MAP_SHARED = VALUES["MAP_SHARED"]
MAP_ANONYMOUS = VALUES["MAP_ANONYMOUS"]
MS_SYNC = VALUES["MS_SYNC"]
_MREMAP_MAYMOVE = VALUES.get("MREMAP_MAYMOVE", 0)
_PAGE = _raw.page_size()


class Mapping:
    """A range of memory mapped by one ``mmap(addr, length, prot, flags, fd, offset)`` call.

    ``Mapping(length, prot=PROT_READ|PROT_WRITE, flags=MAP_PRIVATE|MAP_ANONYMOUS,
    fd=-1, offset=0, addr=0)`` makes the call with exactly these arguments;
    a refusal raises the raw layer's ``OSError``.  The fd is never closed by
    the Mapping unless it came from :func:`map_file` given a path.

    Indexing covers ``[0, length)``; ``rawmmap.read``/``rawmmap.write`` at
    ``m.address + i`` reach the rest of the last page.  A closed Mapping
    refuses every operation with ``ValueError``.
    """

    address: int
    length: int
    prot: int
    flags: int
    fd: int
    offset: int
    path: str | None

    def __init__(
        self,
        length: int,
        prot: int = PROT_READ | PROT_WRITE,
        flags: int = MAP_PRIVATE | MAP_ANONYMOUS,
        fd: int = -1,
        offset: int = 0,
        addr: int = 0,
    ) -> None:
        self._closed = True  # until mmap succeeds: close() and __del__ are no-ops
        self._exporter: Any = None
        self._owns_fd = False
        self.path = None
        self.address = _raw.mmap(addr, length, prot, flags, fd, offset)
        self.length = int(length)
        self.prot = int(prot)
        self.flags = int(flags)
        self.fd = int(fd)
        self.offset = int(offset)
        self._closed = False

    # -- state -----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has unmapped the range."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("operation on a closed Mapping (it was unmapped)")

    def __len__(self) -> int:
        self._check_open()
        return self.length

    def __repr__(self) -> str:
        if self._closed and not hasattr(self, "length"):
            return "<rawmmap.Mapping (never mapped)>"
        state = " closed" if self._closed else ""
        fd = f" fd={self.fd}" if self.fd >= 0 else ""
        path = f" path={self.path!r}" if self.path else ""
        return (
            f"<rawmmap.Mapping{state} {format_addr(self.address)} length={self.length} "
            f"{format_prot(self.prot)} {format_map_flags(self.flags)}{fd}{path}>"
        )

    # -- guarded access --------------------------------------------------------

    def _fault(self) -> MappingFault:
        return self._claim(fault_from_last())

    def _explain(self, fault: MappingFault) -> str:
        offset = fault.address - self.address
        if fault.code == "BUS_ADRERR" and self.fd >= 0:
            try:
                size = os.fstat(self.fd).st_size
            except OSError:
                return "the page lies beyond the end of the file backing the mapping"
            needed = self.offset + offset - offset % _PAGE + _PAGE
            return (
                f"the page at offset {offset - offset % _PAGE} of the mapping lies beyond the end "
                f"of the backing file (size {size}): ftruncate the file to at least "
                f"{needed} bytes first"
            )
        if fault.code == "SEGV_ACCERR":
            return (
                f"the mapping's protection is {format_prot(self.prot)}, which does not allow "
                "this access (see mprotect(2))"
            )
        if fault.code == "SEGV_MAPERR":
            return "nothing is mapped there any more (unmapped or replaced behind the Mapping)"
        return "the kernel refused the access"

    def _span(self, offset: int, n: int, what: str) -> None:
        if offset.__class__ is not int or n.__class__ is not int:
            offset, n = operator.index(offset), operator.index(n)
        if offset < 0 or n < 0 or offset + n > self.length:
            raise IndexError(
                f"{what}: bytes [{offset}, {offset + n}) are outside the mapping [0, {self.length})"
            )

    def read(self, offset: int, n: int) -> bytes:
        """Copy ``n`` bytes at ``offset`` out of the mapping (guarded)."""
        self._check_open()
        self._span(offset, n, "read")
        if n == 0:
            return b""
        try:
            return _access.read(self.address + offset, n)
        except MappingFault as fault:
            raise self._claim(fault) from None

    def _claim(self, fault: MappingFault) -> MappingFault:
        """Attach this mapping, the offset and the explanation to a fault at its address."""
        fault.mapping, fault.offset = self, fault.address - self.address
        fault.explanation = self._explain(fault)
        return fault

    def write(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` (any bytes-like object) into the mapping at ``offset`` (guarded)."""
        self._check_open()
        src = data if data.__class__ is bytes else ffi.from_buffer(data)
        self._span(offset, len(src), "write")
        ensure_guard()
        if lib.rawmmap_write(self.address + offset, src, len(src)):
            raise self._fault()

    def _index(self, i: int) -> int:
        i = operator.index(i)
        if i < 0:
            i += self.length
        if not 0 <= i < self.length:
            raise IndexError(f"Mapping index {i} out of range [0, {self.length})")
        return i

    @overload
    def __getitem__(self, key: int) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> bytes: ...
    def __getitem__(self, key: int | slice) -> int | bytes:
        if self._closed:
            self._check_open()
        if key.__class__ is slice:
            start, stop, step = key.indices(self.length)
            if step == 1:
                if stop <= start:
                    return b""
                try:
                    return _access.read(self.address + start, stop - start)
                except MappingFault as fault:
                    raise self._claim(fault) from None
            lo, hi = (start, stop) if step > 0 else (stop + 1, start + 1)
            if hi <= lo:
                return b""
            chunk = self.read(lo, hi - lo)
            return chunk[start - lo : (stop - lo if stop - lo >= 0 else None) : step]
        return self.read(self._index(key), 1)[0]  # type: ignore[arg-type]

    def __setitem__(self, key: int | slice, value: int | bytes | bytearray | memoryview) -> None:
        self._check_open()
        if isinstance(key, slice):
            start, stop, step = key.indices(self.length)
            data = bytes(value)
            count = len(range(start, stop, step))
            if len(data) != count:
                raise IndexError(
                    f"Mapping slice assignment is wrong size: {len(data)} bytes for {count} places"
                )
            if step == 1:
                self.write(start, data)
                return
            for position, byte in zip(range(start, stop, step), data, strict=False):
                self.write(position, bytes((byte,)))
            return
        if not isinstance(value, int):
            raise TypeError(f"Mapping item must be an int, got {type(value).__name__}")
        if not 0 <= value < 256:
            raise ValueError(f"byte must be in range(0, 256), got {value}")
        self.write(self._index(key), bytes((value,)))

    # -- atomics (see rawmmap._atomic) -------------------------------------------

    def _atomic(self, func: str, op: int, offset: int, size: int, a: int = 0, b: int = 0) -> int:
        if self._closed:
            self._check_open()
        if offset.__class__ is not int:
            offset = operator.index(offset)
        if not 0 <= offset <= self.length - size:
            raise ValueError(
                f"a {size}-byte slot at offset {offset} is outside the mapping [0, {self.length})"
            )
        try:
            return _atomic.do(func, op, self.address + offset, size, a, b)
        except MappingFault as fault:
            raise self._claim(fault) from None

    def atomic_load(self, offset: int, size: int = 8) -> int:
        """Atomically read the ``size``-byte slot at ``offset`` (aligned; guarded)."""
        return self._atomic("atomic_load", _atomic.LOAD, offset, size)

    def atomic_store(self, offset: int, value: int, size: int = 8) -> None:
        """Atomically write ``value`` to the slot at ``offset``."""
        self._atomic("atomic_store", _atomic.STORE, offset, size, value)

    def atomic_add(self, offset: int, value: int, size: int = 8) -> int:
        """Atomic fetch-and-add at ``offset``: returns the old value."""
        return self._atomic("atomic_add", _atomic.ADD, offset, size, value)

    def atomic_exchange(self, offset: int, value: int, size: int = 8) -> int:
        """Atomically store ``value`` at ``offset``; returns the old value."""
        return self._atomic("atomic_exchange", _atomic.EXCHANGE, offset, size, value)

    def atomic_compare_exchange(
        self, offset: int, expected: int, desired: int, size: int = 8
    ) -> tuple[bool, int]:
        """Store ``desired`` if the slot holds ``expected``; returns (succeeded, observed)."""
        observed = self._atomic("atomic_compare_exchange", _atomic.CAS, offset, size,
                                expected, desired)  # fmt: skip
        return observed == operator.index(expected) & _atomic.MASKS[size], observed

    # -- zero-copy views -------------------------------------------------------

    def _keepalive(self, _pointer: object) -> None:
        """ffi.gc callback: referencing this bound method keeps the Mapping alive."""

    def view(self) -> memoryview:
        """A zero-copy memoryview of ``[0, length)`` — NOT guarded.

        Touching a page beyond the end of the file, or a page whose protection
        forbids the access, through the view (or a numpy array made from it)
        kills the process with SIGBUS/SIGSEGV exactly as C would.  Read-only
        when the mapping lacks ``PROT_WRITE``.  While any view lives,
        :meth:`close` raises ``BufferError``.
        """
        self._check_open()
        if self._exporter is None:
            pointer = ffi.gc(ffi.cast("char *", self.address), self._keepalive)
            self._exporter = ffi.buffer(pointer, self.length)
        mv = memoryview(self._exporter)
        return mv if self.prot & PROT_WRITE else mv.toreadonly()

    def __buffer__(self, flags: int) -> memoryview:
        """PEP 688 (Python 3.12+): ``memoryview(m)`` is :meth:`view`, tracked the same way."""
        return self.view()

    def _views_alive(self) -> bool:
        # references to the exporter: self._exporter, getrefcount's argument, and one
        # per managed buffer of a live view (slices and numpy arrays share those)
        return self._exporter is not None and sys.getrefcount(self._exporter) > 2

    # -- the calls on the whole mapping ---------------------------------------

    def sync(self, flags: int = MS_SYNC, offset: int = 0, length: int | None = None) -> None:
        """``msync`` of ``[offset, offset+length)`` (default: all) with ``flags`` (MS_SYNC).

        The start is rounded down to a page boundary, as msync(2) requires.
        """
        self._check_open()
        if length is None:
            length = self.length - offset
        self._span(offset, length, "sync")
        start = offset - offset % _PAGE
        _raw.msync(self.address + start, length + (offset - start), flags)

    def protect(self, prot: int) -> None:
        """``mprotect`` the whole mapping to ``prot``; ``.prot`` follows."""
        self._check_open()
        _raw.mprotect(self.address, self.length, prot)
        self.prot = int(prot)

    def advise(self, advice: int) -> None:
        """``madvise`` the whole mapping with ``advice`` (``MADV_*``)."""
        self._check_open()
        _raw.madvise(self.address, self.length, advice)

    def lock(self) -> None:
        """``mlock`` the whole mapping (fault every page in and keep it resident)."""
        self._check_open()
        _raw.mlock(self.address, self.length)

    def unlock(self) -> None:
        """``munlock`` the whole mapping."""
        self._check_open()
        _raw.munlock(self.address, self.length)

    def remap(self, new_length: int, *, may_move: bool = True) -> None:
        """``mremap`` to ``new_length`` (``MREMAP_MAYMOVE`` unless ``may_move=False``).

        ``.address`` and ``.length`` follow; data up to the shorter length is
        kept.  Raises ``BufferError`` while views exist (the memory may move
        under them) and the raw layer's ``OSError`` (ENOMEM: cannot grow in
        place without moving).  Growing a ``MAP_SHARED|MAP_ANONYMOUS``
        mapping leaves the new pages beyond its shared object: they SIGBUS.
        """
        self._check_open()
        if self._views_alive():
            raise BufferError("cannot remap a Mapping while views of it exist (release them first)")
        flags = _MREMAP_MAYMOVE if may_move else 0
        self.address = _raw.mremap(self.address, self.length, new_length, flags)
        self.length = int(new_length)
        self._exporter = None

    def residency(self) -> list[bool]:
        """``mincore``: one bool per page, True where the page is resident."""
        self._check_open()
        return [bool(b & 1) for b in _raw.mincore(self.address, self.length)]

    # -- end of life -----------------------------------------------------------

    def close(self) -> None:
        """``munmap`` the range (and close the fd if the Mapping opened it).  Idempotent.

        Raises ``BufferError`` while a view (or anything made from one) is alive.
        """
        if self._closed:
            return
        if self._views_alive():
            raise BufferError("cannot close a Mapping while views of it exist (release them first)")
        self._exporter = None
        self._closed = True
        _raw.munmap(self.address, self.length)
        if self._owns_fd:
            self._owns_fd = False
            os.close(self.fd)

    def __enter__(self) -> Mapping:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Reached only when no view holds the exporter (it references this object).
        if not getattr(self, "_closed", True):
            self._exporter = None
            self._closed = True
            try:
                _raw.munmap(self.address, self.length)
                if self._owns_fd:
                    os.close(self.fd)
            except Exception:  # a finalizer must not raise (e.g. at interpreter shutdown)
                pass


def map_file(
    path_or_fd: str | os.PathLike[str] | int,
    length: int | None = None,
    *,
    offset: int = 0,
    prot: int = PROT_READ | PROT_WRITE,
    flags: int = MAP_SHARED,
    addr: int = 0,
) -> Mapping:
    """Map a file, by path or fd.

    A path is opened read-write (read-only when ``prot`` lacks ``PROT_WRITE``)
    and the fd is closed with the Mapping; an fd is used as is and left open.
    ``length=None`` means the file's size minus ``offset``, or one page when
    that is 0 or less: an empty file is mapped too, and a ``length`` past the
    end of the file is allowed — touching a page wholly beyond EOF is the
    SIGBUS lesson (the standard library refuses both).
    """
    owns = not isinstance(path_or_fd, int)
    if owns:
        mode = os.O_RDWR if prot & PROT_WRITE else os.O_RDONLY
        fd = os.open(path_or_fd, mode | os.O_CLOEXEC)  # type: ignore[arg-type]
    else:
        fd = path_or_fd  # type: ignore[assignment]
    try:
        if length is None:
            size = os.fstat(fd).st_size - offset
            length = size if size > 0 else _PAGE
        mapping = Mapping(length, prot, flags, fd, offset, addr)
    except BaseException:
        if owns:
            os.close(fd)
        raise
    mapping._owns_fd = owns
    mapping.path = os.fsdecode(path_or_fd) if owns else None  # type: ignore[arg-type]
    return mapping


def map_anonymous(
    length: int,
    *,
    prot: int = PROT_READ | PROT_WRITE,
    flags: int = MAP_PRIVATE,
    addr: int = 0,
) -> Mapping:
    """Map anonymous memory: ``MAP_ANONYMOUS`` is added, fd is -1.

    Pass ``flags=MAP_SHARED`` to share the memory with forked children.
    """
    return Mapping(length, prot, flags | MAP_ANONYMOUS, -1, 0, addr)
