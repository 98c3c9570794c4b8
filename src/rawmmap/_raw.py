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
from collections.abc import Callable, Sequence
from typing import Any, SupportsIndex, cast

from ._bindings import ffi, lib
from ._constants import (
    errno_name,
    format_addr,
    format_hex,
    format_madvise,
    format_map_flags,
    format_mcl_flags,
    format_mfd_flags,
    format_mlock2_flags,
    format_mremap_flags,
    format_ms_flags,
    format_offset,
    format_pkey_rights,
    format_prot,
)
from ._errors import call_error

__all__ = [
    "ftruncate", "madvise", "memfd_create", "mincore", "mlock", "mlock2", "mlockall", "mmap",
    "mprotect", "mremap", "msync", "munlock", "munlockall", "munmap", "page_size", "pkey_alloc",
    "pkey_free", "pkey_get", "pkey_mprotect", "pkey_set", "process_madvise",
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


def _failed(call: str, err: int, traced: str | None = None, note: str = "") -> OSError:
    """The OSError for ``call``; ``traced`` is the syscall libc made when it differs.

    ``note`` ends the traced line, e.g. ``/* refused by libc, no syscall */``.
    """
    hook = trace_hook
    if hook is not None:
        hook(traced or call, f"-1 {errno_name(err)} ({os.strerror(err)}){note}")
    return call_error(err, call)


#: glibc (and musl) refuse an mmap offset that is not a multiple of 4096 with EINVAL
#: before any syscall (glibc's MMAP2_PAGE_UNIT, sysdeps/unix/sysv/linux/mmap_internal.h,
#: whatever the page size); strace shows no such call, so the trace line says so.
_LIBC_MMAP_OFFSET_MASK = 4096 - 1
_NO_SYSCALL = " /* refused by libc, no syscall */"


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
        err = ffi.errno
        by_libc = err == _errno.EINVAL and int(offset) & _LIBC_MMAP_OFFSET_MASK
        call = _mmap_call(addr, length, prot, flags, fd, offset)
        raise _failed(call, err, note=_NO_SYSCALL if by_libc else "")
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


def mincore(addr: int, length: int, vec: object = None) -> bytes:
    """``mincore(addr, length, vec)`` — which pages are resident; one byte per page, as filled.

    The low bit of each byte is 1 for a resident page; the other bits are
    reserved and returned as the kernel left them.  ``vec`` is where the
    kernel writes: ``None`` (rawmmap provides the vector), a writable buffer
    of at least one byte per page (``bytearray``, a writable memoryview,
    numpy array), or an int address handed to the kernel as is (0 is NULL) —
    the way to reproduce ``EFAULT``.  Returns the bytes the kernel wrote.

    With ``vec=None`` nothing is allocated before the kernel has checked the
    range: a vector over a MiB (a range over a GiB of pages) is preceded by
    one probing call with a NULL vector, which the kernel answers ``EFAULT``
    once the range is valid (traced as its own line), so a length that wraps
    gets the kernel's ``ENOMEM``, as in C.

    Raises ``OSError``: EINVAL (unaligned address), ENOMEM (range not mapped,
    or beyond the user address space), EFAULT (``vec`` not writable memory);
    ``ValueError`` for a buffer shorter than the page count.

    *Safety*: an int ``vec`` is written by the kernel (it cannot fault, but it
    can overwrite memory Python uses).  Man page: mincore(2).
    """
    try:
        pages = (operator.index(length) + _PAGE - 1) // _PAGE
    except TypeError:
        pages = 0  # CFFI refuses the length below, and _bad_argument says why
    keep: Any = None  # the vector's owner, alive until the call returns
    if vec is None:
        if pages > _MINCORE_EAGER_PAGES:
            _mincore_probe(addr, length)
        try:
            keep = ffi.new("unsigned char[]", max(pages, 1))
        except MemoryError:
            raise MemoryError(
                f"mincore(): no memory for a vector of {pages} bytes (one per page of "
                f"length {length}); pass vec= an int address to hand the kernel any pointer"
            ) from None
        where = int(ffi.cast("uintptr_t", keep))
    elif isinstance(vec, int):
        where = vec  # an address: CFFI checks its range, _bad_argument explains
    else:
        try:
            keep = ffi.from_buffer("unsigned char[]", vec, require_writable=True)
        except (TypeError, BufferError):
            if not hasattr(vec, "__index__"):  # numpy.uint64 is an address, not a buffer
                raise TypeError(
                    "mincore(): vec must be None, a writable buffer or an int address, "
                    f"got {type(vec).__name__}"
                ) from None
            where = operator.index(cast(SupportsIndex, vec))
        else:
            if len(keep) < pages:
                raise ValueError(
                    f"mincore(): vec must hold one byte per page: {pages} for length {length}, "
                    f"got {len(keep)}"
                )
            where = int(ffi.cast("uintptr_t", keep))
    try:
        result = lib.rawmmap_mincore_at(addr, length, where)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "mincore", (("addr", addr, _ADDR), ("length", length, _SIZE), ("vec", where, _ADDR))
        ) from None
    if result != 0:
        raise _failed(
            f"mincore({format_addr(addr)}, {int(length)}, {format_addr(where)})", ffi.errno
        )
    out = bytes(ffi.buffer(ffi.cast("unsigned char *", where), pages)) if pages else b""
    if trace_hook is not None:
        trace_hook(f"mincore({format_addr(addr)}, {int(length)}, {_byte_array(out)})", "0")
    return out


#: Above this many pages, mincore(vec=None) lets the kernel check the range
#: before allocating the vector (see mincore's docstring).
_MINCORE_EAGER_PAGES = 1 << 20


def _mincore_probe(addr: int, length: int) -> None:
    """mincore with a NULL vector: EFAULT means the range is valid; anything else is the answer."""
    try:
        result = lib.rawmmap_mincore_at(addr, length, 0)
    except (TypeError, OverflowError):
        raise _bad_argument("mincore", (("addr", addr, _ADDR), ("length", length, _SIZE))) from None
    call = f"mincore({format_addr(addr)}, {int(length)}, NULL)"
    if result == 0:  # pragma: no cover - the kernel cannot write a vector at NULL
        if trace_hook is not None:
            trace_hook(call, "0")
        return
    err = ffi.errno
    if err != _errno.EFAULT:
        raise _failed(call, err)
    if trace_hook is not None:
        trace_hook(call, f"-1 EFAULT ({os.strerror(_errno.EFAULT)})")


def _byte_array(out: bytes) -> str:
    """A byte vector as strace prints an array: at most 32 members, then ``...``."""
    shown = ", ".join(str(b) for b in out[:32]) + (", ..." if len(out) > 32 else "")
    return f"[{shown}]"


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


def mlock2(addr: int, length: int, flags: int = 0) -> None:
    """``mlock2(addr, length, flags)`` — lock pages in memory; ``MLOCK_ONFAULT`` locks on fault.

    With ``MLOCK_ONFAULT`` nothing is faulted in: pages are locked as they are
    touched (``mincore`` shows them one by one, ``VmLck`` counts the whole
    range at once).  With ``flags == 0`` it is ``mlock`` — and glibc makes the
    ``mlock`` syscall, which is what the trace shows.

    Raises ``OSError``: EINVAL (unknown flags, address + length wraps),
    ENOMEM (range not mapped, or over ``RLIMIT_MEMLOCK`` without privilege),
    EPERM (``RLIMIT_MEMLOCK`` is 0 without ``CAP_IPC_LOCK``), EAGAIN.
    Man page: mlock2(2) (in mlock(2)).
    """
    try:
        result = lib.rawmmap_mlock2(addr, length, flags)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "mlock2", (("addr", addr, _ADDR), ("length", length, _SIZE), ("flags", flags, _UINT))
        ) from None
    if result != 0 or trace_hook is not None:
        call = f"mlock2({format_addr(addr)}, {int(length)}, {format_mlock2_flags(flags)})"
        # glibc built for kernels older than 4.4 turns flags == 0 into the mlock syscall
        traced = f"mlock({format_addr(addr)}, {int(length)})" if int(flags) == 0 else call
        if result != 0:
            raise _failed(call, ffi.errno, traced)
        trace_hook(traced, "0")  # type: ignore[misc]


def mlockall(flags: int) -> None:
    """``mlockall(flags)`` — lock every page of the process (``MCL_CURRENT``, ``MCL_FUTURE``).

    ``MCL_FUTURE`` locks every later mapping too; ``MCL_ONFAULT`` (with one of
    the others) locks pages as they are touched.  Raises ``OSError``: EINVAL
    (flags 0, ``MCL_ONFAULT`` alone, unknown bits), ENOMEM (over
    ``RLIMIT_MEMLOCK``), EPERM (``RLIMIT_MEMLOCK`` is 0 without
    ``CAP_IPC_LOCK``).

    *Safety*: locks the interpreter's memory as well; with ``MCL_FUTURE`` a
    later allocation over the limit fails (``MemoryError`` in Python, or a
    ``mmap`` ``EAGAIN``).  Man page: mlockall(2) (in mlock(2)).
    """
    try:
        result = lib.rawmmap_mlockall(flags)
    except (TypeError, OverflowError):
        raise _bad_argument("mlockall", (("flags", flags, _INT),)) from None
    if result != 0 or trace_hook is not None:
        call = f"mlockall({format_mcl_flags(flags)})"
        if result != 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, "0")  # type: ignore[misc]


def munlockall() -> None:
    """``munlockall()`` — unlock every page of the process and end ``MCL_FUTURE``.

    Cannot fail on Linux; an error would raise ``OSError``.  Man page: munlockall(2).
    """
    result = lib.rawmmap_munlockall()
    if result != 0:  # pragma: no cover - Linux's munlockall always succeeds
        raise _failed("munlockall()", ffi.errno)
    if trace_hook is not None:
        trace_hook("munlockall()", "0")


def pkey_alloc(flags: int = 0, access_rights: int = 0) -> int:
    """``pkey_alloc(flags, access_rights)`` — allocate a protection key; returns the key.

    ``access_rights`` (``PKEY_DISABLE_ACCESS``, ``PKEY_DISABLE_WRITE``) become
    the calling thread's rights for the key; other threads start with the
    rights the kernel gives new keys.  Raises ``OSError``: EINVAL (flags not
    0, unknown rights, or no protection keys in this CPU or kernel), ENOSPC
    (every key allocated — or, on x86 without ``ospke``, every call after the
    first).  Man page: pkey_alloc(2).
    """
    try:
        result: int = lib.rawmmap_pkey_alloc(flags, access_rights)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "pkey_alloc", (("flags", flags, _UINT), ("access_rights", access_rights, _UINT))
        ) from None
    if result < 0 or trace_hook is not None:
        call = f"pkey_alloc({format_hex(flags)}, {format_pkey_rights(access_rights)})"
        if result < 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, str(result))  # type: ignore[misc]
    return result


def pkey_free(pkey: int) -> None:
    """``pkey_free(pkey)`` — free a protection key (pages tagged with it keep the tag).

    Raises ``OSError``: EINVAL (key not allocated, or already freed).
    Man page: pkey_free(2) (in pkey_alloc(2)).
    """
    try:
        result = lib.rawmmap_pkey_free(pkey)
    except (TypeError, OverflowError):
        raise _bad_argument("pkey_free", (("pkey", pkey, _INT),)) from None
    if result != 0 or trace_hook is not None:
        call = f"pkey_free({int(pkey)})"
        if result != 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, "0")  # type: ignore[misc]


def pkey_mprotect(addr: int, length: int, prot: int, pkey: int) -> None:
    """``pkey_mprotect(addr, length, prot, pkey)`` — mprotect and tag the pages with a key.

    ``pkey == -1`` is plain ``mprotect`` (glibc makes the ``mprotect``
    syscall, which is what the trace shows).  Raises ``OSError``: EINVAL (key
    not allocated, unaligned address, bad prot), ENOMEM (range not mapped),
    EACCES.

    *Safety*: as mprotect's; a key that denies access makes the next access
    of the pages a SIGSEGV with ``SEGV_PKUERR``.  Man page: pkey_mprotect(2)
    (in mprotect(2)).
    """
    try:
        result = lib.rawmmap_pkey_mprotect(addr, length, prot, pkey)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "pkey_mprotect",
            (("addr", addr, _ADDR), ("length", length, _SIZE), ("prot", prot, _INT),
             ("pkey", pkey, _INT)),
        ) from None  # fmt: skip
    if result != 0 or trace_hook is not None:
        head = f"{format_addr(addr)}, {int(length)}, {format_prot(prot)}"
        call = f"pkey_mprotect({head}, {int(pkey)})"
        traced = f"mprotect({head})" if int(pkey) == -1 else call
        if result != 0:
            raise _failed(call, ffi.errno, traced)
        trace_hook(traced, "0")  # type: ignore[misc]


def pkey_get(pkey: int) -> int:
    """``pkey_get(pkey)`` — the calling thread's access rights for a key (``PKEY_DISABLE_*``).

    Not a system call: glibc reads the thread's PKRU register, so strace
    never shows it (the trace still does, in the same format).  Raises
    ``OSError``: EINVAL (key outside 0..15).

    *Safety*: on a CPU or kernel without protection keys (no ``ospke`` in
    /proc/cpuinfo) the register read is an illegal instruction: the process
    dies of SIGILL, as a C program does.  Man page: pkeys(7) (and the glibc manual,
    "Memory Protection").
    """
    try:
        result: int = lib.rawmmap_pkey_get(pkey)
    except (TypeError, OverflowError):
        raise _bad_argument("pkey_get", (("pkey", pkey, _INT),)) from None
    if result < 0 or trace_hook is not None:
        call = f"pkey_get({int(pkey)})"
        if result < 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, format_pkey_rights(result))  # type: ignore[misc]
    return result


def pkey_set(pkey: int, access_rights: int) -> None:
    """``pkey_set(pkey, access_rights)`` — set the calling thread's rights for a key.

    Only this thread changes: another thread keeps its own rights (PKRU is
    per thread).  Not a system call (glibc writes PKRU), so strace never shows
    it.  Raises ``OSError``: EINVAL (key outside 0..15, unknown rights).

    *Safety*: as ``pkey_get`` — SIGILL without protection keys; and denying
    access to a key that tags memory Python uses crashes the process on its
    next access.  Man page: pkeys(7) (and the glibc manual, "Memory Protection").
    """
    try:
        result = lib.rawmmap_pkey_set(pkey, access_rights)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "pkey_set", (("pkey", pkey, _INT), ("access_rights", access_rights, _UINT))
        ) from None
    if result != 0 or trace_hook is not None:
        call = f"pkey_set({int(pkey)}, {format_pkey_rights(access_rights)})"
        if result != 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, "0")  # type: ignore[misc]


def process_madvise(pidfd: int, buffers: Sequence[object], advice: int, flags: int = 0) -> int:
    """``process_madvise(pidfd, iov, vlen, advice, flags)`` — madvise another process's memory.

    ``pidfd`` comes from ``os.pidfd_open(pid)`` (its own pid works too);
    ``buffers`` lists the ranges, each an ``(addr, length)`` pair in the
    target's address space, or a buffer object of this process (its address
    and size).  Returns the number of bytes advised, which can be short of the
    total when the kernel stops at a range it cannot advise.

    Raises ``OSError``: EINVAL (advice not allowed here — ``MADV_COLD``,
    ``MADV_PAGEOUT``, ``MADV_WILLNEED``, ``MADV_COLLAPSE`` are — flags not 0,
    more than ``IOV_MAX`` buffers), EBADF (not a pidfd), ESRCH (process gone),
    EPERM (no ``CAP_SYS_NICE`` or ptrace access for another process), ENOMEM
    (a range not mapped), EFAULT.  Man page: process_madvise(2).
    """
    if isinstance(buffers, (str, bytes)) or not isinstance(buffers, Sequence):
        raise TypeError(
            "process_madvise(): buffers must be a list of (addr, length) pairs or buffers, "
            f"got {type(buffers).__name__}"
        )
    iov = ffi.new("struct iovec[]", len(buffers))
    keep = []
    for i, item in enumerate(buffers):
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError(
                    f"process_madvise(): buffers[{i}] must be an (addr, length) pair, "
                    f"got {len(item)} items"
                )
            base, size = item
            try:
                iov[i].iov_base = ffi.cast("void *", base)
                iov[i].iov_len = size
            except (TypeError, OverflowError):
                raise _bad_argument(
                    "process_madvise",
                    ((f"buffers[{i}][0] (addr)", base, _ADDR),
                     (f"buffers[{i}][1] (length)", size, _SIZE)),
                ) from None  # fmt: skip
        else:
            try:
                view = ffi.from_buffer(item)
            except TypeError:
                raise TypeError(
                    f"process_madvise(): buffers[{i}] must be an (addr, length) pair or a "
                    f"buffer, got {type(item).__name__}"
                ) from None
            keep.append(view)
            iov[i].iov_base = view
            iov[i].iov_len = len(view)
    try:
        result: int = lib.rawmmap_process_madvise(pidfd, iov, len(buffers), advice, flags)
    except (TypeError, OverflowError):
        raise _bad_argument(
            "process_madvise",
            (("pidfd", pidfd, _INT), ("advice", advice, _INT), ("flags", flags, _UINT)),
        ) from None
    if result < 0 or trace_hook is not None:
        call = (
            f"process_madvise({int(pidfd)}, {_iovec_array(iov, len(buffers))}, {len(buffers)}, "
            f"{format_madvise(advice)}, {format_hex(flags)})"
        )
        if result < 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, str(result))  # type: ignore[misc]
    return result


def _iovec_array(iov: Any, count: int) -> str:
    """An iovec array as strace prints it: at most 32 members, then ``...``."""
    shown = [
        f"{{iov_base={format_addr(int(ffi.cast('uintptr_t', iov[i].iov_base)))}, "
        f"iov_len={int(iov[i].iov_len)}}}"
        for i in range(min(count, 32))
    ]
    if count > 32:
        shown.append("...")
    return "[" + ", ".join(shown) + "]"


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


def memfd_create(name: str | bytes | int, flags: int = 0) -> int:
    """``memfd_create(name, flags)`` — create an anonymous file; returns its fd.

    ``name`` (str, encoded with the file system encoding, or bytes) is only a
    label shown in ``/proc/PID/fd`` as ``/memfd:NAME``; an int is a pointer
    handed to the kernel as is (0 is NULL, which the kernel answers
    ``EFAULT``).  Raises ``OSError``: EINVAL (name over 249 bytes, unknown
    flags), EFAULT (name not readable), EMFILE, ENFILE, ENOMEM.  A NUL inside
    the name raises ``ValueError`` (C could not pass it).
    Man page: memfd_create(2).
    """
    if isinstance(name, (str, bytes)):
        raw = os.fsencode(name)
        if b"\0" in raw:
            raise ValueError("memfd_create(): name must not contain a NUL byte")
        try:
            result: int = lib.rawmmap_memfd_create(raw, flags)
        except (TypeError, OverflowError):
            raise _bad_argument("memfd_create", (("flags", flags, _UINT),)) from None
        shown = _c_string(raw)
    elif hasattr(name, "__index__"):
        try:
            result = lib.rawmmap_memfd_create_at(name, flags)
        except (TypeError, OverflowError):
            raise _bad_argument(
                "memfd_create", (("name", name, _ADDR), ("flags", flags, _UINT))
            ) from None
        address = operator.index(name)
        # strace shows the string it could read; the kernel has read it when the call worked
        readable = result >= 0 and address != 0
        if readable:
            shown = _c_string(ffi.string(ffi.cast("char *", address)))
        else:
            shown = format_addr(address)
    else:
        kind = type(name).__name__
        raise TypeError(f"memfd_create(): name must be str, bytes or an int address, got {kind}")
    if result < 0 or trace_hook is not None:
        call = f"memfd_create({shown}, {format_mfd_flags(flags)})"
        if result < 0:
            raise _failed(call, ffi.errno)
        trace_hook(call, str(result))  # type: ignore[misc]
    return result


#: strace prints at most this many bytes of a string (its -s option), then "..."
_STRACE_STRING_LIMIT = 32


def _c_string(raw: bytes) -> str:
    """A C string literal as strace prints it: printable ASCII, escapes for the rest.

    Like strace (``-s 32``), at most 32 bytes, then ``"..."`` after the quote.
    """
    more = len(raw) > _STRACE_STRING_LIMIT
    raw = raw[:_STRACE_STRING_LIMIT]
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
    return '"' + "".join(out) + '"' + ("..." if more else "")


def page_size() -> int:
    """``sysconf(_SC_PAGESIZE)`` — the size of a page in bytes.  Man page: sysconf(3)."""
    return int(lib.rawmmap_page_size())


_PAGE = page_size()

#: The calls the C library rawmmap was built with lacks (left out of the API).
UNAVAILABLE: frozenset[str] = frozenset(
    ({"mlock2"} if not lib.RAWMMAP_LIBC_HAS_MLOCK2 else set())
    | (
        {"pkey_alloc", "pkey_free", "pkey_mprotect", "pkey_get", "pkey_set"}
        if not lib.RAWMMAP_LIBC_HAS_PKEYS
        else set()
    )
    | ({"process_madvise"} if not lib.RAWMMAP_LIBC_HAS_PROCESS_MADVISE else set())
)
_MREMAP_NEW_ADDR = lib.MREMAP_FIXED | (
    lib.MREMAP_DONTUNMAP if lib.RAWMMAP_HAS_MREMAP_DONTUNMAP else 0
)
