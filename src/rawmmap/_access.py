"""Memory access at an address, through the C fault guard.

Every copy here runs inside ``rawmmap_copy`` (see the design comment in
``_csrc/rawmmap.c``): a SIGBUS or SIGSEGV raised by the copy itself becomes a
:class:`rawmmap.MappingFault`; a fault anywhere else is handed to whatever
handler was there before rawmmap (so real crashes stay real).

The handler is installed at the first guarded access (importing rawmmap
changes no signal disposition).  Python's
``faulthandler.enable()`` installs its own handler on top of any other, and
would then report a guarded fault as a fatal error.  Two things keep
rawmmap's handler on top (it chains to faulthandler's for every fault that is
not rawmmap's, so faulthandler still reports real crashes):

* ``faulthandler.enable`` is wrapped, once, when the handler is first
  installed: the original runs, then rawmmap's handler is put back on top;
* each guarded access compares ``faulthandler.is_enabled()`` with the state
  seen last time (one C call, no syscall) and re-installs when it changed,
  for code that kept a reference to the unwrapped ``enable``.
"""

from __future__ import annotations

import faulthandler
import functools
import operator
import signal
from typing import Any

from ._errors import MappingFault
from ._native import ffi, lib

__all__ = ["ensure_guard", "fault_from_last", "read", "read_into", "touch", "write"]

_fh_enabled = faulthandler.is_enabled


def _install() -> bool:
    if lib.rawmmap_guard_install() != 0:  # pragma: no cover - sigaction cannot fail here
        raise OSError(ffi.errno, "sigaction(SIGSEGV/SIGBUS) failed")
    if not getattr(faulthandler.enable, "__rawmmap_wrapped__", False):
        faulthandler.enable = _reinstall_after(faulthandler.enable)
    state = _fh_enabled()
    lib.rawmmap_set_guard_state(1 if state else 0)  # for the builtin read (see below)
    return state


# None until the first guarded access installs the handler: importing rawmmap
# changes no signal disposition; is_enabled() never returns None, so the
# first check below always installs.
_seen_fh_state: bool | None = None


def ensure_guard() -> None:
    """Install the fault handler, or put it back on top if faulthandler changed state."""
    global _seen_fh_state
    if _fh_enabled() is not _seen_fh_state:
        _seen_fh_state = _install()


def _reinstall_after(enable: Any) -> Any:
    @functools.wraps(enable)
    def enable_then_keep_rawmmap_guard(*args: Any, **kwargs: Any) -> Any:
        global _seen_fh_state
        result = enable(*args, **kwargs)
        _seen_fh_state = _install()
        return result

    enable_then_keep_rawmmap_guard.__rawmmap_wrapped__ = True  # type: ignore[attr-defined]
    return enable_then_keep_rawmmap_guard


def _explain(signo: int, code: str) -> str:
    if signo == signal.SIGBUS and code == "BUS_ADRERR":
        return "the page lies beyond the end of the file backing the mapping"
    if code == "SEGV_ACCERR":
        return "the page's protection does not allow this access"
    if code == "SEGV_MAPERR":
        return "no mapping at this address"
    return "the kernel refused the access"


def fault_from_last() -> MappingFault:
    """Build the MappingFault for the fault the guard just caught in this thread."""
    signo = lib.rawmmap_fault_signo()
    code = lib.rawmmap_fault_code()
    fault = MappingFault(signo, code, int(lib.rawmmap_fault_addr()))
    fault.explanation = _explain(signo, fault.code)
    return fault


# Reading into a new bytes object: ``bytes(n)`` (n >= 1) is always a fresh,
# zero-filled object that nothing else references yet, and CFFI passes a bytes
# argument to a ``char *`` parameter as a pointer to its own storage.  Filling
# it there and only then handing it out is what a C extension does with
# PyBytes_FromStringAndSize(NULL, n); it saves an allocation and a second copy
# (P3 measures the difference).  bytes(0) is a shared singleton: never written.


def _read_checked(addr: int, n: int) -> bytes:
    """read(addr, n, /)
    --

    Copy ``n`` bytes from ``addr`` into a new bytes object, guarded.

    A SIGBUS/SIGSEGV during the copy raises :class:`rawmmap.MappingFault`
    (``.signal``, ``.code``, ``.address``); the interpreter is unharmed.
    Unlike ``Mapping`` indexing this reaches any address, e.g. the rest of a
    mapping's last page.
    """
    if n.__class__ is not int or addr.__class__ is not int:
        addr, n = _check("read", addr, n)
    if n < 0:
        raise ValueError(f"read(): n must be >= 0, got {n}")
    if _fh_enabled() is not _seen_fh_state:
        ensure_guard()
    if n == 0:
        return b""
    out = bytes(n)  # filled in place: see the note above
    try:
        failed = lib.rawmmap_read(out, addr, n)
    except OverflowError:
        raise out_of_range("read", addr) from None
    if failed:
        raise fault_from_last()
    return out


# rawmmap.read is the C builtin of section 7 of _csrc/rawmmap.c: it does the
# common case itself and calls _read_checked for everything else.  If it
# cannot be installed, _read_checked serves alone (same behaviour, slower).
read = _read_checked
_READ_DOC_C = (_read_checked.__doc__ or "").encode()  # kept alive: the builtin's ml_doc

lib.rawmmap_install_fast_read(_READ_DOC_C)


def read_into(addr: int, buffer: object) -> int:
    """Fill a writable buffer (bytearray, memoryview, numpy array) from ``addr``, guarded.

    Returns the number of bytes copied (the buffer's size in bytes).
    """
    if addr.__class__ is not int:
        addr, _ = _check("read_into", addr, 0)
    try:
        dst = ffi.from_buffer(buffer, require_writable=True)
    except BufferError:  # as file.readinto() says it
        raise TypeError(
            f"read_into(): buffer must be a writable bytes-like object, got {type(buffer).__name__}"
        ) from None
    if _fh_enabled() is not _seen_fh_state:
        ensure_guard()
    n = len(dst)
    try:
        failed = lib.rawmmap_read(dst, addr, n)
    except OverflowError:
        raise out_of_range("read_into", addr) from None
    if failed:
        raise fault_from_last()
    return n


def write(addr: int, data: bytes | bytearray | memoryview) -> None:
    """Copy ``data`` (any bytes-like object) to ``addr``, guarded (see :func:`read`)."""
    if addr.__class__ is not int:
        addr, _ = _check("write", addr, 0)
    if _fh_enabled() is not _seen_fh_state:
        ensure_guard()
    try:
        if data.__class__ is bytes:
            failed = lib.rawmmap_write(addr, data, len(data))
        else:
            src = ffi.from_buffer(data)
            failed = lib.rawmmap_write(addr, src, len(src))
    except OverflowError:
        raise out_of_range("write", addr) from None
    if failed:
        raise fault_from_last()


def touch(addr: int, length: int, *, write: bool = False, step: int = 0) -> None:
    """Touch one byte per page (or per ``step`` bytes) of a range, guarded.

    A read, or with ``write=True`` an atomic add of zero: a write access that
    changes no data (it breaks copy-on-write and dirties shared pages).
    """
    if addr.__class__ is not int or length.__class__ is not int:
        addr, length = _check("touch", addr, length)
    if length < 0:
        raise ValueError(f"touch(): length must be >= 0, got {length}")
    if _fh_enabled() is not _seen_fh_state:
        ensure_guard()
    try:
        failed = lib.rawmmap_touch(addr, length, step or _PAGE, 1 if write else 0)
    except OverflowError:
        raise out_of_range("touch", addr) from None
    if failed:
        raise fault_from_last()


def out_of_range(func: str, addr: int) -> ValueError:
    return ValueError(f"{func}(): addr must be in 0..2**64-1, got {addr}")


def _check(func: str, addr: object, n: object) -> tuple[int, int]:
    values = []
    for name, value in (("addr", addr), ("n", n)):
        if not hasattr(value, "__index__") or isinstance(value, (str, bytes)):
            raise TypeError(f"{func}(): {name} must be an integer, got {type(value).__name__}")
        values.append(operator.index(value))
    if not 0 <= values[0] < 2**64:
        raise out_of_range(func, values[0])
    return values[0], values[1]


_PAGE = int(lib.rawmmap_page_size())
