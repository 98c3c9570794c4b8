"""``Mapping``: one mapped range, owned exactly, with guarded access.

A Mapping is made by exactly one ``mmap`` call with the arguments given, and
unmapped by exactly one ``munmap``: in :meth:`Mapping.close`, or at once when
the last reference goes.  Its state lives in ``rawmmap._core.Region``, a small
C object (see ``_csrc/core.c``): it counts buffer exports (memoryviews,
numpy arrays, a :class:`~rawmmap.SharedMutex`) in its buffer protocol, the way
CPython's ``mmap`` does, and guarded accesses that run without the GIL;
``close()``/``remap()`` raise ``BufferError`` while exports live, wait for
copies in flight, and every access checks the state first.  Nothing ever touches an address after
it was unmapped.  Indexing, slicing, ``read``, ``write``, ``bytes(m)`` and the
atomics go through the fault guard (a SIGBUS/SIGSEGV becomes
:class:`rawmmap.MappingFault` with ``.mapping`` and ``.offset``);
:meth:`Mapping.view` and ``memoryview(m)`` are zero-copy and *not* guarded.
A Mapping cannot be copied or pickled (the copy would unmap the original's
memory).
"""

from __future__ import annotations

import operator
import os
import signal
import warnings
from types import TracebackType
from typing import TYPE_CHECKING

from . import _raw
from ._bindings import core
from ._constants import VALUES, format_addr, format_map_flags, format_prot
from ._errors import MappingFault

if TYPE_CHECKING:
    from ._pages import PageInfo

__all__ = ["Mapping", "PatchedPagesWarning", "map_anonymous", "map_file"]

PROT_READ = VALUES["PROT_READ"]
PROT_WRITE = VALUES["PROT_WRITE"]
MAP_PRIVATE = VALUES["MAP_PRIVATE"]
MAP_SHARED = VALUES["MAP_SHARED"]
MAP_ANONYMOUS = VALUES["MAP_ANONYMOUS"]
MAP_FIXED = VALUES["MAP_FIXED"]
MS_SYNC = VALUES["MS_SYNC"]
_MREMAP_MAYMOVE = VALUES.get("MREMAP_MAYMOVE", 0)
_PAGE = _raw.page_size()
_BUS_ADRERR = VALUES["BUS_ADRERR"]
_ON_SIGBUS = ("raise", "zero")


class PatchedPagesWarning(ResourceWarning):
    """A recovery-mode Mapping was closed with patched pages nobody checked."""


PatchedPagesWarning.__module__ = "rawmmap"


def _check_on_sigbus(func: str, on_sigbus: object) -> None:
    if not isinstance(on_sigbus, str) or on_sigbus not in _ON_SIGBUS:
        raise ValueError(
            f"{func}(): on_sigbus must be 'raise' (a fault beyond the end of the file kills "
            f"the process, as in C) or 'zero' (the page is replaced by zeros and recorded), "
            f"not {on_sigbus!r}"
        )


def _refuse_fixed(func: str, flags: object) -> None:
    try:
        value = operator.index(flags)  # type: ignore[arg-type]
    except TypeError:
        return  # the raw layer names the wrong type
    if value & MAP_FIXED:
        raise ValueError(
            f"{func}(): flags must not contain MAP_FIXED: it silently replaces whatever is "
            "mapped at addr, including memory this program is using. Use MAP_FIXED_NOREPLACE "
            "(fails with EEXIST instead), or the raw rawmmap.mmap() where replacing memory is "
            "the experiment"
        )


class Mapping(core.Region):
    """A range of memory mapped by one ``mmap(addr, length, prot, flags, fd, offset)`` call.

    ``Mapping(length, prot=PROT_READ|PROT_WRITE, flags=MAP_PRIVATE|MAP_ANONYMOUS,
    fd=-1, offset=0, addr=0)`` makes the call with exactly these arguments;
    a refusal raises the raw layer's ``OSError``.  ``MAP_FIXED`` is refused
    with ``ValueError`` (use ``MAP_FIXED_NOREPLACE``, or the raw
    ``rawmmap.mmap``).  The fd is never closed by the Mapping unless it came
    from :func:`map_file` given a path.

    Indexing covers ``[0, length)``; ``rawmmap.read``/``rawmmap.write`` at
    ``m.address + i`` reach the rest of the last page.  A closed Mapping
    refuses every operation with ``ValueError``.  ``len``, ``m[i]``,
    ``m[i:j]`` (with steps), assignment to both, :meth:`read`,
    :meth:`write`, ``bytes(m)`` and the atomics are guarded C calls.
    """

    __slots__ = ("_checked", "path")
    path: str | None
    _checked: set[int]

    def __init__(
        self,
        length: int,
        prot: int = PROT_READ | PROT_WRITE,
        flags: int = MAP_PRIVATE | MAP_ANONYMOUS,
        fd: int = -1,
        offset: int = 0,
        addr: int = 0,
        *,
        on_sigbus: str = "raise",
        _owns_fd: bool = False,
    ) -> None:
        self.path = None
        self._checked = set()
        if self.address:
            raise RuntimeError(f"{type(self).__name__}.__init__ called twice")
        _refuse_fixed(type(self).__name__, flags)
        _check_on_sigbus(type(self).__name__, on_sigbus)
        address = _raw.mmap(addr, length, prot, flags, fd, offset)
        self._adopt(address, int(length), int(prot), int(flags), int(fd), int(offset), _owns_fd)
        if on_sigbus == "zero":
            try:
                self._recover()
            except BaseException:
                self.close()
                raise

    # -- state -----------------------------------------------------------------

    def __repr__(self) -> str:
        if self.closed and self.length == 0 and self.address == 0:
            return f"<rawmmap.{type(self).__name__} (never mapped)>"
        state = " closed" if self.closed else ""
        fd = f" fd={self.fd}" if self.fd >= 0 else ""
        path = f" path={self.path!r}" if getattr(self, "path", None) else ""
        return (
            f"<rawmmap.{type(self).__name__}{state} {format_addr(self.address)} "
            f"length={self.length} {format_prot(self.prot)} {format_map_flags(self.flags)}"
            f"{fd}{path}>"
        )

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("operation on a closed Mapping (it was unmapped)")

    # -- faults ----------------------------------------------------------------

    def _claim(self, fault: MappingFault) -> MappingFault:
        """Attach this mapping, the offset and the explanation to a fault at its address."""
        fault.mapping, fault.offset = self, fault.address - self.address
        fault.explanation = self._explain(fault)
        return fault

    def _explain(self, fault: MappingFault) -> str:
        offset = fault.address - self.address
        if fault.code == "BUS_ADRERR" and self.fd >= 0:
            try:
                size = os.fstat(self.fd).st_size
            except OSError:
                return "the page lies beyond the end of the file backing the mapping"
            needed = self.offset + offset - offset % _PAGE + _PAGE
            return (
                f"the page at offset {offset - offset % _PAGE} of the mapping lies beyond the end "
                f"of the backing file (size {size}): ftruncate the file to at least "
                f"{needed} bytes first"
            )
        if fault.code == "SEGV_ACCERR":
            return (
                f"the mapping's protection is {format_prot(self.prot)}, which does not allow "
                "this access (see mprotect(2))"
            )
        if fault.code == "SEGV_MAPERR":
            return "nothing is mapped there any more (unmapped or replaced behind the Mapping)"
        if fault.code == "SEGV_PKUERR":
            return "the page's protection key denies this access to this thread (pkeys(7))"
        return "the kernel refused the access"

    # -- recovery mode (on_sigbus="zero"; the table is section 1r of _csrc/core.c) --

    @property
    def on_sigbus(self) -> str:
        """``"zero"`` for a recovery-mode Mapping, else ``"raise"``."""
        return "zero" if self._recovering else "raise"

    @property
    def patched(self) -> list[tuple[int, bool | None]]:
        """The pages replaced by zeros and not repaired: ``(offset, wrote)``, by offset.

        ``wrote`` is True for a write access, False for a read, None where the
        CPU does not say (x86-64's page-fault error code says).  Always empty
        for ``on_sigbus="raise"``.
        """
        return self._patches()

    def check(self) -> None:
        """Raise :class:`MappingFault` (SIGBUS, ``BUS_ADRERR``) if any page was patched.

        The fault names the first patched page (``.offset``, ``.address``) and
        the message lists all of them (as runs of pages beyond 32).  Patches
        stay until :meth:`repair`.
        """
        patches = self._patches()
        if not patches:
            return
        self._checked.update(off for off, _ in patches)
        first = patches[0][0]
        fault = MappingFault(signal.SIGBUS, _BUS_ADRERR, self.address + first)
        fault.mapping, fault.offset = self, first
        if len(patches) <= 32:
            listed = ", ".join(
                f"{off} ({'write' if w else 'read' if w is False else 'access'})"
                for off, w in patches
            )
        else:
            runs: list[list[int]] = []
            for off, _ in patches:
                if runs and runs[-1][1] + _PAGE == off:
                    runs[-1][1] = off
                else:
                    runs.append([off, off])
            listed = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)
        fault.explanation = (
            f"on_sigbus='zero' replaced {len(patches)} page(s) beyond the end of the file by "
            f"zeros (writes into them are lost): offsets {listed}; "
            "regrow the file and call repair()"
        )
        raise fault

    def repair(self) -> list[int]:
        """Map the file back over every patched page the file covers again; their offsets.

        Each page is ``mmap(page, pagesize, prot, flags|MAP_FIXED, fd,
        offset+page_offset)`` — the Mapping's own protection, flags and offset
        arithmetic — over a page this Mapping owns, so the address (and every
        numpy array or memoryview of it) stays the same.  Pages the file
        still does not reach stay patched.  mmap(2).
        """
        self._check_open()
        patches = self._patches()
        if not patches or self.fd < 0:
            return []
        size = os.fstat(self.fd).st_size
        done: list[int] = []
        for off, _ in patches:
            if self.offset + off >= size:
                continue
            _raw.mmap(self.address + off, _PAGE, self.prot, self.flags | MAP_FIXED, self.fd,
                      self.offset + off)  # fmt: skip
            self._repaired(off)
            self._checked.discard(off)
            done.append(off)
        return done

    def _unchecked(self) -> list[int]:
        return [off for off, _ in self._patches() if off not in self._checked]

    # -- atomics: atomic_load/store/add/exchange/compare_exchange(offset, ..., size=8) are
    # C methods of core.Region (guarded; one call, no Python frame; see rawmmap._atomic)

    # -- zero-copy views -------------------------------------------------------

    def view(self) -> memoryview:
        """A zero-copy memoryview of ``[0, length)`` — NOT guarded (same as ``memoryview(m)``).

        Touching a page beyond the end of the file, or a page whose protection
        forbids the access, through the view (or a numpy array made from it)
        kills the process with SIGBUS/SIGSEGV exactly as C would.  Read-only
        when the mapping lacks ``PROT_WRITE``.  While any view lives,
        :meth:`close` and :meth:`remap` raise ``BufferError``.
        """
        return memoryview(self)

    # -- the calls on the whole mapping ---------------------------------------

    def _span(self, offset: int, n: int, what: str) -> None:
        if not 0 <= offset <= offset + n <= self.length or n < 0:
            raise IndexError(
                f"{what}: bytes [{offset}, {offset + n}) are outside the mapping [0, {self.length})"
            )

    def sync(self, flags: int = MS_SYNC, offset: int = 0, length: int | None = None) -> None:
        """``msync`` of ``[offset, offset+length)`` (default: all) with ``flags`` (MS_SYNC).

        The start is rounded down to a page boundary, as msync(2) requires.
        """
        self._check_open()
        if length is None:
            length = self.length - offset
        self._span(offset, length, "sync")
        start = offset - offset % _PAGE
        _raw.msync(self.address + start, length + (offset - start), flags)

    def protect(self, prot: int, pkey: int | None = None) -> None:
        """``mprotect`` the whole mapping to ``prot``; ``.prot`` follows.

        With ``pkey``, ``pkey_mprotect(addr, length, prot, pkey)`` tags the
        pages with a protection key as well (pkeys(7)).
        """
        self._check_open()
        if pkey is None:
            _raw.mprotect(self.address, self.length, prot)
        else:
            _raw.pkey_mprotect(self.address, self.length, prot, pkey)
        self._set_prot(int(prot))

    def advise(self, advice: int) -> None:
        """``madvise`` the whole mapping with ``advice`` (``MADV_*``)."""
        self._check_open()
        _raw.madvise(self.address, self.length, advice)

    def lock(self, onfault: bool = False) -> None:
        """``mlock`` the whole mapping (fault every page in and keep it resident).

        ``onfault=True`` is ``mlock2(..., MLOCK_ONFAULT)``: pages are locked as
        they are first touched, nothing is faulted in now (mlock2(2)).
        """
        self._check_open()
        if onfault:
            _raw.mlock2(self.address, self.length, VALUES["MLOCK_ONFAULT"])
        else:
            _raw.mlock(self.address, self.length)

    def unlock(self) -> None:
        """``munlock`` the whole mapping."""
        self._check_open()
        _raw.munlock(self.address, self.length)

    def remap(self, new_length: int, *, may_move: bool = True) -> None:
        """``mremap`` to ``new_length`` (``MREMAP_MAYMOVE`` unless ``may_move=False``).

        ``.address`` and ``.length`` follow; data up to the shorter length is
        kept.  Raises ``BufferError`` while views exist (the memory may move
        under them; copies in flight are waited for) and the raw layer's
        ``OSError`` (ENOMEM: cannot grow in place without moving).  Growing a
        ``MAP_SHARED|MAP_ANONYMOUS`` mapping leaves the new pages beyond its
        shared object: they SIGBUS.  A recovery-mode Mapping with patched
        pages is refused with ``ValueError`` (repair() first).
        """
        self._check_open()
        if self._recovering and self._patches():
            raise ValueError(
                "remap(): pages of this Mapping are patched with zeros (on_sigbus='zero'); "
                "mremap cannot move a range made of several mappings (EFAULT): regrow the "
                "file and repair() first"
            )
        flags = _MREMAP_MAYMOVE if may_move else 0
        if not self._exclusive("remap"):
            self._check_open()
        address, length = self.address, self.length
        try:
            address = _raw.mremap(address, length, new_length, flags)
            length = int(new_length)
        finally:
            self._release(address, length, False)

    def pages(self) -> list[PageInfo]:
        """Every page's state from ``/proc/self/pagemap`` (see :func:`rawmmap.pages`)."""
        self._check_open()
        from ._pages import pages

        return pages(self.address, self.length)

    def _repr_html_(self) -> str:
        """The page grid, for Jupyter (an SVG of :meth:`pages`)."""
        from ._svg import mapping_html

        return mapping_html(self)

    def residency(self) -> list[bool]:
        """``mincore``: one bool per page, True where the page is resident."""
        self._check_open()
        return [bool(b & 1) for b in _raw.mincore(self.address, self.length)]

    # -- end of life -----------------------------------------------------------

    def close(self) -> None:
        """``munmap`` the range (and close the fd if the Mapping opened it).  Idempotent.

        Raises ``BufferError`` while a view (or anything made from one, or a
        SharedMutex) is alive.  A guarded copy that another thread is doing
        right now is waited for; later accesses raise ``ValueError``.  Two
        threads closing at once make one ``munmap``.
        """
        unchecked = self._unchecked() if self._recovering else []
        if not self._exclusive("close"):
            return  # already closed
        closed = False
        try:
            _raw.munmap(self.address, self.length)
            closed = True
        finally:
            self._release(self.address, self.length, closed)
        if self._owns_fd:
            os.close(self.fd)
        if unchecked:
            warnings.warn(
                f"{self!r} was closed with page(s) at offsets {unchecked} replaced by zeros "
                "(on_sigbus='zero') and never checked: call check() (or use 'with') to see them",
                PatchedPagesWarning,
                stacklevel=2,
            )

    def __enter__(self) -> Mapping:
        self._check_open()
        if self._recovering:
            self._recover()  # rawmmap's handler on top again (faulthandler.enable() since?)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None and not self.closed:
                self.check()
        finally:
            self.close()


def map_file(
    path_or_fd: str | os.PathLike[str] | int,
    length: int | None = None,
    *,
    offset: int = 0,
    prot: int = PROT_READ | PROT_WRITE,
    flags: int = MAP_SHARED,
    addr: int = 0,
    on_sigbus: str = "raise",
) -> Mapping:
    """Map a file, by path or fd.

    A path is opened read-write (read-only when ``prot`` lacks ``PROT_WRITE``)
    and the fd is closed with the Mapping; an fd is used as is and left open.
    ``length=None`` means the file's size minus ``offset``, or one page when
    that is 0 or less: an empty file is mapped too, and a ``length`` past the
    end of the file is allowed — touching a page wholly beyond EOF is the
    SIGBUS lesson (the standard library refuses both).

    ``on_sigbus="zero"`` is recovery mode: a zero-copy access (numpy,
    memoryview, ctypes) to a page beyond the end of the file gets a page of
    zeros instead of killing the process, and the page is recorded —
    :attr:`Mapping.patched`, :meth:`Mapping.check`, :meth:`Mapping.repair`.
    """
    _refuse_fixed("map_file", flags)
    _check_on_sigbus("map_file", on_sigbus)
    owns = not isinstance(path_or_fd, int)
    if owns:
        mode = os.O_RDWR if prot & PROT_WRITE else os.O_RDONLY
        fd = os.open(path_or_fd, mode | os.O_CLOEXEC)  # type: ignore[arg-type]
    else:
        fd = path_or_fd  # type: ignore[assignment]
    try:
        if length is None:
            size = os.fstat(fd).st_size - offset
            length = size if size > 0 else _PAGE
        mapping = Mapping(length, prot, flags, fd, offset, addr, on_sigbus=on_sigbus, _owns_fd=owns)
    except BaseException:
        if owns:
            os.close(fd)
        raise
    mapping.path = os.fsdecode(path_or_fd) if owns else None  # type: ignore[arg-type]
    return mapping


def map_anonymous(
    length: int,
    *,
    prot: int = PROT_READ | PROT_WRITE,
    flags: int = MAP_PRIVATE,
    addr: int = 0,
) -> Mapping:
    """Map anonymous memory: ``MAP_ANONYMOUS`` is added, fd is -1.

    Pass ``flags=MAP_SHARED`` to share the memory with forked children.
    """
    _refuse_fixed("map_anonymous", flags)
    return Mapping(length, prot, flags | MAP_ANONYMOUS, -1, 0, addr)
