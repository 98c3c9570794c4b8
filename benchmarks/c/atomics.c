/* Atomics baseline: n sequentially consistent fetch-and-adds on a slot; returns ns. */
#include <stdint.h>
#include <time.h>

long long atomic_adds(uintptr_t addr, long n)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        __atomic_fetch_add((uint64_t *)addr, 1, __ATOMIC_SEQ_CST);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
}
