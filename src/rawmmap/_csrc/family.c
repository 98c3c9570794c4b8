/* rawmmap's C side, part two: more of the memory-management family
 * (mlock2, mlockall/munlockall, protection keys, process_madvise).
 * Included verbatim by the CFFI builder (_build.py) after rawmmap.c.
 *
 * Same rule as rawmmap.c's section (1): each wrapper hands its arguments to
 * libc unchanged and returns libc's answer unchanged, errno as libc left it.
 * A function the C library lacks is compiled as a stub that fails with
 * ENOSYS, and RAWMMAP_LIBC_HAS_<NAME> is 0 so that Python leaves the call
 * out of its API: nothing is emulated with syscall(2).
 *
 * glibc added mlock2, memfd_create and the pkey_* functions in 2.27 and
 * process_madvise in 2.36; mlockall/munlockall are POSIX.  pkey_get and
 * pkey_set are not system calls: glibc reads and writes the PKRU register
 * (RDPKRU/WRPKRU on x86), which raises SIGILL where the kernel has not
 * enabled protection keys (no "ospke" in /proc/cpuinfo) -- as in C.
 */
#include <sys/uio.h>

#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#  if __GLIBC_PREREQ(2, 27)
#    define RAWMMAP_LIBC_HAS_MLOCK2 1
#    define RAWMMAP_LIBC_HAS_PKEYS 1
#  endif
#  if __GLIBC_PREREQ(2, 36)
#    define RAWMMAP_LIBC_HAS_PROCESS_MADVISE 1
#  endif
#endif
#ifndef RAWMMAP_LIBC_HAS_MLOCK2
#  define RAWMMAP_LIBC_HAS_MLOCK2 0
#endif
#ifndef RAWMMAP_LIBC_HAS_PKEYS
#  define RAWMMAP_LIBC_HAS_PKEYS 0
#endif
#ifndef RAWMMAP_LIBC_HAS_PROCESS_MADVISE
#  define RAWMMAP_LIBC_HAS_PROCESS_MADVISE 0
#endif

static int rawmmap_mlock2(uintptr_t addr, size_t length, unsigned int flags)
{
#if RAWMMAP_LIBC_HAS_MLOCK2
    return mlock2((const void *)addr, length, flags);
#else
    (void)addr; (void)length; (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

static int rawmmap_mlockall(int flags)
{
    return mlockall(flags);
}

static int rawmmap_munlockall(void)
{
    return munlockall();
}

static int rawmmap_mincore_at(uintptr_t addr, size_t length, uintptr_t vec)
{
    return mincore((void *)addr, length, (unsigned char *)vec);
}

static int rawmmap_memfd_create_at(uintptr_t name, unsigned int flags)
{
#if defined(__linux__) && defined(MFD_CLOEXEC)
    return memfd_create((const char *)name, flags);
#else
    (void)name; (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

static int rawmmap_pkey_alloc(unsigned int flags, unsigned int access_rights)
{
#if RAWMMAP_LIBC_HAS_PKEYS
    return pkey_alloc(flags, access_rights);
#else
    (void)flags; (void)access_rights;
    errno = ENOSYS;
    return -1;
#endif
}

static int rawmmap_pkey_free(int pkey)
{
#if RAWMMAP_LIBC_HAS_PKEYS
    return pkey_free(pkey);
#else
    (void)pkey;
    errno = ENOSYS;
    return -1;
#endif
}

static int rawmmap_pkey_mprotect(uintptr_t addr, size_t length, int prot, int pkey)
{
#if RAWMMAP_LIBC_HAS_PKEYS
    return pkey_mprotect((void *)addr, length, prot, pkey);
#else
    (void)addr; (void)length; (void)prot; (void)pkey;
    errno = ENOSYS;
    return -1;
#endif
}

static int rawmmap_pkey_get(int pkey)
{
#if RAWMMAP_LIBC_HAS_PKEYS
    return pkey_get(pkey);
#else
    (void)pkey;
    errno = ENOSYS;
    return -1;
#endif
}

static int rawmmap_pkey_set(int pkey, unsigned int access_rights)
{
#if RAWMMAP_LIBC_HAS_PKEYS
    return pkey_set(pkey, access_rights);
#else
    (void)pkey; (void)access_rights;
    errno = ENOSYS;
    return -1;
#endif
}

/* iov: count pairs (base, length) laid out as struct iovec by Python, which
 * allocates "struct iovec[]" through CFFI, so no conversion is needed here. */
static int64_t rawmmap_process_madvise(int pidfd, const struct iovec *iov, size_t count,
                                       int advice, unsigned int flags)
{
#if RAWMMAP_LIBC_HAS_PROCESS_MADVISE
    return (int64_t)process_madvise(pidfd, iov, count, advice, flags);
#else
    (void)pidfd; (void)iov; (void)count; (void)advice; (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}
