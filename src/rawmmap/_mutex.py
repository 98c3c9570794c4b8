"""``SharedMutex``: a robust, process-shared ``pthread_mutex_t`` inside a mapping.

The mutex lives in the mapped memory itself, so every process that maps the
same memory (a forked child of a ``MAP_SHARED`` mapping, or another process
mapping the same file) locks the same mutex.  It is initialised with
``PTHREAD_PROCESS_SHARED``, ``PTHREAD_MUTEX_ROBUST`` and
``PTHREAD_MUTEX_ERRORCHECK``: when its owner dies holding it, the next locker
gets it with ``EOWNERDEAD`` instead of hanging; rawmmap reports that by
setting :attr:`SharedMutex.owner_died` (the lock is held): repair the
protected data, then call :meth:`SharedMutex.consistent`.  Unlocking without
doing so makes the mutex unusable for everyone (``ENOTRECOVERABLE``), exactly
as in C.  Man pages: pthread_mutexattr_setpshared(3),
pthread_mutexattr_setrobust(3), pthread_mutex_consistent(3).

As safe as the Mapping it lives in (the C base ``rawmmap._core.MutexBase``):
refused on a mapping that is not readable, writable and ``MAP_SHARED``; every
pthread call is guarded (a page beyond EOF raises MappingFault); it holds a
buffer export of its Mapping while it exists, so the Mapping cannot be closed
or remapped under it (call :meth:`close` or drop it first); ``acquire``
follows ``threading.Lock.acquire`` (``timeout=-1`` waits forever), is
interrupted by Ctrl-C, and raises ``RuntimeError`` instead of deadlocking on
a recursive acquire.  It cannot be copied or pickled.

Size and alignment of ``pthread_mutex_t`` come from the headers
(:data:`SharedMutex.SIZE`, :data:`SharedMutex.ALIGNMENT`).
"""

from __future__ import annotations

import operator

from ._bindings import core
from ._constants import VALUES, format_map_flags, format_prot
from ._mapping import Mapping

__all__ = ["SharedMutex"]

_PROT_RW = VALUES["PROT_READ"] | VALUES["PROT_WRITE"]
_MAP_TYPE = VALUES.get("MAP_TYPE", 0x0F)
_SHARED = {VALUES["MAP_SHARED"], VALUES.get("MAP_SHARED_VALIDATE", VALUES["MAP_SHARED"])}


class SharedMutex(core.MutexBase):
    """A robust process-shared mutex at ``offset`` in ``mapping``.

    ``SharedMutex(mapping, offset=0)`` initialises the memory there
    (``pthread_mutex_init``); ``SharedMutex.attach(mapping, offset)`` uses a
    mutex some process already initialised.  A forked child can simply use
    the object it inherited.  Use as ``with mutex: ...`` or
    :meth:`acquire`/:meth:`release`; :meth:`close` lets the Mapping go.
    """

    __slots__ = ()
    SIZE: int = core.MUTEX_SIZE
    ALIGNMENT: int = core.MUTEX_ALIGNMENT

    def __init__(self, mapping: Mapping, offset: int = 0, *, initialize: bool = True) -> None:
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"SharedMutex(): mapping must be a rawmmap.Mapping, got {type(mapping).__name__}"
            )
        if offset.__class__ is not int:
            if isinstance(offset, (str, bytes, float)) or not hasattr(offset, "__index__"):
                raise TypeError(
                    f"SharedMutex(): offset must be an integer, got {type(offset).__name__}"
                )
            offset = operator.index(offset)
        if mapping.closed:
            raise ValueError("SharedMutex(): mapping is closed")
        if mapping.prot & _PROT_RW != _PROT_RW:
            raise ValueError(
                f"SharedMutex(): mapping must be readable and writable, its protection is "
                f"{format_prot(mapping.prot)}"
            )
        if mapping.flags & _MAP_TYPE not in _SHARED:
            raise ValueError(
                f"SharedMutex(): mapping must be MAP_SHARED (a process-shared mutex in "
                f"private memory is shared with nobody), its flags are "
                f"{format_map_flags(mapping.flags)}"
            )
        if not 0 <= offset <= mapping.length - self.SIZE:
            raise ValueError(
                f"SharedMutex(): a pthread_mutex_t ({self.SIZE} bytes) at offset {offset} does "
                f"not fit in the mapping's {mapping.length} bytes"
            )
        if (mapping.address + offset) % self.ALIGNMENT:
            raise ValueError(
                f"SharedMutex(): offset must be {self.ALIGNMENT}-byte aligned, got {offset}"
            )
        self._bind(mapping, offset, initialize)

    @classmethod
    def attach(cls, mapping: Mapping, offset: int = 0) -> SharedMutex:
        """Use the mutex another process initialised at ``offset``."""
        return cls(mapping, offset, initialize=False)

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<rawmmap.SharedMutex{state} at {self.address:#x} (offset {self.offset})>"


SharedMutex.__module__ = "rawmmap"
