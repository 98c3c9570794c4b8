"""The C fast paths of small guarded accesses give what the checked paths give.

``m[i]``, ``m[i] = x``, ``m[a:b] = bytes``, ``rawmmap.write(addr, bytes)`` and the
atomics (module functions and ``Mapping`` methods) take a shorter C path when
their arguments are exact ints and bytes.  Every access here is done twice:
once with exact ints/bytes (the fast path) and once with the same values as an
``int`` subclass, a ``bytearray`` or through ``core.atomic``/``Mapping._atomic``
(the general, checked path).  Both must give the same result, the same bytes in
memory and the same exception with the same message — for in-range accesses,
negatives, out-of-range and oversized numbers, wrong types, a closed mapping
and real faults (a ``PROT_NONE`` page).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

import rawmmap
from rawmmap._bindings import core

PAGE = rawmmap.PAGESIZE
BIG = 2**100


class Int(int):
    """An int the fast paths do not take (not an exact int)."""


def outcome(call: Callable[[], Any]) -> tuple[Any, Any]:
    """What a call gives: ("ok", result) or (exception type, message)."""
    try:
        return "ok", call()
    except Exception as exc:  # every exception is compared
        return type(exc), str(exc).replace("'Int'", "'int'")


def slow(value: Any) -> Any:
    """The same value, in a form that takes the checked path."""
    if isinstance(value, bytes):
        return bytearray(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Int(value)
    if isinstance(value, slice):
        return slice(*(slow(v) if v is not None else None for v in (value.start, value.stop,
                                                                     value.step)))
    return value


KEYS = [0, 8, PAGE - 1, PAGE, -1, -PAGE, -PAGE - 1, 2**62, -(2**62), BIG, -BIG]
BYTES = [0, 1, 255, 256, -1, BIG, -BIG]
SLICES = [slice(8, 16), slice(-8, None), slice(PAGE - 4, PAGE + 4), slice(0, 8, 2),
          slice(16, 8), slice(BIG, None), slice(0, 0)]  # fmt: skip
DATA = [b"12345678", b"1234", b"", bytes(8)]


def same(m: Any, fast: tuple[Any, ...], checked: tuple[Any, ...], at: int = 0) -> None:
    """fast[0](*fast[1:]) and checked[0](*checked[1:]) on identical memory give identical
    outcomes and leave identical memory (the page at offset ``at`` of ``m``)."""
    pattern = bytes(range(256)) * (PAGE // 256)
    m.write(at, pattern)
    got_fast = outcome(partial(*fast))
    memory_fast = m.read(at, PAGE)
    m.write(at, pattern)
    got_checked = outcome(partial(*checked))
    assert got_fast == got_checked, (fast, checked)
    assert memory_fast == m.read(at, PAGE), (fast, checked)


def test_fast_paths_match_the_checked_paths_on_edge_inputs() -> None:
    m = rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED)
    names = ["atomic_load", "atomic_store", "atomic_add", "atomic_exchange",
             "atomic_compare_exchange"]  # fmt: skip
    for f in [rawmmap.read, rawmmap.write, rawmmap.read_into]:
        assert type(f).__name__ == "builtin_function_or_method"  # no Python frame
    for name in names:
        assert type(getattr(rawmmap, name)).__name__ == "builtin_function_or_method", name
        assert type(getattr(m, name)).__name__ == "builtin_function_or_method", name
        assert getattr(rawmmap, name).__doc__.count("__atomic_") >= 1, name
    # the address-taking functions write wherever they are told: their page has
    # PROT_NONE pages on both sides, so the edge cases fault instead of writing
    # into a neighbour
    w = rawmmap.map_anonymous(3 * PAGE, flags=rawmmap.MAP_SHARED)
    rawmmap.mprotect(w.address, PAGE, rawmmap.PROT_NONE)
    rawmmap.mprotect(w.address + 2 * PAGE, PAGE, rawmmap.PROT_NONE)
    a = w.address + PAGE
    get, put = m.__getitem__, m.__setitem__
    for k in KEYS:
        same(m, (get, k), (get, slow(k)))
        for v in BYTES:
            same(m, (put, k, v), (put, slow(k), slow(v)))
    for s in SLICES:
        same(m, (get, s), (get, slow(s)))
        for d in DATA:
            same(m, (put, s, d), (put, slow(s), slow(d)))
    for off in [0, 8, PAGE - 8, PAGE - 4, PAGE]:
        for d in DATA:
            same(w, (rawmmap.write, a + off, d), (rawmmap.write, slow(a + off), slow(d)), PAGE)
    # the atomics: each public function and method against the generic entry point
    mcas = 0x0706050403020100  # what the slot at 0 holds
    for off in [0, 8, 4, PAGE - 8, PAGE, -8]:
        for size in [None, 1, 2, 4, 8, 3]:
            sz = () if size is None else (size,)
            szv = 8 if size is None else size
            for v in [1, -1, BIG, 2**64 - 1]:
                same(w, (rawmmap.atomic_add, a + off, v, *sz),
                     (core.atomic, core.ADD, slow(a + off), szv, slow(v)), PAGE)
                same(m, (m.atomic_add, off, v, *sz), (m._atomic, core.ADD, slow(off), szv, v))
                same(w, (rawmmap.atomic_exchange, a + off, v, *sz),
                     (core.atomic, core.EXCHANGE, a + off, szv, v), PAGE)
                same(m, (m.atomic_exchange, off, v, *sz), (m._atomic, core.EXCHANGE, off, szv, v))
                same(w, (rawmmap.atomic_store, a + off, v, *sz),
                     (core.atomic, core.STORE, a + off, szv, v), PAGE)
                same(m, (m.atomic_store, off, v, *sz), (m._atomic, core.STORE, off, szv, v))
                same(w, (rawmmap.atomic_compare_exchange, a + off, v, 7, *sz),
                     (core.atomic, core.CAS, a + off, szv, v, 7), PAGE)
                same(m, (m.atomic_compare_exchange, off, mcas, v, *sz),
                     (m._atomic, core.CAS, off, szv, mcas, v))
            same(w, (rawmmap.atomic_load, a + off, *sz),
                 (core.atomic, core.LOAD, a + off, szv), PAGE)
            same(m, (m.atomic_load, off, *sz), (m._atomic, core.LOAD, off, szv))
    # keywords reach the same place as positions
    same(w, (partial(rawmmap.atomic_add, addr=a, value=5, size=4),),
         (core.atomic, core.ADD, a, 4, 5), PAGE)
    same(m, (partial(m.atomic_compare_exchange, 0, expected=mcas, desired=1),),
         (m._atomic, core.CAS, 0, 8, mcas, 1))
    m.close()
    w.close()


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda m: m["a"], TypeError, "Mapping indices must be integers or slices, not str"),
        (lambda m: m[1.5], TypeError, "Mapping indices must be integers or slices, not float"),
        (lambda m: m[PAGE], IndexError, f"Mapping index {PAGE} out of range [0, {PAGE})"),
        (lambda m: m[-PAGE - 1], IndexError, "Mapping index -4097 out of range"
         if PAGE == 4096 else "Mapping index"),
        (lambda m: m.__setitem__(0, 256), ValueError, "byte must be in range(0, 256), got 256"),
        (lambda m: m.__setitem__(0, b"x"), TypeError, "Mapping item must be an integer"),
        (lambda m: m.__setitem__(slice(0, 2), b"x"), IndexError,
         "Mapping slice assignment is wrong size: 1 bytes for 2 places"),
        (lambda m: m.__setitem__(slice(0, 2), "ab"), TypeError,
         "Mapping slice assignment: can assign only bytes"),
        (lambda m: rawmmap.write(-1, b"x"), ValueError, "write(): addr must be in 0..2**64-1"),
        (lambda m: rawmmap.write("1", b"x"), TypeError, "write(): addr must be an integer"),
        (lambda m: rawmmap.atomic_add(m.address), TypeError,
         "atomic_add() missing required argument 'value'"),
        (lambda m: rawmmap.atomic_add(m.address, 1, 8, 0), TypeError,
         "atomic_add() takes from 2 to 3 positional arguments but 4 were given"),
        (lambda m: rawmmap.atomic_add(m.address, 1, sz=8), TypeError,
         "atomic_add() got an unexpected keyword argument 'sz'"),
        (lambda m: m.atomic_add(0, 1, offset=0), TypeError,
         "atomic_add() got multiple values for argument 'offset'"),
        (lambda m: rawmmap.atomic_add(m.address, "1"), TypeError,
         "atomic_add(): value must be an integer, got str"),
        (lambda m: rawmmap.atomic_load(m.address, 8.0), TypeError,
         "atomic_load(): size must be an integer, got float"),
        (lambda m: m.atomic_load(PAGE - 4), ValueError,
         f"atomic_load(): a 8-byte slot at offset {PAGE - 4} is outside the mapping"),
        (lambda m: rawmmap.atomic_store(m.address + 2, 0, 4), ValueError,
         "atomic_store(): a 4-byte slot must be 4-byte aligned"),
    ],
)
def test_documented_errors_of_the_fast_entry_points(
    call: Callable[[Any], Any], exc: type[BaseException], message: str
) -> None:
    with rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED) as m:
        before = bytes(m)
        with pytest.raises(exc) as info:
            call(m)
        assert str(info.value).startswith(message), str(info.value)
        assert bytes(m) == before  # refused before any access


def test_fast_paths_on_a_closed_mapping_and_on_a_faulting_page() -> None:
    m = rawmmap.map_anonymous(PAGE)
    m.close()
    for call in (lambda: m[0], lambda: m.__setitem__(0, 1),
                 lambda: m.__setitem__(slice(0, 1), b"x"), lambda: m.atomic_add(0, 1)):  # fmt: skip
        with pytest.raises(ValueError, match="closed Mapping"):
            call()
    with rawmmap.map_anonymous(PAGE, prot=rawmmap.PROT_NONE) as none:
        a = none.address
        calls: list[Callable[[], Any]] = [
            lambda: none[8], lambda: none.__setitem__(8, 1),
            lambda: none.__setitem__(slice(8, 16), b"12345678"),
            lambda: rawmmap.write(a + 8, b"12345678"), lambda: rawmmap.atomic_add(a + 8, 1),
            lambda: none.atomic_add(8, 1), lambda: rawmmap.atomic_load(a + 8, size=4),
        ]  # fmt: skip
        for call in calls:
            with pytest.raises(rawmmap.MappingFault) as info:
                call()
            assert (info.value.signal, info.value.code, info.value.address) == (
                signal.SIGSEGV, "SEGV_ACCERR", a + 8
            )
