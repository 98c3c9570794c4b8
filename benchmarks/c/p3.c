/* P3 baseline: memcpy of n bytes from src to dst, `times` times; returns nanoseconds. */
#include <stdint.h>
#include <string.h>
#include <time.h>

long long p3_memcpy(uintptr_t dst, uintptr_t src, size_t n, long times)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < times; i++) {
        memcpy((void *)dst, (const void *)src, n);
        __asm__ __volatile__("" ::: "memory");
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
}
