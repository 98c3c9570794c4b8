/* rawmmap's libc calls: included verbatim by the CFFI builder (_build.py).
 *
 * Thin wrappers that take and return addresses as uintptr_t so that Python
 * can pass plain ints.  Every helper is static and prefixed rawmmap_.  The
 * fault guard, guarded copies, atomics, the mutex and the Mapping's owner
 * object are in core.c (the rawmmap._core extension), not here.
 */

/* ---- libc calls ------------------------------------------------------------
 * Each wrapper hands its arguments to libc unchanged and returns libc's
 * answer unchanged; errno is left as libc set it (CFFI saves it for
 * ffi.errno right after the call).  mmap/mremap return MAP_FAILED as
 * (uintptr_t)-1, exactly the bit pattern C compares against.
 */
static uintptr_t rawmmap_mmap(uintptr_t addr, size_t length, int prot, int flags,
                              int fd, int64_t offset)
{
    return (uintptr_t)mmap((void *)addr, length, prot, flags, fd, (off_t)offset);
}

static int rawmmap_munmap(uintptr_t addr, size_t length)
{
    return munmap((void *)addr, length);
}

static int rawmmap_msync(uintptr_t addr, size_t length, int flags)
{
    return msync((void *)addr, length, flags);
}

static int rawmmap_mprotect(uintptr_t addr, size_t length, int prot)
{
    return mprotect((void *)addr, length, prot);
}

static int rawmmap_ftruncate(int fd, int64_t length)
{
    return ftruncate(fd, (off_t)length);
}

static int rawmmap_madvise(uintptr_t addr, size_t length, int advice)
{
    return madvise((void *)addr, length, advice);
}

static int rawmmap_mincore(uintptr_t addr, size_t length, unsigned char *vec)
{
    return mincore((void *)addr, length, vec);
}

static int rawmmap_mlock(uintptr_t addr, size_t length)
{
    return mlock((void *)addr, length);
}

static int rawmmap_munlock(uintptr_t addr, size_t length)
{
    return munlock((void *)addr, length);
}

static uintptr_t rawmmap_mremap(uintptr_t old_addr, size_t old_size, size_t new_size,
                                int flags, uintptr_t new_addr)
{
#ifdef __linux__
    return (uintptr_t)mremap((void *)old_addr, old_size, new_size, flags, (void *)new_addr);
#else
    (void)old_addr; (void)old_size; (void)new_size; (void)flags; (void)new_addr;
    errno = ENOSYS;
    return (uintptr_t)MAP_FAILED;
#endif
}

static int rawmmap_memfd_create(const char *name, unsigned int flags)
{
#if defined(__linux__) && defined(MFD_CLOEXEC)
    return memfd_create(name, flags);
#else
    (void)name; (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

static long rawmmap_page_size(void)
{
    return sysconf(_SC_PAGESIZE);
}
