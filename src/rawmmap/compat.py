"""``rawmmap.compat``: the standard library's ``mmap`` module, without the SIGBUS.

``import rawmmap.compat as mmap`` gives the running Python's ``mmap`` module
name for name — class :class:`mmap` (constructor, methods, item and slice
access with steps, iteration, ``in``, buffer protocol, weak references,
context manager, ``repr``, subclassing through ``__new__``, the same errors
and messages) and the constants ``ACCESS_*``, ``PAGESIZE``,
``ALLOCATIONGRANULARITY``, ``MAP_*``, ``PROT_*``, ``MADV_*``, ``error``;
``trackfd=`` and ``seekable()`` only where that Python's ``mmap`` has them.
CPython's own ``Lib/test/test_mmap.py`` is the judge (tests/test_compat.py).

The one difference: a SIGBUS or SIGSEGV inside a method that touches the
memory — item and slice get and set, iteration, ``in``, ``bytes(m)``,
``read``, ``read_byte``, ``readline``, ``write``, ``write_byte``, ``find``,
``rfind``, ``move`` — raises :class:`rawmmap.MappingFault` (an ``OSError``,
``errno`` EIO for SIGBUS) and leaves the position unchanged, where the
standard library's ``mmap`` kills the interpreter (mmap(2): "SIGBUS: attempted
access to a page of the buffer that lies beyond the end of the mapped file").
``flush`` is ``msync(2)``, a system call that reports errors, not faults.

Not guarded, exactly as with the standard library: buffer exports —
``memoryview(m)``, ``numpy.frombuffer(m)``, ``re.search(pattern, m)``,
``hashlib`` — hand out the raw address; a fault through them kills the
process.  While any export lives, ``close()`` and ``resize()`` raise
``BufferError`` (the exports are counted in C, as CPython counts them).

The memory is owned by ``rawmmap._core.Region`` (the C base of
:class:`rawmmap.Mapping`): one ``mmap`` call, one ``munmap`` (``close()`` or
the last reference), every access checks the state first, so nothing touches
an address after it was unmapped.  Each memory access is a guarded copy
(``Region.read``/``Region.write``); ``find``, ``rfind`` and ``readline`` search
in place inside a guard frame (``_core.compat_find``/``compat_readline``), and
``m[i]``, ``m[i] = v`` and ``m[i:j]`` with plain ints take a C path
(``_core.compat_base()``, the class's C base; core.c section 8); every other
form goes through ``_getitem``/``_setitem``/``_delitem`` below.
"""

from __future__ import annotations

import contextlib
import mmap as _stdlib
import operator
import os
import stat
import sys
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import _raw
from ._bindings import core
from ._constants import VALUES
from ._errors import MappingFault
from ._mapping import Mapping

# extended below with the constants the running Python has
__all__ = ["error", "mmap"]

error = OSError

ACCESS_DEFAULT: int = _stdlib.ACCESS_DEFAULT
ACCESS_READ: int = _stdlib.ACCESS_READ
ACCESS_WRITE: int = _stdlib.ACCESS_WRITE
ACCESS_COPY: int = _stdlib.ACCESS_COPY
_ACCESS_NAMES = {
    ACCESS_DEFAULT: "ACCESS_DEFAULT",
    ACCESS_READ: "ACCESS_READ",
    ACCESS_WRITE: "ACCESS_WRITE",
    ACCESS_COPY: "ACCESS_COPY",
}
PAGESIZE: int = _raw.page_size()
ALLOCATIONGRANULARITY: int = PAGESIZE  # Linux: mmap offsets are multiples of the page size

# The header constants: the names the running Python's mmap module has, the
# values rawmmap read from the system headers at build time (the stdlib's own
# value only for a name rawmmap's build does not list; tests compare both).
_HEADER_PREFIXES = ("MAP_", "PROT_", "MADV_")
for _name in dir(_stdlib):
    if _name.startswith(_HEADER_PREFIXES):
        globals()[_name] = VALUES.get(_name, getattr(_stdlib, _name))
        __all__.append(_name)
__all__ += ["ACCESS_COPY", "ACCESS_DEFAULT", "ACCESS_READ", "ACCESS_WRITE",
            "ALLOCATIONGRANULARITY", "PAGESIZE"]  # fmt: skip

_PROT_READ = VALUES["PROT_READ"]
_PROT_WRITE = VALUES["PROT_WRITE"]
_MAP_SHARED = VALUES["MAP_SHARED"]
_MAP_PRIVATE = VALUES["MAP_PRIVATE"]
_MAP_ANONYMOUS = VALUES["MAP_ANONYMOUS"]
_MS_SYNC = VALUES["MS_SYNC"]
_MREMAP_MAYMOVE = VALUES.get("MREMAP_MAYMOVE", 0)
_SSIZE_MAX = sys.maxsize
_INT_MAX = 2**31 - 1


def _stdlib_features() -> tuple[bool, bool, bool]:
    """What the running Python's mmap has: trackfd=, seekable(), seek() returning the position."""
    probe = _stdlib.mmap(-1, 1)
    try:
        seek: Callable[[int], object] = probe.seek  # typeshed: None before 3.13
        seek_returns = seek(0) is not None
    finally:
        probe.close()
    try:
        _stdlib.mmap(-1, 1, trackfd=True).close()  # type: ignore[call-arg,unused-ignore]
        trackfd = True
    except TypeError:
        trackfd = False
    return trackfd, hasattr(_stdlib.mmap, "seekable"), seek_returns


_HAS_TRACKFD, _HAS_SEEKABLE, _SEEK_RETURNS_POS = _stdlib_features()
_HAS_MADVISE = hasattr(_stdlib.mmap, "madvise")

_read = core.Region.read
_write = core.Region.write
_search = core.compat_find  # guarded memmem/memrchr in place (core.c, section 8)
_readline = core.compat_readline  # guarded memchr, then one guarded copy
_region_setitem = core.Region.__setitem__
_NOT_GIVEN: Any = object()


# -- argument conversion, as CPython's argument parser does it ---------------------


def _c_int(value: object) -> int:
    v = operator.index(value)  # type: ignore[arg-type]
    if v > _INT_MAX:
        raise OverflowError("signed integer is greater than maximum")
    if v < -_INT_MAX - 1:
        raise OverflowError("signed integer is less than minimum")
    return int(v)


def _ssize(value: object) -> int:
    v = operator.index(value)  # type: ignore[arg-type]
    if not -_SSIZE_MAX - 1 <= v <= _SSIZE_MAX:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return int(v)


def _bytes_arg(value: object) -> bytes:
    if type(value) is bytes:
        return value
    try:
        with memoryview(value) as view:  # type: ignore[arg-type]
            return view.tobytes()
    except TypeError:
        raise TypeError(
            f"a bytes-like object is required, not '{type(value).__name__}'"
        ) from None


def _plain_os_error(exc: OSError) -> OSError:
    """The standard library's exception for a failed call: OSError(errno, strerror), no call."""
    return OSError(exc.errno, exc.strerror)


if TYPE_CHECKING:
    _Base = core.Region
else:  # a Region whose m[i] and m[i] = v are C (core.c, section 8); the rest is below
    _Base = core.compat_base()


class mmap(_Base):  # the standard library's name
    """The standard library's ``mmap.mmap``, with guarded memory access (see the module doc).

    ``mmap(fileno, length, flags=MAP_SHARED, prot=PROT_WRITE|PROT_READ,
    access=ACCESS_DEFAULT, offset=0[, *, trackfd=True])`` — mmap(2) with the
    standard library's checks; ``fileno=-1`` maps anonymous memory.
    """

    __slots__ = ("_access", "_pos", "_trackfd")
    _pos: int
    _access: int
    _trackfd: bool

    def __new__(
        cls,
        fileno: int,
        length: int,
        flags: int = _MAP_SHARED,
        prot: int = _PROT_READ | _PROT_WRITE,
        access: int = ACCESS_DEFAULT,
        offset: int = 0,
        *,
        trackfd: bool = _NOT_GIVEN,
    ) -> mmap:
        if trackfd is _NOT_GIVEN:
            trackfd = True
        elif not _HAS_TRACKFD:
            raise TypeError("'trackfd' is an invalid keyword argument for this function")
        fd = _c_int(fileno)
        map_size = _ssize(length)
        flags, prot, access = _c_int(flags), _c_int(prot), _c_int(access)
        off = operator.index(offset)
        if not -(2**63) <= off < 2**63:
            raise OverflowError("Python int too large to convert to C long")
        track = bool(trackfd)
        if map_size < 0:
            raise OverflowError("memory mapped length must be positive")
        if off < 0:
            raise OverflowError("memory mapped offset must be positive")
        if access != ACCESS_DEFAULT and (
            flags != _MAP_SHARED or prot != (_PROT_WRITE | _PROT_READ)
        ):
            raise ValueError("mmap can't specify both access and flags, prot.")
        if access == ACCESS_READ:
            flags, prot = _MAP_SHARED, _PROT_READ
        elif access == ACCESS_WRITE:
            flags, prot = _MAP_SHARED, _PROT_READ | _PROT_WRITE
        elif access == ACCESS_COPY:
            flags, prot = _MAP_PRIVATE, _PROT_READ | _PROT_WRITE
        elif access == ACCESS_DEFAULT:
            if prot & _PROT_READ and not prot & _PROT_WRITE:
                access = ACCESS_READ
        else:
            raise ValueError("mmap invalid access parameter.")
        sys.audit("mmap.__new__", fd, map_size, access, off)
        if fd != -1:
            try:
                st = os.fstat(fd)
            except OSError:
                st = None
            if st is not None and stat.S_ISREG(st.st_mode):
                if map_size == 0:
                    if st.st_size == 0:
                        raise ValueError("cannot mmap an empty file")
                    if off >= st.st_size:
                        raise ValueError("mmap offset is greater than file size")
                    if st.st_size - off > _SSIZE_MAX:
                        raise ValueError("mmap length is too large")
                    map_size = st.st_size - off
                elif off > st.st_size or st.st_size - off < map_size:
                    raise ValueError("mmap length is greater than file size")
        self = core.Region.__new__(cls)
        self._pos = 0
        self._access = access
        self._trackfd = track
        own_fd = -1
        if fd == -1:
            flags |= _MAP_ANONYMOUS
        elif track:
            own_fd = os.dup(fd)  # non-inheritable, as CPython's _Py_dup
        try:
            address = _raw.mmap(0, map_size, prot, flags, fd, off)
        except OSError as exc:
            if own_fd >= 0:
                os.close(own_fd)
            raise _plain_os_error(exc) from None
        self._adopt(address, map_size, prot, flags, own_fd, off, own_fd >= 0)
        return self

    # -- state -------------------------------------------------------------------

    def _valid(self) -> None:
        if self.closed:
            raise ValueError("mmap closed or invalid")

    def _writable(self) -> None:
        if self._access == ACCESS_READ:
            raise TypeError("mmap can't modify a readonly memory map.")

    def _claim(self, fault: MappingFault) -> MappingFault:
        """Called by the C guard: attach this mmap and the offset of the faulting byte."""
        fault.mapping, fault.offset = self, fault.address - self.address
        fault.explanation = Mapping._explain(self, fault)  # type: ignore[arg-type]
        return fault

    @property
    def _type_name(self) -> str:
        return "mmap.mmap" if type(self) is mmap else type(self).__name__

    def __repr__(self) -> str:
        if self.closed:
            return f"<{self._type_name} closed=True>"
        return (
            f"<{self._type_name} closed=False, access={_ACCESS_NAMES[self._access]}, "
            f"length={self.length}, pos={self._pos}, offset={self.offset}>"
        )

    def __reduce_ex__(self, protocol: object) -> Any:
        raise TypeError(f"cannot pickle '{self._type_name}' object")

    def __reduce__(self) -> Any:
        raise TypeError(f"cannot pickle '{self._type_name}' object")

    def __copy__(self) -> Any:
        raise TypeError(f"cannot pickle '{self._type_name}' object")

    def __deepcopy__(self, memo: object) -> Any:
        raise TypeError(f"cannot pickle '{self._type_name}' object")

    # -- end of life -------------------------------------------------------------------

    def close(self) -> None:
        """munmap(2) the memory and close the duplicated fd.  Idempotent.

        ``BufferError`` while a buffer export (memoryview, ...) lives.
        """
        if self.closed:
            return
        if self._exports > 0:
            raise BufferError("cannot close exported pointers exist")
        if not self._exclusive("close"):
            return
        closed = False
        try:
            _raw.munmap(self.address, self.length)
            closed = True
        finally:
            self._release(self.address, self.length, closed)
        if self._owns_fd:
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def __enter__(self) -> mmap:
        self._valid()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the file position ---------------------------------------------------------------

    def tell(self) -> int:
        """The current position."""
        self._valid()
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int | None:
        """Move the position: ``whence`` 0 (start), 1 (current), 2 (end)."""
        dist = _ssize(pos)
        how = _c_int(whence)
        self._valid()
        if how == 0:
            where = dist
        elif how == 1:
            where = self._pos + dist
        elif how == 2:
            where = self.length + dist
        else:
            raise ValueError("unknown seek type")
        if where < 0 or where > self.length:
            raise ValueError("seek out of range")
        self._pos = where
        return where if _SEEK_RETURNS_POS else None

    def seekable(self) -> bool:
        """True: an mmap supports seek()."""
        return True

    def size(self) -> int:
        """The size of the mapped file (fstat(2) of the duplicated fd)."""
        self._valid()
        return os.fstat(self.fd).st_size

    def __len__(self) -> int:
        self._valid()
        return self.length

    # -- reading ---------------------------------------------------------------------------

    def read(self, n: int | None = None) -> bytes:  # type: ignore[override]
        """Up to ``n`` bytes from the position (all the rest for None or a negative n)."""
        if n is None:
            num = -1
        else:
            if not hasattr(type(n), "__index__"):
                raise TypeError(
                    f"argument should be integer or None, not '{type(n).__name__}'"
                )
            num = _ssize(n)
        self._valid()
        pos, size = self._pos, self.length
        remaining = size - pos if pos < size else 0
        if num < 0 or num > remaining:
            num = remaining
        data = _read(self, pos, num) if num else b""
        self._pos = pos + num
        return data

    def read_byte(self) -> int:
        """The byte at the position, as an int; the position moves by one."""
        self._valid()
        pos = self._pos
        if pos >= self.length:
            raise ValueError("read byte out of range")
        value = _read(self, pos, 1)[0]
        self._pos = pos + 1
        return value

    def readline(self) -> bytes:
        """The bytes from the position up to and including the next ``\\n`` (or the end)."""
        self._valid()
        pos = self._pos
        line = _readline(self, pos)
        self._pos = pos + len(line)
        return line

    def _find_args(self, sub: object, start: object, end: object) -> tuple[bytes, int, int]:
        needle = _bytes_arg(sub)
        lo = self._pos if start is _NOT_GIVEN else _ssize(start)
        hi = self.length if end is _NOT_GIVEN else _ssize(end)
        self._valid()
        size = self.length
        if lo < 0:
            lo = max(lo + size, 0)
        elif lo > size:
            lo = size
        if hi < 0:
            hi = max(hi + size, 0)
        elif hi > size:
            hi = size
        return needle, lo, hi

    def find(self, sub: Any, start: int = _NOT_GIVEN, end: int = _NOT_GIVEN) -> int:
        """Lowest index of ``sub`` in ``[start, end)`` (default: from the position), or -1."""
        needle, lo, hi = self._find_args(sub, start, end)
        if lo > hi:
            return -1
        return _search(self, needle, lo, hi, False)

    def rfind(self, sub: Any, start: int = _NOT_GIVEN, end: int = _NOT_GIVEN) -> int:
        """Highest index of ``sub`` in ``[start, end)`` (default: from the position), or -1."""
        needle, lo, hi = self._find_args(sub, start, end)
        if lo > hi:
            return -1
        return _search(self, needle, lo, hi, True)

    def __bytes__(self) -> bytes:
        self._valid()
        return _read(self, 0, self.length)

    def _getitem(self, key: Any) -> Any:
        """``m[key]`` where CompatBase's C fast path (an int index in range) does not apply."""
        if type(key) is int or (not isinstance(key, slice) and hasattr(type(key), "__index__")):
            try:
                i = operator.index(key)
            except TypeError:
                raise TypeError("mmap indices must be integers") from None
            if not -_SSIZE_MAX - 1 <= i <= _SSIZE_MAX:
                raise IndexError(
                    f"cannot fit '{type(key).__name__}' into an index-sized integer"
                )
            self._valid()
            size = self.length
            if i < 0:
                i += size
            if i < 0 or i >= size:
                raise IndexError("mmap index out of range")
            return _read(self, i, 1)[0]
        if isinstance(key, slice):
            self._valid()
            start, stop, step = key.indices(self.length)
            self._valid()
            count = len(range(start, stop, step))
            if count == 0:
                return b""
            if step == 1:
                return _read(self, start, count)
            lo = start if step > 0 else start + (count - 1) * step
            hi = start + (count - 1) * step + 1 if step > 0 else start + 1
            if hi - lo > 64 * count:  # sparse: one guarded byte each
                return bytes(_read(self, start + k * step, 1)[0] for k in range(count))
            return _read(self, lo, hi - lo)[start - lo :: step]
        self._valid()
        raise TypeError("mmap indices must be integers")

    def __iter__(self) -> Iterator[bytes]:
        i = 0
        while True:
            self._valid()
            if i >= self.length:
                return
            yield _read(self, i, 1)
            i += 1

    def __reversed__(self) -> Iterator[bytes]:
        self._valid()
        i = self.length - 1
        while i >= 0:
            self._valid()
            if i < self.length:
                yield _read(self, i, 1)
            i -= 1

    def __contains__(self, value: object) -> bool:
        if type(value) is bytes and len(value) == 1:
            self._valid()
            return _search(self, value, 0, self.length, False) >= 0
        return any(item is value or item == value for item in self)

    # -- writing ----------------------------------------------------------------------------

    def write(self, data: Any) -> int:  # type: ignore[override]
        """Write ``data`` (bytes-like) at the position; returns its length."""
        payload = _bytes_arg(data)
        self._valid()
        self._writable()
        pos, size, n = self._pos, self.length, len(payload)
        if pos > size or size - pos < n:
            raise ValueError("data out of range")
        if n:
            _write(self, pos, payload)
        self._pos = pos + n
        return n

    def write_byte(self, byte: int) -> None:
        """Write one byte (an int in range(256)) at the position."""
        value = operator.index(byte)
        if value < 0:
            raise OverflowError("unsigned byte integer is less than minimum")
        if value > 255:
            raise OverflowError("unsigned byte integer is greater than maximum")
        self._valid()
        self._writable()
        pos = self._pos
        if pos >= self.length:
            raise ValueError("write byte out of range")
        _write(self, pos, bytes((value,)))
        self._pos = pos + 1

    def _setitem(self, key: Any, value: Any) -> None:
        """``m[key] = value`` where CompatBase's C fast path does not apply."""
        if type(key) is int or (not isinstance(key, slice) and hasattr(type(key), "__index__")):
            i = operator.index(key)
            if not -_SSIZE_MAX - 1 <= i <= _SSIZE_MAX:
                raise IndexError(
                    f"cannot fit '{type(key).__name__}' into an index-sized integer"
                )
            self._valid()
            size = self.length
            if i < 0:
                i += size
            if i < 0 or i >= size:
                raise IndexError("mmap index out of range")
            self._writable()
            if not hasattr(type(value), "__index__"):
                raise TypeError("mmap item value must be an int")
            v = operator.index(value)
            if v < 0 or v > 255:
                raise ValueError("mmap item value must be in range(0, 256)")
            self._valid()
            _write(self, i, bytes((v,)))
            return
        if isinstance(key, slice):
            self._valid()
            start, stop, step = key.indices(self.length)
            self._valid()
            count = len(range(start, stop, step))
            payload = _bytes_arg(value)
            if len(payload) != count:
                raise IndexError("mmap slice assignment is wrong size")
            self._writable()
            if count == 0:
                return
            if step == 1:
                _write(self, start, payload)
            else:  # one guarded byte at a time, in C
                _region_setitem(self, slice(start, None if stop < 0 else stop, step), payload)
            return
        self._valid()
        raise TypeError("mmap indices must be integer")

    def _delitem(self, key: Any) -> None:
        self._valid()
        if isinstance(key, slice):
            raise TypeError("mmap object doesn't support slice deletion")
        raise TypeError("mmap doesn't support item deletion")

    def move(self, dest: int, src: int, count: int) -> None:
        """Copy ``count`` bytes from offset ``src`` to ``dest`` (the ranges may overlap)."""
        d, s, c = _ssize(dest), _ssize(src), _ssize(count)
        self._valid()
        self._writable()
        size = self.length
        if d < 0 or s < 0 or c < 0 or size - d < c or size - s < c:
            raise ValueError("source, destination, or count out of range")
        if c:
            _write(self, d, _read(self, s, c))

    # -- the calls on the whole mapping ------------------------------------------------------

    def flush(self, offset: int = 0, size: int = _NOT_GIVEN) -> None:
        """msync(2) of ``[offset, offset+size)`` with MS_SYNC (nothing for ACCESS_READ/COPY)."""
        off = _ssize(offset)
        n = self.length if size is _NOT_GIVEN else _ssize(size)
        self._valid()
        if n < 0 or off < 0 or self.length - off < n:
            raise ValueError("flush values out of range")
        if self._access in (ACCESS_READ, ACCESS_COPY):
            return None
        try:
            _raw.msync(self.address + off, n, _MS_SYNC)
        except OSError as exc:
            raise _plain_os_error(exc) from None
        return None

    def madvise(self, option: int, start: int = 0, length: int = _NOT_GIVEN) -> None:
        """madvise(2) of ``[start, start+length)`` (default: to the end) with ``option``."""
        advice = _c_int(option)
        lo = _ssize(start)
        n = self.length if length is _NOT_GIVEN else _ssize(length)
        self._valid()
        size = self.length
        if lo < 0 or lo >= size:
            raise ValueError("madvise start out of bounds")
        if n < 0:
            raise ValueError("madvise length invalid")
        if _SSIZE_MAX - lo < n:
            raise OverflowError("madvise length too large")
        if lo + n > size:
            n = size - lo
        try:
            _raw.madvise(self.address + lo, n, advice)
        except OSError as exc:
            raise _plain_os_error(exc) from None

    def resize(self, newsize: int) -> None:
        """Resize the map (and ftruncate(2) the file) to ``newsize`` bytes: mremap(2)."""
        new = _ssize(newsize)
        self._valid()
        if self._exports > 0:
            raise BufferError("mmap can't resize with extant buffers exported.")
        if self._access not in (ACCESS_WRITE, ACCESS_DEFAULT):
            raise TypeError("mmap can't resize a readonly or copy-on-write memory map.")
        if not self._trackfd:
            raise ValueError("mmap can't resize with trackfd=False.")
        if new < 0 or _SSIZE_MAX - new < self.offset:
            raise ValueError("new size out of range")
        if self.fd != -1:
            os.ftruncate(self.fd, self.offset + new)
        if not self._exclusive("resize"):
            self._valid()
        address, length = self.address, self.length
        try:
            address = _raw.mremap(address, length, new, _MREMAP_MAYMOVE)
            length = new
        except OSError as exc:
            raise _plain_os_error(exc) from None
        finally:
            self._release(address, length, False)


mmap.__module__ = __name__
if not _HAS_SEEKABLE:
    del mmap.seekable
if not _HAS_MADVISE:
    del mmap.madvise
del _name
