"""Memory access at an address, through the C fault guard.

Every access here is a C function of ``rawmmap._core`` (see the design comment
in ``_csrc/core.c``): a SIGBUS or SIGSEGV raised by the access itself becomes
a :class:`rawmmap.MappingFault`; a fault anywhere else is handed to whatever
handler was there before rawmmap (so real crashes stay real).  Before each
access the guard proves itself current (re-installing itself if a
``signal.signal()``, a faulthandler change or a foreign fault displaced it).
Arguments are checked in C with messages that name the function, the
argument and the rule.
"""

from __future__ import annotations

from ._bindings import core

__all__ = ["read", "read_into", "touch", "write"]

#: ``read(addr, n) -> bytes``: copy ``n`` bytes from ``addr``, guarded.
read = core.read
#: ``write(addr, data)``: copy a bytes-like object to ``addr``, guarded.
write = core.write
#: ``read_into(addr, buffer) -> int``: fill a writable buffer from ``addr``, guarded.
read_into = core.read_into


def touch(addr: int, length: int, *, write: bool = False, step: int = 0) -> None:
    """Touch one byte per page (or per ``step`` bytes) of a range, guarded.

    A read, or with ``write=True`` an atomic add of zero: a write access that
    changes no data (it breaks copy-on-write and dirties shared pages).
    """
    core.touch(addr, length, write, step or _PAGE)


_PAGE = __import__("os").sysconf("SC_PAGESIZE")
