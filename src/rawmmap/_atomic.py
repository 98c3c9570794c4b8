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
_atomic = core.atomic


def atomic_load(addr: int, size: int = 8) -> int:
    """``__atomic_load_n(addr, SEQ_CST)``: the slot's value."""
    result: int = _atomic(LOAD, addr, size)
    return result


def atomic_store(addr: int, value: int, size: int = 8) -> None:
    """``__atomic_store_n(addr, value, SEQ_CST)`` (value taken modulo 2**(8*size))."""
    _atomic(STORE, addr, size, value)


def atomic_add(addr: int, value: int, size: int = 8) -> int:
    """``__atomic_fetch_add(addr, value, SEQ_CST)``: adds, returns the old value."""
    result: int = _atomic(ADD, addr, size, value)
    return result


def atomic_exchange(addr: int, value: int, size: int = 8) -> int:
    """``__atomic_exchange_n(addr, value, SEQ_CST)``: stores, returns the old value."""
    result: int = _atomic(EXCHANGE, addr, size, value)
    return result


def atomic_compare_exchange(
    addr: int, expected: int, desired: int, size: int = 8
) -> tuple[bool, int]:
    """``__atomic_compare_exchange_n``: store ``desired`` if the slot holds ``expected``.

    Returns ``(succeeded, observed)``: ``observed`` is the value the slot held.
    """
    result: tuple[bool, int] = _atomic(CAS, addr, size, expected, desired)
    return result
