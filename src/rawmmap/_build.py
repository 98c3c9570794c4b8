"""CFFI API-mode builder for ``rawmmap._native``.

Run by setuptools through ``cffi_modules`` (see setup.py) at install time, or by
hand with ``python src/rawmmap/_build.py``.  The C side is in three parts:

* ``INCLUDES`` — the system headers every constant and prototype comes from;
* ``CDEF`` — what Python sees: the constants (``#define NAME ...``, values
  taken from the headers by the compiler), the ``RAWMMAP_HAS_<NAME>`` flags
  telling which of them the headers define, and the helper prototypes;
* ``_csrc/rawmmap.c`` — the static helpers: thin libc wrappers.

The fault guard, guarded copies, atomics, the mutex and the owner object of a
mapping are plain CPython C in ``_csrc/core.c`` (``rawmmap._core``, built by
setup.py's ``ext_modules``).

A constant the build machine's headers lack is compiled as a placeholder with
``RAWMMAP_HAS_<NAME> == 0`` and is then left out of the Python API: nothing is
invented.
"""

from __future__ import annotations

import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent

#: Constants, by family.  Every name the headers define is exported by rawmmap.
CONSTANTS: dict[str, tuple[str, ...]] = {
    "PROT": (
        "PROT_NONE",
        "PROT_READ",
        "PROT_WRITE",
        "PROT_EXEC",
        "PROT_SEM",
        "PROT_GROWSDOWN",
        "PROT_GROWSUP",
    ),
    "MAP": (
        "MAP_SHARED",
        "MAP_PRIVATE",
        "MAP_SHARED_VALIDATE",
        "MAP_TYPE",
        "MAP_FIXED",
        "MAP_ANONYMOUS",
        "MAP_ANON",
        "MAP_FILE",
        "MAP_32BIT",
        "MAP_GROWSDOWN",
        "MAP_DENYWRITE",
        "MAP_EXECUTABLE",
        "MAP_LOCKED",
        "MAP_NORESERVE",
        "MAP_POPULATE",
        "MAP_NONBLOCK",
        "MAP_STACK",
        "MAP_HUGETLB",
        "MAP_SYNC",
        "MAP_FIXED_NOREPLACE",
        "MAP_UNINITIALIZED",
        "MAP_DROPPABLE",
        "MAP_HUGE_SHIFT",
        "MAP_HUGE_MASK",
        "MAP_HUGE_64KB",
        "MAP_HUGE_512KB",
        "MAP_HUGE_1MB",
        "MAP_HUGE_2MB",
        "MAP_HUGE_8MB",
        "MAP_HUGE_16MB",
        "MAP_HUGE_32MB",
        "MAP_HUGE_256MB",
        "MAP_HUGE_512MB",
        "MAP_HUGE_1GB",
        "MAP_HUGE_2GB",
        "MAP_HUGE_16GB",
    ),
    "MS": ("MS_ASYNC", "MS_SYNC", "MS_INVALIDATE"),
    "MADV": (
        "MADV_NORMAL",
        "MADV_RANDOM",
        "MADV_SEQUENTIAL",
        "MADV_WILLNEED",
        "MADV_DONTNEED",
        "MADV_FREE",
        "MADV_REMOVE",
        "MADV_DONTFORK",
        "MADV_DOFORK",
        "MADV_MERGEABLE",
        "MADV_UNMERGEABLE",
        "MADV_HUGEPAGE",
        "MADV_NOHUGEPAGE",
        "MADV_DONTDUMP",
        "MADV_DODUMP",
        "MADV_WIPEONFORK",
        "MADV_KEEPONFORK",
        "MADV_COLD",
        "MADV_PAGEOUT",
        "MADV_POPULATE_READ",
        "MADV_POPULATE_WRITE",
        "MADV_DONTNEED_LOCKED",
        "MADV_COLLAPSE",
        "MADV_HWPOISON",
        "MADV_SOFT_OFFLINE",
        "MADV_GUARD_INSTALL",
        "MADV_GUARD_REMOVE",
    ),
    "MREMAP": ("MREMAP_MAYMOVE", "MREMAP_FIXED", "MREMAP_DONTUNMAP"),
    # -- issue 15: mlock2, mlockall, protection keys (family.c) --
    "MLOCK": ("MLOCK_ONFAULT",),
    "MCL": ("MCL_CURRENT", "MCL_FUTURE", "MCL_ONFAULT"),
    "PKEY": (
        "PKEY_UNRESTRICTED",
        "PKEY_DISABLE_ACCESS",
        "PKEY_DISABLE_WRITE",
        "PKEY_DISABLE_EXECUTE",
        "PKEY_DISABLE_READ",
        "PKEY_ACCESS_MASK",
    ),
    "MFD": (
        "MFD_CLOEXEC",
        "MFD_ALLOW_SEALING",
        "MFD_HUGETLB",
        "MFD_NOEXEC_SEAL",
        "MFD_EXEC",
        "MFD_HUGE_SHIFT",
        "MFD_HUGE_MASK",
        "MFD_HUGE_64KB",
        "MFD_HUGE_512KB",
        "MFD_HUGE_1MB",
        "MFD_HUGE_2MB",
        "MFD_HUGE_8MB",
        "MFD_HUGE_16MB",
        "MFD_HUGE_32MB",
        "MFD_HUGE_256MB",
        "MFD_HUGE_512MB",
        "MFD_HUGE_1GB",
        "MFD_HUGE_2GB",
        "MFD_HUGE_16GB",
    ),
    # /proc/kpageflags bit numbers (<linux/kernel-page-flags.h>), to name a page's flags.
    "KPF": (
        "KPF_LOCKED",
        "KPF_ERROR",
        "KPF_REFERENCED",
        "KPF_UPTODATE",
        "KPF_DIRTY",
        "KPF_LRU",
        "KPF_ACTIVE",
        "KPF_SLAB",
        "KPF_WRITEBACK",
        "KPF_RECLAIM",
        "KPF_BUDDY",
        "KPF_MMAP",
        "KPF_ANON",
        "KPF_SWAPCACHE",
        "KPF_SWAPBACKED",
        "KPF_COMPOUND_HEAD",
        "KPF_COMPOUND_TAIL",
        "KPF_HUGE",
        "KPF_UNEVICTABLE",
        "KPF_HWPOISON",
        "KPF_NOPAGE",
        "KPF_KSM",
        "KPF_THP",
        "KPF_OFFLINE",
        "KPF_ZERO_PAGE",
        "KPF_IDLE",
        "KPF_PGTABLE",
    ),
    # si_code values, to name the cause of a SIGBUS/SIGSEGV (and friends).
    "SI": (
        "SI_USER",
        "SI_KERNEL",
        "SI_QUEUE",
        "SI_TIMER",
        "SI_MESGQ",
        "SI_ASYNCIO",
        "SI_SIGIO",
        "SI_TKILL",
        "BUS_ADRALN",
        "BUS_ADRERR",
        "BUS_OBJERR",
        "BUS_MCEERR_AR",
        "BUS_MCEERR_AO",
        "SEGV_MAPERR",
        "SEGV_ACCERR",
        "SEGV_BNDERR",
        "SEGV_PKUERR",
        "SEGV_ACCADI",
        "SEGV_ADIDERR",
        "SEGV_ADIPERR",
        "SEGV_MTEAERR",
        "SEGV_MTESERR",
        "SEGV_CPERR",
        "ILL_ILLOPC",
        "ILL_ILLOPN",
        "ILL_ILLADR",
        "ILL_ILLTRP",
        "ILL_PRVOPC",
        "ILL_PRVREG",
        "ILL_COPROC",
        "ILL_BADSTK",
        "FPE_INTDIV",
        "FPE_INTOVF",
        "FPE_FLTDIV",
        "FPE_FLTOVF",
        "FPE_FLTUND",
        "FPE_FLTRES",
        "FPE_FLTINV",
        "FPE_FLTSUB",
        "TRAP_BRKPT",
        "TRAP_TRACE",
    ),
}

ALL_CONSTANTS: tuple[str, ...] = tuple(n for names in CONSTANTS.values() for n in names)

INCLUDES = r"""
#define _GNU_SOURCE 1
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__) && defined(__has_include)
#  if __has_include(<linux/mman.h>)
#    include <linux/mman.h>
#  endif
#  if __has_include(<linux/memfd.h>)
#    include <linux/memfd.h>
#  endif
#  if __has_include(<linux/kernel-page-flags.h>)
#    include <linux/kernel-page-flags.h>
#  endif
#endif
"""

HELPERS = r"""
uintptr_t rawmmap_mmap(uintptr_t addr, size_t length, int prot, int flags, int fd,
                       int64_t offset);
int rawmmap_munmap(uintptr_t addr, size_t length);
int rawmmap_msync(uintptr_t addr, size_t length, int flags);
int rawmmap_mprotect(uintptr_t addr, size_t length, int prot);
int rawmmap_ftruncate(int fd, int64_t length);
int rawmmap_madvise(uintptr_t addr, size_t length, int advice);
int rawmmap_mincore(uintptr_t addr, size_t length, unsigned char *vec);
int rawmmap_mlock(uintptr_t addr, size_t length);
int rawmmap_munlock(uintptr_t addr, size_t length);
uintptr_t rawmmap_mremap(uintptr_t old_addr, size_t old_size, size_t new_size, int flags,
                         uintptr_t new_addr);
int rawmmap_memfd_create(const char *name, unsigned int flags);
long rawmmap_page_size(void);
"""


# -- issue 15: more of the family (_csrc/family.c) ---------------------------
# RAWMMAP_LIBC_HAS_<NAME> is 1 where the C library has the function; where it
# is 0 the wrapper fails with ENOSYS and Python leaves the call out.
FAMILY_HELPERS = r"""
struct iovec { void *iov_base; size_t iov_len; ...; };
#define RAWMMAP_LIBC_HAS_MLOCK2 ...
#define RAWMMAP_LIBC_HAS_PKEYS ...
#define RAWMMAP_LIBC_HAS_PROCESS_MADVISE ...
int rawmmap_mlock2(uintptr_t addr, size_t length, unsigned int flags);
int rawmmap_mlockall(int flags);
int rawmmap_munlockall(void);
int rawmmap_mincore_at(uintptr_t addr, size_t length, uintptr_t vec);
int rawmmap_memfd_create_at(uintptr_t name, unsigned int flags);
int rawmmap_pkey_alloc(unsigned int flags, unsigned int access_rights);
int rawmmap_pkey_free(int pkey);
int rawmmap_pkey_mprotect(uintptr_t addr, size_t length, int prot, int pkey);
int rawmmap_pkey_get(int pkey);
int rawmmap_pkey_set(int pkey, unsigned int access_rights);
int64_t rawmmap_process_madvise(int pidfd, const struct iovec *iov, size_t count, int advice,
                                unsigned int flags);
"""
FAMILY_SOURCE = "_csrc/family.c"


def _constant_guards() -> str:
    """C that gives every listed name a value and a RAWMMAP_HAS_<NAME> flag."""
    out = []
    for name in ALL_CONSTANTS:
        out.append(
            f"#ifdef {name}\n#define RAWMMAP_HAS_{name} 1\n#else\n"
            f"#define RAWMMAP_HAS_{name} 0\n#define {name} 0\n#endif"
        )
    return "\n".join(out)


def _constant_cdef() -> str:
    return "\n".join(
        f"#define {name} ...\n#define RAWMMAP_HAS_{name} ..." for name in ALL_CONSTANTS
    )


CDEF = _constant_cdef() + "\n" + HELPERS + FAMILY_HELPERS

ffi = FFI()
ffi.cdef(CDEF)
ffi.set_source(
    "rawmmap._native",
    INCLUDES
    + _constant_guards()
    + "\n"
    + (HERE / "_csrc" / "rawmmap.c").read_text(encoding="utf-8")
    + (HERE / FAMILY_SOURCE).read_text(encoding="utf-8"),
    extra_compile_args=["-O2", "-Wall"],
)

if __name__ == "__main__":
    ffi.compile(tmpdir=str(HERE.parent), verbose=True)
