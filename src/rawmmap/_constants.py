"""Constants from the system headers, the flag enums, and their C spelling.

Every value here was read by the C compiler from ``<sys/mman.h>``,
``<linux/mman.h>``, ``<linux/memfd.h>`` and ``<signal.h>`` when rawmmap was
built (see ``_build.py``); a name the headers lack is absent, never invented.

The ``format_*`` functions spell a value the way strace prints it — the same
flag names in the same order, unknown bits in hex — because that is how the
call would be written in C and how the kernel saw it.  They serve both the
error messages of the raw layer and ``rawmmap.trace()``.  The display order
of flag names is strace's (its ``xlat`` tables), which is not numeric.
"""

from __future__ import annotations

import enum
import errno as _errno
from typing import Any, cast

from ._bindings import lib

_HAS = "RAWMMAP_HAS_"

#: name -> value, for every constant the build machine's headers define.
VALUES: dict[str, int] = {
    attr[len(_HAS) :]: int(getattr(lib, attr[len(_HAS) :]))
    for attr in sorted(dir(lib))
    if attr.startswith(_HAS) and getattr(lib, attr)
}


def _family(prefix: str) -> dict[str, int]:
    return {n: v for n, v in VALUES.items() if n.startswith(prefix)}


# -- the enums ---------------------------------------------------------------


class _CFlag(enum.IntFlag):
    """An IntFlag whose repr reads like C: ``Map.SHARED|Map.FIXED``."""

    def __repr__(self) -> str:
        cls = type(self).__name__
        value = int(self)
        members = type(self).__members__
        if value == 0:
            zero = [n for n, m in members.items() if m.value == 0]
            return f"{cls}.{zero[0]}" if zero else f"{cls}(0)"
        # widest named values first, so Map.SHARED_VALIDATE is not SHARED|PRIVATE
        chosen: list[tuple[int, str]] = []
        left = value
        for name, m in sorted(
            members.items(), key=lambda kv: (-kv[1].value.bit_count(), kv[1].value)
        ):
            v = m.value
            if v and (left & v) == v:
                chosen.append((v, name))
                left &= ~v
        parts = [f"{cls}.{n}" for _, n in sorted(chosen)]
        if left:
            parts.append(hex(left))
        return "|".join(parts)

    __str__ = int.__repr__


class _CEnum(enum.IntEnum):
    """An IntEnum whose repr is the C-like ``Madv.DONTNEED``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = int.__repr__


# Not single flags: a mask, a shift, the type field and the huge-page size
# encodings stay module-level ints only.
_NOT_FLAGS = {"MAP_TYPE", "MAP_HUGE_SHIFT", "MAP_HUGE_MASK", "MAP_FILE", "MAP_ANON"}


def _members(prefix: str, skip: set[str] = set()) -> dict[str, int]:  # noqa: B006 - read only
    return {
        n[len(prefix) :]: v
        for n, v in _family(prefix).items()
        if n not in skip and not n.startswith(("MAP_HUGE_", "MFD_HUGE_"))
    }


def _enum(base: type[enum.Enum], name: str, members: dict[str, int]) -> Any:
    # The functional API: members exist only where the headers define them,
    # so there is no static class body for a type checker to read.
    return cast(Any, base)(name, members, module=__name__)


Prot: type[_CFlag] = _enum(_CFlag, "Prot", _members("PROT_"))
Map: type[_CFlag] = _enum(_CFlag, "Map", _members("MAP_", _NOT_FLAGS))
MS: type[_CFlag] = _enum(_CFlag, "MS", _members("MS_"))
Madv: type[_CEnum] = _enum(_CEnum, "Madv", _members("MADV_"))
Mremap: type[_CFlag] = _enum(_CFlag, "Mremap", _members("MREMAP_"))
MFD: type[_CFlag] = _enum(_CFlag, "MFD", _members("MFD_"))


# -- strace's spelling ---------------------------------------------------------

# strace's display order of flag names (its xlat tables); values come from VALUES.
_PROT_ORDER = ("PROT_READ", "PROT_WRITE", "PROT_EXEC", "PROT_SEM", "PROT_GROWSDOWN", "PROT_GROWSUP")
_MAP_TYPES = ("MAP_FILE", "MAP_SHARED", "MAP_PRIVATE", "MAP_SHARED_VALIDATE")
_MAP_ORDER = (
    "MAP_FIXED", "MAP_ANONYMOUS", "MAP_32BIT", "MAP_NORESERVE", "MAP_POPULATE",
    "MAP_NONBLOCK", "MAP_GROWSDOWN", "MAP_DENYWRITE", "MAP_EXECUTABLE", "MAP_LOCKED",
    "MAP_STACK", "MAP_HUGETLB", "MAP_SYNC", "MAP_FIXED_NOREPLACE",
)  # fmt: skip
_MS_ORDER = ("MS_SYNC", "MS_ASYNC", "MS_INVALIDATE")
_MREMAP_ORDER = ("MREMAP_MAYMOVE", "MREMAP_FIXED", "MREMAP_DONTUNMAP")
_MFD_ORDER = ("MFD_CLOEXEC", "MFD_ALLOW_SEALING", "MFD_HUGETLB", "MFD_NOEXEC_SEAL", "MFD_EXEC")

_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF


def _flags(value: int, order: tuple[str, ...], prefix: str, zero: str = "0") -> str:
    """strace's printflags: known names in table order, then leftover bits in hex."""
    value &= _U32
    if value == 0:
        return zero
    parts = []
    for name in order:
        bit = VALUES.get(name)
        if bit and (value & bit) == bit:
            parts.append(name)
            value &= ~bit
    if not parts:
        return f"{value:#x} /* {prefix}_??? */"
    if value:
        parts.append(f"{value:#x}")
    return "|".join(parts)


def format_prot(prot: int) -> str:
    """``PROT_READ|PROT_WRITE`` (``PROT_NONE`` for 0), as strace prints it."""
    return _flags(prot, _PROT_ORDER, "PROT", zero="PROT_NONE")


def format_map_flags(flags: int) -> str:
    """``MAP_PRIVATE|MAP_ANONYMOUS``: the map type first, then flags, then huge-page size."""
    flags &= _U32
    type_mask = VALUES.get("MAP_TYPE", 0x0F)
    kind = flags & type_mask
    names = [n for n in _MAP_TYPES if VALUES.get(n, -1) == kind]
    parts = [names[0] if names else f"{kind:#x} /* MAP_??? */"]
    rest = flags & ~type_mask
    shift = VALUES.get("MAP_HUGE_SHIFT")
    huge = 0
    if shift is not None:
        huge = (rest >> shift) & VALUES.get("MAP_HUGE_MASK", 0x3F)
        rest &= ~(VALUES.get("MAP_HUGE_MASK", 0x3F) << shift)
    for name in _MAP_ORDER:
        bit = VALUES.get(name)
        if bit and (rest & bit) == bit:
            parts.append(name)
            rest &= ~bit
    if rest:
        parts.append(f"{rest:#x}")
    if huge:
        parts.append(f"{huge}<<MAP_HUGE_SHIFT")
    return "|".join(parts)


def format_ms_flags(flags: int) -> str:
    """``MS_SYNC|MS_ASYNC`` as strace prints msync's flags."""
    return _flags(flags, _MS_ORDER, "MS")


def format_mremap_flags(flags: int) -> str:
    """``MREMAP_MAYMOVE|MREMAP_FIXED`` as strace prints them."""
    return _flags(flags, _MREMAP_ORDER, "MREMAP")


def format_mfd_flags(flags: int) -> str:
    """``MFD_CLOEXEC|MFD_ALLOW_SEALING`` as strace prints them.

    A huge page size is printed as ``N<<MFD_HUGE_SHIFT``, as strace does.
    """
    flags &= _U32
    shift, mask = VALUES.get("MFD_HUGE_SHIFT"), VALUES.get("MFD_HUGE_MASK", 0x3F)
    huge = 0
    if shift is not None:
        huge = (flags >> shift) & mask
        flags &= ~(mask << shift)
    if not huge:
        return _flags(flags, _MFD_ORDER, "MFD")
    size = f"{huge}<<MFD_HUGE_SHIFT"
    return f"{_flags(flags, _MFD_ORDER, 'MFD')}|{size}" if flags else size


# mlock2, mlockall and pkey_alloc's flags, in strace's table order (issue 15)
_MLOCK_ORDER = ("MLOCK_ONFAULT",)
_MCL_ORDER = ("MCL_CURRENT", "MCL_FUTURE", "MCL_ONFAULT")
_PKEY_ORDER = ("PKEY_DISABLE_ACCESS", "PKEY_DISABLE_WRITE", "PKEY_DISABLE_EXECUTE",
               "PKEY_DISABLE_READ")  # fmt: skip


def format_mlock2_flags(flags: int) -> str:
    """``MLOCK_ONFAULT`` as strace prints mlock2's flags (``0`` for none)."""
    return _flags(flags, _MLOCK_ORDER, "MLOCK")


def format_mcl_flags(flags: int) -> str:
    """``MCL_CURRENT|MCL_FUTURE`` as strace prints mlockall's flags."""
    return _flags(flags, _MCL_ORDER, "MCL")


def format_pkey_rights(rights: int) -> str:
    """``PKEY_DISABLE_ACCESS|PKEY_DISABLE_WRITE`` as strace prints access rights (``0``: none).

    Only names the headers define are used: strace also names bits of other
    architectures (``PKEY_DISABLE_EXECUTE`` on x86), which stay hex here.
    """
    return _flags(rights, _PKEY_ORDER, "PKEY")


def format_hex(value: int) -> str:
    """An unsigned flags argument that strace prints as a number: ``0`` or ``0x1``."""
    value &= _U32
    return "0" if value == 0 else f"{value:#x}"


_MADV_NAMES: dict[int, str] = {}
for _name, _value in _family("MADV_").items():
    _MADV_NAMES.setdefault(_value, _name)


def format_madvise(advice: int) -> str:
    """``MADV_DONTNEED``, or ``0x3e7 /* MADV_??? */`` for a value with no name."""
    name = _MADV_NAMES.get(advice)
    return name if name is not None else f"{advice & _U32:#x} /* MADV_??? */"


#: errno values with two names: the one strace prints (Python's errorcode picks the other)
_ERRNO_AS_STRACE = {_errno.EOPNOTSUPP: "EOPNOTSUPP", _errno.EDEADLK: "EDEADLK"}


def errno_name(err: int) -> str:
    """The errno's name as strace prints it (``EOPNOTSUPP``, not ``ENOTSUP``), or its number."""
    return _ERRNO_AS_STRACE.get(err) or _errno.errorcode.get(err, str(err))


def format_addr(addr: int) -> str:
    """``NULL`` or ``0x7f3c2a1b4000``."""
    return "NULL" if addr == 0 else f"{addr & _U64:#x}"


def format_offset(offset: int) -> str:
    """mmap's offset: ``0``, else hex of the 64-bit value (``0x1000``)."""
    return "0" if offset == 0 else f"{offset & _U64:#x}"


def si_code_name(signo: int, code: int) -> str:
    """The header name of a ``si_code`` for ``signo`` (``BUS_ADRERR``), or its number."""
    import signal

    prefixes = {
        int(signal.SIGBUS): "BUS_",
        int(signal.SIGSEGV): "SEGV_",
        int(signal.SIGILL): "ILL_",
        int(signal.SIGFPE): "FPE_",
        int(signal.SIGTRAP): "TRAP_",
    }
    if code <= 0 or signo not in prefixes:
        for name in ("SI_USER", "SI_KERNEL", "SI_QUEUE", "SI_TIMER", "SI_MESGQ",
                     "SI_ASYNCIO", "SI_SIGIO", "SI_TKILL"):  # fmt: skip
            if VALUES.get(name) == code:
                return name
        return str(code)
    prefix = prefixes[signo]
    for name, value in VALUES.items():
        if name.startswith(prefix) and value == code:
            return name
    if VALUES.get("SI_KERNEL") == code:
        return "SI_KERNEL"
    return str(code)
