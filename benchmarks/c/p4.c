/* P4 baselines: a fresh anonymous mapping of n pages, first-touched.
 * p4_loop: mmap, write one byte per page, munmap.
 * p4_populate: mmap with MAP_POPULATE, munmap.  Returns ns, or -1. */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long long now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

long long p4_loop(long pages)
{
    long page = sysconf(_SC_PAGESIZE);
    long long start = now();
    volatile char *p = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    for (long i = 0; i < pages; i++)
        p[i * page] = 1;
    munmap((void *)p, pages * page);
    return now() - start;
}

long long p4_populate(long pages)
{
    long page = sysconf(_SC_PAGESIZE);
    long long start = now();
    void *p = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    munmap(p, pages * page);
    return now() - start;
}
