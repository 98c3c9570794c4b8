"""The raw calls: one Python function per libc function, same name, same arguments.

Each wrapper has the same three beats: hand the arguments to libc unchanged,
read ``ffi.errno`` at once if the call failed, raise ``OSError`` built from it
with the call spelled out as C would write it.  Nothing is adjusted: an
unaligned offset, a length of 0, ``MS_SYNC|MS_ASYNC`` all reach libc, and the
answer is libc's or the kernel's.  Only what C could not even express is
refused before any call: a value of the wrong type (``TypeError``: a float, a
str, None) and an integer outside the C parameter's type (``ValueError``: a
negative length, an address >= 2**64, a flags value beyond a C int).  ``bool``
and integer-like objects (``numpy.int64``) are accepted as C would accept
``true`` or an ``int64_t``.

The type checks cost nothing on the fast path: CFFI converts each argument
and raises ``TypeError``/``OverflowError`` itself; only then is the argument
list examined again to say which one was wrong and why.

*Safety*: the raw layer can crash the process where C would: unmapping memory
Python still uses (``munmap`` of an address you did not map),
``MAP_FIXED`` over a live mapping, ``mprotect`` of the interpreter's own pages,
and then touching them.  The safe layer (``Mapping``, ``read``/``write``)
never does that.
"""

from __future__ import annotations

import errno as _errno
import operator
import os
from collections.abc import Callable

from ._constants import (
    format_addr,
    format_madvise,
    format_map_flags,
    format_mfd_flags,
    format_mremap_flags,
    format_ms_flags,
    format_offset,
    format_prot,
)
from ._errors import call_error
from ._native import ffi, lib

__all__ = [
    "ftruncate", "madvise", "memfd_create", "mincore", "mlock", "mmap", "mprotect",
    "mremap", "msync", "munlock", "munmap", "page_size",
]  # fmt: skip

#: Called as hook(call, result) after every raw call while tracing is on
#: (``rawmmap.trace()`` sets it); ``None`` costs one comparison per call.
trace_hook: Callable[[str, str], None] | None = None

_MAP_FAILED = int(ffi.cast("uintptr_t", -1))

# (lowest, highest) value of each C parameter type used below
_ADDR = ("an address (uintptr_t)", 0, 2**64 - 1)
_SIZE = ("a size_t", 0, 2**64 - 1)
_INT = ("a C int", -(2**31), 2**31 - 1)
_UINT = ("an unsigned int", 0, 2**32 - 1)
_OFF = ("an off_t", -(2**63), 2**63 - 1)


def _bad_argument(
    func: str, spec: tuple[tuple[str, object, tuple[str, int, int]], ...]
) -> Exception:
    """The TypeError/ValueError for the first argument C could not have been given."""
    for name, value, (ctype, low, high) in spec:
        if not hasattr(value, "__index__") or isinstance(value, (str, bytes)):
            return TypeError(
                f"{func}(): {name} must be an integer ({ctype}), "
                f"got {type(value).__name__} {value!r}"
            )
        number = operator.index(value)
        if not low <= number <= high:
            rule = "must be >= 0" if low == 0 and number < 0 else f"must fit in {ctype}"
            return ValueError(f"{func}(): {name} {rule} ({low}..{high}), got {number}")
    return TypeError(f"{func}(): invalid arguments")  # pragma: no cover - CFFI agrees with us


def _failed(call: str, err: int) -> OSError:
    hook = trace_hook
    if hook is not None:
        hook(call, f"-1 {_errno.errorcode.get(err, str(err))} ({os.strerror(err)})")
    return call_error(err, call)


def mmap(addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    """``mmap(addr, length, prot, flags, fd, offset)`` — map a file or memory; returns the address.

    Raises ``OSError`` as the kernel (or glibc) answers: EINVAL (length 0,
    unaligned offset or ``MAP_FIXED`` address, no map type), EBADF, EACCES
    (``PermissionError``), ENODEV, EEXIST (``FileExistsError``, for
    ``MAP_FIXED_NOREPLACE``), ENOMEM, EAGAIN, EPERM.

    *Safety*: ``MAP_FIXED`` silently replaces whatever was mapped at ``addr``,
    including the interpreter's own memory.  Man page: mmap(2).
    """
    try:
        result: int = lib.rawmmap_mmap(addr, length, prot, flags, fd, offset)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "mmap",
            (("addr", addr, _ADDR), ("length", length, _SIZE), ("prot", prot, _INT),
             ("flags", flags, _INT), ("fd", fd, _INT), ("offset", offset, _OFF)),
        ) from None  # fmt: skip
    if result == _MAP_FAILED:
        raise _failed(_mmap_call(addr, length, prot, flags, fd, offset), ffi.errno)
    if trace_hook is not None:
        trace_hook(_mmap_call(addr, length, prot, flags, fd, offset), format_addr(result))
    return result


def _mmap_call(addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> str:
    return (
        f"mmap({format_addr(addr)}, {int(length)}, {format_prot(prot)}, "
        f"{format_map_flags(flags)}, {int(fd)}, {format_offset(offset)})"
    )


def munmap(addr: int, length: int) -> None:
    """``munmap(addr, length)`` — remove the mappings in a range.

    Raises ``OSError``: EINVAL (unaligned address, length 0).  Unmapping a
    range that holds no mapping succeeds, as in C.

    *Safety*: unmapping memory that Python or a library still uses crashes the
    process on its next access.  Man page: munmap(2).
    """
    try:
        result = lib.rawmmap_munmap(addr, length)
    except (TypeError, OverflowError):
        raise _bad_argument("munmap", (("addr", addr, _ADDR), ("length", length, _SIZE))) from None
    if result != 0:
        raise _failed(f"munmap({format_addr(addr)}, {int(length)})", ffi.errno)
    if trace_hook is not None:
        trace_hook(f"munmap({format_addr(addr)}, {int(length)})", "0")


def msync(addr: int, length: int, flags: int) -> None:
    """``msync(addr, length, flags)`` — write a shared mapping's dirty pages to its file.

    Raises ``OSError``: EINVAL (``MS_SYNC|MS_ASYNC``, unknown flags, unaligned
    address), ENOMEM (range not mapped), EBUSY (``MS_INVALIDATE`` of locked
    pages).  Man page: msync(2).
    """
    try:
        result = lib.rawmmap_msync(addr, length, flags)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "msync", (("addr", addr, _ADDR), ("length", length, _SIZE), ("flags", flags, _INT))
        ) from None
    if result != 0 or trace_hook is not None:
        call = f"msync({format_addr(addr)}, {int(length)}, {format_ms_flags(flags)})"
        if result != 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, "0")  # type: ignore[misc]


def mprotect(addr: int, length: int, prot: int) -> None:
    """``mprotect(addr, length, prot)`` — change the access protection of pages.

    Raises ``OSError``: ENOMEM (range not fully mapped), EINVAL (unaligned
    address, bad prot), EACCES (``PermissionError``: e.g. ``PROT_WRITE`` on a
    shared mapping of a file opened read-only).

    *Safety*: removing access from memory Python uses crashes the process on
    its next access.  Man page: mprotect(2).
    """
    try:
        result = lib.rawmmap_mprotect(addr, length, prot)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "mprotect", (("addr", addr, _ADDR), ("length", length, _SIZE), ("prot", prot, _INT))
        ) from None
    if result != 0 or trace_hook is not None:
        call = f"mprotect({format_addr(addr)}, {int(length)}, {format_prot(prot)})"
        if result != 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, "0")  # type: ignore[misc]


def ftruncate(fd: int, length: int) -> None:
    """``ftruncate(fd, length)`` — set a file's size.

    ``length`` is an ``off_t``: a negative length reaches the kernel.

    Raises ``OSError``: EINVAL (negative length, fd not open for writing or not
    a regular file), EBADF, EFBIG, EPERM (sealed memfd).  Man page: ftruncate(2).
    """
    try:
        result = lib.rawmmap_ftruncate(fd, length)
    except (TypeError, OverflowError):
        raise _bad_argument("ftruncate", (("fd", fd, _INT), ("length", length, _OFF))) from None
    if result != 0 or trace_hook is not None:
        # strace prints the length as an unsigned 64-bit number
        call = f"ftruncate({int(fd)}, {int(length) & 0xFFFFFFFFFFFFFFFF})"
        if result != 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, "0")  # type: ignore[misc]


def madvise(addr: int, length: int, advice: int) -> None:
    """``madvise(addr, length, advice)`` — advise the kernel how memory will be used.

    Raises ``OSError``: EINVAL (unknown advice, unaligned address, advice not
    valid for these pages), ENOMEM (range not mapped), EPERM, EAGAIN.
    Man page: madvise(2).
    """
    try:
        result = lib.rawmmap_madvise(addr, length, advice)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "madvise",
            (("addr", addr, _ADDR), ("length", length, _SIZE), ("advice", advice, _INT)),
        ) from None
    if result != 0 or trace_hook is not None:
        call = f"madvise({format_addr(addr)}, {int(length)}, {format_madvise(advice)})"
        if result != 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, "0")  # type: ignore[misc]


def mincore(addr: int, length: int) -> bytes:
    """``mincore(addr, length, vec)`` — which pages are resident; one byte per page, as filled.

    The low bit of each byte is 1 for a resident page; the other bits are
    reserved and returned as the kernel left them.  Raises ``OSError``: EINVAL
    (unaligned address), ENOMEM (range not mapped).  Man page: mincore(2).
    """
    try:
        pages = (int(length) + _PAGE - 1) // _PAGE
        vec = ffi.new("unsigned char[]", max(pages, 1))
        result = lib.rawmmap_mincore(addr, length, vec)
    except (TypeError, OverflowError, ValueError):
        raise _bad_argument("mincore", (("addr", addr, _ADDR), ("length", length, _SIZE))) from None
    if result != 0:
        raise _failed(f"mincore({format_addr(addr)}, {int(length)}, {_vec_addr(vec)})", ffi.errno)
    out = ffi.unpack(vec, pages)
    if trace_hook is not None:
        shown = ", ".join(str(b) for b in out[:32]) + (", ..." if pages > 32 else "")
        trace_hook(f"mincore({format_addr(addr)}, {int(length)}, [{shown}])", "0")
    return bytes(out)


def _vec_addr(vec: object) -> str:
    return format_addr(int(ffi.cast("uintptr_t", vec)))


def mlock(addr: int, length: int) -> None:
    """``mlock(addr, length)`` — lock pages in memory (fault them in and keep them).

    Raises ``OSError``: ENOMEM (range not mapped, or over ``RLIMIT_MEMLOCK``
    without privilege), EPERM, EAGAIN, EINVAL.  Man page: mlock(2).
    """
    try:
        result = lib.rawmmap_mlock(addr, length)
    except (TypeError, OverflowError):
        raise _bad_argument("mlock", (("addr", addr, _ADDR), ("length", length, _SIZE))) from None
    if result != 0 or trace_hook is not None:
        call = f"mlock({format_addr(addr)}, {int(length)})"
        if result != 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, "0")  # type: ignore[misc]


def munlock(addr: int, length: int) -> None:
    """``munlock(addr, length)`` — unlock pages locked by mlock or ``MAP_LOCKED``.

    Raises ``OSError``: ENOMEM (range not mapped), EINVAL.  Man page: mlock(2).
    """
    try:
        result = lib.rawmmap_munlock(addr, length)
    except (TypeError, OverflowError):
        raise _bad_argument("munlock", (("addr", addr, _ADDR), ("length", length, _SIZE))) from None
    if result != 0 or trace_hook is not None:
        call = f"munlock({format_addr(addr)}, {int(length)})"
        if result != 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, "0")  # type: ignore[misc]


def mremap(old_addr: int, old_size: int, new_size: int, flags: int, new_addr: int = 0) -> int:
    """``mremap(old_addr, old_size, new_size, flags, new_addr)`` — grow, shrink or move a mapping.

    Returns the (possibly new) address.  ``new_addr`` is passed always, and
    used by the kernel only with ``MREMAP_FIXED``/``MREMAP_DONTUNMAP``.
    Raises ``OSError``: ENOMEM (cannot grow in place without
    ``MREMAP_MAYMOVE``), EINVAL, EFAULT.

    *Safety*: the old range is gone after a move; ``MREMAP_FIXED`` replaces
    whatever was at ``new_addr``.  Man page: mremap(2).
    """
    try:
        result: int = lib.rawmmap_mremap(old_addr, old_size, new_size, flags, new_addr)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "mremap",
            (("old_addr", old_addr, _ADDR), ("old_size", old_size, _SIZE),
             ("new_size", new_size, _SIZE), ("flags", flags, _INT), ("new_addr", new_addr, _ADDR)),
        ) from None  # fmt: skip
    if result == _MAP_FAILED or trace_hook is not None:
        call = (
            f"mremap({format_addr(old_addr)}, {int(old_size)}, {int(new_size)}, "
            f"{format_mremap_flags(flags)}"
        )
        fixed = _MREMAP_NEW_ADDR & int(flags)
        call += f", {format_addr(new_addr)})" if fixed else ")"
        if result == _MAP_FAILED:
            raise _failed(call, ffi.errno)
        trace_hook(call, format_addr(result))  # type: ignore[misc]
    return result


def memfd_create(name: str | bytes, flags: int = 0) -> int:
    """``memfd_create(name, flags)`` — create an anonymous file; returns its fd.

    ``name`` (str, encoded with the file system encoding, or bytes) is only a
    label shown in ``/proc/PID/fd`` as ``/memfd:NAME``.  Raises ``OSError``:
    EINVAL (name over 249 bytes, unknown flags), EMFILE, ENFILE, ENOMEM.
    A NUL inside the name raises ``ValueError`` (C could not pass it).
    Man page: memfd_create(2).
    """
    if isinstance(name, str):
        raw = os.fsencode(name)
    elif isinstance(name, bytes):
        raw = name
    else:
        raise TypeError(f"memfd_create(): name must be str or bytes, got {type(name).__name__}")
    if b"\0" in raw:
        raise ValueError("memfd_create(): name must not contain a NUL byte")
    try:
        result: int = lib.rawmmap_memfd_create(raw, flags)
    except (TypeError, OverflowError):
        raise _bad_argument("memfd_create", (("flags", flags, _UINT),)) from None
    if result < 0 or trace_hook is not None:
        call = f"memfd_create({_c_string(raw)}, {format_mfd_flags(flags)})"
        if result < 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, str(result))  # type: ignore[misc]
    return result


def _c_string(raw: bytes) -> str:
    """A C string literal as strace prints it: printable ASCII, escapes for the rest."""
    escapes = {ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\t"): "\\t",
               ord("\r"): "\\r", ord("\v"): "\\v", ord("\f"): "\\f"}  # fmt: skip
    out = []
    for i, b in enumerate(raw):
        if b in escapes:
            out.append(escapes[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            following_digit = i + 1 < len(raw) and 0x30 <= raw[i + 1] <= 0x37
            out.append(f"\\{b:03o}" if following_digit else f"\\{b:o}")
    return '"' + "".join(out) + '"'


def page_size() -> int:
    """``sysconf(_SC_PAGESIZE)`` — the size of a page in bytes.  Man page: sysconf(3)."""
    return int(lib.rawmmap_page_size())


_PAGE = page_size()
_MREMAP_NEW_ADDR = lib.MREMAP_FIXED | (
    lib.MREMAP_DONTUNMAP if lib.RAWMMAP_HAS_MREMAP_DONTUNMAP else 0
)
