"""``SharedMutex``: a robust, process-shared ``pthread_mutex_t`` inside a mapping.

The mutex lives in the mapped memory itself, so every process that maps the
same memory (a forked child of a ``MAP_SHARED`` mapping, or another process
mapping the same file) locks the same mutex.  It is initialised with
``PTHREAD_PROCESS_SHARED`` and ``PTHREAD_MUTEX_ROBUST``: when its owner dies
holding it, the next locker gets it with ``EOWNERDEAD`` instead of hanging.
rawmmap reports that by setting :attr:`SharedMutex.owner_died` (the lock is
held): repair the protected data, then call :meth:`SharedMutex.consistent`.
Unlocking without doing so makes the mutex unusable for everyone
(``ENOTRECOVERABLE``), exactly as in C.  Man pages:
pthread_mutexattr_setpshared(3), pthread_mutexattr_setrobust(3),
pthread_mutex_consistent(3).

Size and alignment of ``pthread_mutex_t`` come from the headers
(:data:`SharedMutex.SIZE`, :data:`SharedMutex.ALIGNMENT`).
"""

from __future__ import annotations

import errno
import os
from types import TracebackType

from ._mapping import Mapping
from ._native import lib

__all__ = ["SharedMutex"]


def _error(call: str, err: int) -> OSError:
    return OSError(err, f"{call}: {os.strerror(err)}")


class SharedMutex:
    """A robust process-shared mutex at ``offset`` in ``mapping``.

    ``SharedMutex(mapping, offset=0)`` initialises the memory there
    (``pthread_mutex_init``); ``SharedMutex.attach(mapping, offset)`` uses a
    mutex some process already initialised.  A forked child can simply use
    the object it inherited.  Use as ``with mutex: ...`` or
    :meth:`acquire`/:meth:`release`.
    """

    SIZE: int = int(lib.rawmmap_mutex_size())
    ALIGNMENT: int = int(lib.rawmmap_mutex_align())

    def __init__(self, mapping: Mapping, offset: int = 0, *, initialize: bool = True) -> None:
        if not isinstance(mapping, Mapping):
            raise TypeError(f"SharedMutex needs a rawmmap.Mapping, got {type(mapping).__name__}")
        if mapping.closed:
            raise ValueError("SharedMutex on a closed Mapping")
        if not 0 <= offset <= mapping.length - self.SIZE:
            raise ValueError(
                f"a pthread_mutex_t ({self.SIZE} bytes) at offset {offset} does not fit "
                f"in the mapping's {mapping.length} bytes"
            )
        if (mapping.address + offset) % self.ALIGNMENT:
            raise ValueError(f"offset {offset} is not {self.ALIGNMENT}-byte aligned")
        self.mapping = mapping
        self.offset = offset
        self.address = mapping.address + offset
        #: True after an acquire found the previous owner dead (EOWNERDEAD).
        self.owner_died = False
        if initialize:
            err = lib.rawmmap_mutex_init(self.address)
            if err:
                raise _error("pthread_mutex_init", err)

    @classmethod
    def attach(cls, mapping: Mapping, offset: int = 0) -> SharedMutex:
        """Use the mutex another process initialised at ``offset``."""
        return cls(mapping, offset, initialize=False)

    def _check(self) -> None:
        if self.mapping.closed:
            raise ValueError("SharedMutex used after its Mapping was closed")

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Lock; returns False if not acquired (non-blocking, or timed out).

        If the previous owner died holding the lock, it is acquired all the
        same and :attr:`owner_died` becomes True.  ``ENOTRECOVERABLE`` (a
        mutex whose dead owner's successor never called :meth:`consistent`)
        raises ``OSError``.
        """
        self._check()
        if not blocking:
            err = lib.rawmmap_mutex_trylock(self.address)
        else:
            err = lib.rawmmap_mutex_lock(self.address, -1.0 if timeout is None else float(timeout))
        if err in (errno.EBUSY, errno.ETIMEDOUT):
            return False
        self.owner_died = err == errno.EOWNERDEAD
        if err and not self.owner_died:
            raise _error("pthread_mutex_lock", err)
        return True

    def consistent(self) -> None:
        """``pthread_mutex_consistent``: the data is repaired; the mutex is usable again."""
        self._check()
        err = lib.rawmmap_mutex_consistent(self.address)
        if err:
            raise _error("pthread_mutex_consistent", err)
        self.owner_died = False

    def release(self) -> None:
        """Unlock (``EPERM`` as ``PermissionError`` if this thread does not hold it)."""
        self._check()
        err = lib.rawmmap_mutex_unlock(self.address)
        if err:
            raise _error("pthread_mutex_unlock", err)

    def __enter__(self) -> SharedMutex:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<rawmmap.SharedMutex at {self.address:#x} (offset {self.offset})>"
