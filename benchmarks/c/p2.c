/* P2 baselines: increment every 32-bit integer of a file of n integers.
 * p2_rw: pread the whole file, increment, pwrite it back.
 * p2_mmap: mmap MAP_SHARED, increment in place, munmap.
 * Both open and close the file inside the timed region; returns ns, or -1. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long long now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

long long p2_rw(const char *path, long n)
{
    long long start = now();
    size_t size = (size_t)n * 4;
    int fd = open(path, O_RDWR);
    uint32_t *buf = malloc(size);
    if (fd < 0 || !buf || pread(fd, buf, size, 0) != (ssize_t)size)
        return -1;
    for (long i = 0; i < n; i++)
        buf[i]++;
    if (pwrite(fd, buf, size, 0) != (ssize_t)size)
        return -1;
    free(buf);
    close(fd);
    return now() - start;
}

long long p2_mmap(const char *path, long n)
{
    long long start = now();
    size_t size = (size_t)n * 4;
    int fd = open(path, O_RDWR);
    uint32_t *p;
    if (fd < 0)
        return -1;
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    for (long i = 0; i < n; i++)
        p[i]++;
    munmap(p, size);
    close(fd);
    return now() - start;
}
