"""rawmmap: libc's mmap family from Python, exactly as C calls it — and the crash explained.

The public API is exactly what this module re-exports (see ``__all__``); the
header constants (``PROT_*``, ``MAP_*``, ``MS_*``, ``MADV_*``, ``MREMAP_*``,
``MFD_*``, ``MLOCK_*``, ``MCL_*``, ``PKEY_*``) are added from the compiled module,
each only if the build machine's headers define it, and each raw call only if
its C library has it.
"""

from __future__ import annotations

from ._access import read as read
from ._access import read_into as read_into
from ._access import touch as touch
from ._access import write as write
from ._atomic import atomic_add as atomic_add
from ._atomic import atomic_compare_exchange as atomic_compare_exchange
from ._atomic import atomic_exchange as atomic_exchange
from ._atomic import atomic_load as atomic_load
from ._atomic import atomic_store as atomic_store
from ._constants import MFD as MFD
from ._constants import MS as MS
from ._constants import VALUES as _VALUES
from ._constants import Madv as Madv
from ._constants import Map as Map
from ._constants import Mremap as Mremap
from ._constants import Prot as Prot
from ._errors import MappingFault as MappingFault
from ._introspect import VMA as VMA
from ._introspect import FaultCounts as FaultCounts
from ._introspect import Residency as Residency
from ._introspect import fault_counts as fault_counts
from ._introspect import file_residency as file_residency
from ._introspect import vma_for as vma_for
from ._introspect import vmas as vmas
from ._isolate import ChildTraceback as ChildTraceback
from ._isolate import Outcome as Outcome
from ._isolate import run_isolated as run_isolated
from ._mapping import Mapping as Mapping
from ._mapping import PatchedPagesWarning as PatchedPagesWarning
from ._mapping import map_anonymous as map_anonymous
from ._mapping import map_file as map_file
from ._mutex import SharedMutex as SharedMutex
from ._pages import PageInfo as PageInfo
from ._pages import clear_soft_dirty as clear_soft_dirty
from ._pages import pages as pages
from ._raw import UNAVAILABLE as _UNAVAILABLE
from ._raw import ftruncate as ftruncate
from ._raw import madvise as madvise
from ._raw import memfd_create as memfd_create
from ._raw import mincore as mincore
from ._raw import mlock as mlock
from ._raw import mlock2 as mlock2
from ._raw import mlockall as mlockall
from ._raw import mmap as mmap
from ._raw import mprotect as mprotect
from ._raw import mremap as mremap
from ._raw import msync as msync
from ._raw import munlock as munlock
from ._raw import munlockall as munlockall
from ._raw import munmap as munmap
from ._raw import page_size as page_size
from ._raw import pkey_alloc as pkey_alloc
from ._raw import pkey_free as pkey_free
from ._raw import pkey_get as pkey_get
from ._raw import pkey_mprotect as pkey_mprotect
from ._raw import pkey_set as pkey_set
from ._raw import process_madvise as process_madvise
from ._trace import trace as trace

for _name in _UNAVAILABLE:  # a raw call the C library lacks is left out, as a constant is
    del globals()[_name]

__version__ = "0.1.0"

#: The page size of this machine, as ``sysconf(_SC_PAGESIZE)`` reports it.
PAGESIZE: int = page_size()

_CONSTANT_PREFIXES = ("PROT_", "MAP_", "MS_", "MADV_", "MREMAP_", "MFD_", "MLOCK_", "MCL_", "PKEY_")
_header_constants = {n: v for n, v in _VALUES.items() if n.startswith(_CONSTANT_PREFIXES)}
globals().update(_header_constants)


def __getattr__(name: str) -> int:
    # Only reached for a name that is not a module attribute: tells type checkers
    # that the header constants are ints, and says why one is missing.
    if name.startswith(_CONSTANT_PREFIXES):
        raise AttributeError(f"rawmmap has no {name}: the headers rawmmap was built with lack it")
    if name in _UNAVAILABLE:
        raise AttributeError(f"rawmmap has no {name}: the C library it was built with lacks it")
    raise AttributeError(f"module 'rawmmap' has no attribute {name!r}")


__all__ = [
    "MFD",
    "VMA",
    "FaultCounts",
    "Residency",
    "SharedMutex",
    "atomic_add",
    "atomic_compare_exchange",
    "atomic_exchange",
    "atomic_load",
    "atomic_store",
    "ChildTraceback",
    "fault_counts",
    "file_residency",
    "trace",
    "vma_for",
    "vmas",
    "Mapping",
    "PatchedPagesWarning",
    "Outcome",
    "map_anonymous",
    "map_file",
    "run_isolated",
    "MS",
    "PAGESIZE",
    "Madv",
    "Map",
    "MappingFault",
    "Mremap",
    "Prot",
    "ftruncate",
    "madvise",
    "memfd_create",
    "mincore",
    "mlock",
    "mmap",
    "mprotect",
    "mremap",
    "msync",
    "munlock",
    "munmap",
    "page_size",
    "pages",
    "PageInfo",
    "clear_soft_dirty",
    "read",
    "read_into",
    "touch",
    "write",
    "mlock2",
    "mlockall",
    "munlockall",
    "pkey_alloc",
    "pkey_free",
    "pkey_get",
    "pkey_mprotect",
    "pkey_set",
    "process_madvise",
    *sorted(_header_constants),
]
__all__ = [n for n in __all__ if n not in _UNAVAILABLE]

# Public classes say where to find them: tracebacks and reprs read
# ``rawmmap.MappingFault``, not ``rawmmap._errors.MappingFault``.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("rawmmap."):
        _obj.__module__ = "rawmmap"
del _name, _obj
