"""Atomic operations on an aligned 1/2/4/8-byte slot at an address.

Sequentially consistent, done with the compiler's ``__atomic`` builtins in
``rawmmap._core`` and guarded like every other access (a fault raises
:class:`rawmmap.MappingFault`).  Values are unsigned integers of ``size``
bytes in the machine's byte order; ``add`` takes any int and wraps modulo
``2**(8*size)`` (so ``add(addr, -1)`` decrements), as C's unsigned arithmetic
does.  A misaligned slot or a size other than 1, 2, 4, 8 raises
``ValueError`` before any access.
"""

from __future__ import annotations

from ._bindings import core

__all__ = [
    "atomic_add", "atomic_compare_exchange", "atomic_exchange", "atomic_load", "atomic_store",
]  # fmt: skip

LOAD, STORE, ADD, EXCHANGE, CAS = core.LOAD, core.STORE, core.ADD, core.EXCHANGE, core.CAS

# The functions are C functions of rawmmap._core (one call, no Python frame);
# their signatures and docstrings (naming the __atomic builtin) are there.
#: ``atomic_load(addr, size=8) -> int``: ``__atomic_load_n(addr, SEQ_CST)``.
atomic_load = core.atomic_load
#: ``atomic_store(addr, value, size=8)``: ``__atomic_store_n(addr, value, SEQ_CST)``.
atomic_store = core.atomic_store
#: ``atomic_add(addr, value, size=8) -> int``: ``__atomic_fetch_add``, returns the old value.
atomic_add = core.atomic_add
#: ``atomic_exchange(addr, value, size=8) -> int``: ``__atomic_exchange_n``, returns the old value.
atomic_exchange = core.atomic_exchange
#: ``atomic_compare_exchange(addr, expected, desired, size=8) -> (succeeded, observed)``:
#: ``__atomic_compare_exchange_n``.
atomic_compare_exchange = core.atomic_compare_exchange
