"""Atomic operations on an aligned 1/2/4/8-byte slot at an address.

Sequentially consistent, done with the compiler's ``__atomic`` builtins in
the C helper ``rawmmap_atomic`` and guarded like every other access (a fault
raises :class:`rawmmap.MappingFault`).  Values are unsigned integers of
``size`` bytes in the machine's byte order; ``add`` takes any int and wraps
modulo ``2**(8*size)`` (so ``add(addr, -1)`` decrements), as C's unsigned
arithmetic does.  A misaligned slot or a size other than 1, 2, 4, 8 raises
``ValueError`` before any access.
"""

from __future__ import annotations

import operator

from . import _access
from ._access import ensure_guard, fault_from_last
from ._native import ffi, lib

__all__ = [
    "atomic_add", "atomic_compare_exchange", "atomic_exchange", "atomic_load", "atomic_store",
]  # fmt: skip

LOAD, STORE, ADD, EXCHANGE, CAS = range(5)
MASKS = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF, 8: 0xFFFFFFFFFFFFFFFF}


def _slot(func: str, addr: int, size: int) -> None:
    if size not in MASKS:
        raise ValueError(f"{func}(): size must be 1, 2, 4 or 8 bytes, got {size!r}")
    addr = operator.index(addr)
    if not 0 <= addr < 2**64:
        raise _access.out_of_range(func, addr)
    if addr % size:
        raise ValueError(f"{func}(): a {size}-byte slot must be {size}-byte aligned, got {addr:#x}")


def do(func: str, op: int, addr: int, size: int, a: int = 0, b: int = 0) -> int:
    """One atomic operation ``op`` (LOAD...CAS) on the slot at ``addr``; checks first."""
    if addr.__class__ is not int or size not in MASKS or addr % size:
        _slot(func, addr, size)
    mask = MASKS[size]
    if a.__class__ is not int or b.__class__ is not int:
        a, b = operator.index(a), operator.index(b)
    if _access._fh_enabled() is not _access._seen_fh_state:
        ensure_guard()
    result: int = lib.rawmmap_atomic(op, addr, size, a & mask, b & mask)
    if ffi.errno:
        raise fault_from_last()
    return result


def atomic_load(addr: int, size: int = 8) -> int:
    """``__atomic_load_n(addr, SEQ_CST)``: the slot's value."""
    return do("atomic_load", LOAD, addr, size)


def atomic_store(addr: int, value: int, size: int = 8) -> None:
    """``__atomic_store_n(addr, value, SEQ_CST)`` (value taken modulo 2**(8*size))."""
    do("atomic_store", STORE, addr, size, value)


def atomic_add(addr: int, value: int, size: int = 8) -> int:
    """``__atomic_fetch_add(addr, value, SEQ_CST)``: adds, returns the old value."""
    return do("atomic_add", ADD, addr, size, value)


def atomic_exchange(addr: int, value: int, size: int = 8) -> int:
    """``__atomic_exchange_n(addr, value, SEQ_CST)``: stores, returns the old value."""
    return do("atomic_exchange", EXCHANGE, addr, size, value)


def atomic_compare_exchange(
    addr: int, expected: int, desired: int, size: int = 8
) -> tuple[bool, int]:
    """``__atomic_compare_exchange_n``: store ``desired`` if the slot holds ``expected``.

    Returns ``(succeeded, observed)``: ``observed`` is the value the slot held.
    """
    observed = do("atomic_compare_exchange", CAS, addr, size, expected, desired)
    return observed == (operator.index(expected) & MASKS[size]), observed
