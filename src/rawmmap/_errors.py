"""How rawmmap reports a failure: the kernel's errno, or a caught fault.

A refused call raises the ``OSError`` subclass Python itself would pick for
the errno (``PermissionError`` for EACCES, ``FileExistsError`` for EEXIST, a
plain ``OSError`` for EINVAL, ...) with ``.errno`` and ``.strerror`` as usual.
Its message starts with the call spelled as C (and strace) would write it::

    mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, 3, 0): [Errno 22] Invalid argument

``OSError.__str__`` cannot put text before ``[Errno N]``, so the exception is
an instance of a subclass of that very class (``isinstance(e,
PermissionError)`` holds, ``type(e).__name__`` is ``PermissionError``) whose
only change is ``__str__``; it keeps the call in ``.call`` and pickles.
"""

from __future__ import annotations

import errno
import os
import signal
from typing import Any

from ._constants import si_code_name

_CALL_ERROR_TYPES: dict[type[OSError], type[OSError]] = {}


def _str_with_call(self: OSError) -> str:
    return f"{self.call}: [Errno {self.errno}] {self.strerror}"  # type: ignore[attr-defined]


def _reduce_with_call(self: OSError) -> tuple[Any, ...]:
    return (call_error, (self.errno, self.call))  # type: ignore[attr-defined]


def call_error(err: int, call: str) -> OSError:
    """The exception for a C call ``call`` (already spelled out) that failed with ``err``."""
    plain = OSError(err, os.strerror(err))
    base = type(plain)
    cls = _CALL_ERROR_TYPES.get(base)
    if cls is None:
        cls = type(
            base.__name__,
            (base,),
            {
                "__str__": _str_with_call,
                "__reduce__": _reduce_with_call,
                "__module__": base.__module__,
                "__qualname__": base.__qualname__,
            },
        )
        _CALL_ERROR_TYPES[base] = cls
    exc = cls(err, os.strerror(err))
    exc.call = call  # type: ignore[attr-defined]
    return exc


_FAULT_ERRNO = {signal.SIGSEGV: errno.EFAULT, signal.SIGBUS: errno.EIO}


class MappingFault(OSError):
    """A SIGBUS or SIGSEGV caught inside a guarded access.

    An ``OSError`` — ``errno`` is ``EFAULT`` for SIGSEGV and ``EIO`` for
    SIGBUS — so ``except OSError`` around file work catches it (CPython's
    own mmap raises ``OSError`` for the same event on Windows).

    Attributes: ``signal`` (``signal.Signals``), ``si_code`` (int), ``code``
    (its header name, e.g. ``"BUS_ADRERR"``), ``address`` (``si_addr``),
    ``pkey`` (the protection key of a ``SEGV_PKUERR`` fault, else None), and
    where the access went through a :class:`rawmmap.Mapping`, ``mapping`` and
    ``offset`` (of the faulting byte in it); otherwise those two are None.
    """

    def __init__(
        self,
        signo: int,
        si_code: int,
        address: int,
        explanation: str = "",
        mapping: object | None = None,
        offset: int | None = None,
    ) -> None:
        self.signal = signal.Signals(signo)
        err = _FAULT_ERRNO.get(self.signal, errno.EFAULT)
        super().__init__(err, os.strerror(err))
        self.si_code = si_code
        self.code = si_code_name(signo, si_code)
        self.address = address
        self.mapping = mapping
        self.offset = offset
        self.explanation = explanation
        self.pkey: int | None = None

    def __str__(self) -> str:
        where = f" (offset {self.offset} in the mapping)" if self.offset is not None else ""
        text = f"{self.signal.name} ({self.code}) at {self.address:#x}{where}"
        return f"{text}: {self.explanation}" if self.explanation else text

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            MappingFault,
            (int(self.signal), self.si_code, self.address, self.explanation, None, self.offset),
        )


MappingFault.__module__ = "rawmmap"


def explain_fault(signo: int, code: str) -> str:
    """One line on what a fault's si_code means, for a fault outside any Mapping."""
    if signo == signal.SIGBUS and code == "BUS_ADRERR":
        return "the page lies beyond the end of the file backing the mapping"
    if code == "SEGV_ACCERR":
        return "the page's protection does not allow this access"
    if code == "SEGV_MAPERR":
        return "no mapping at this address"
    if code == "SEGV_PKUERR":
        return "the page's protection key denies this access to this thread"
    return "the kernel refused the access"
