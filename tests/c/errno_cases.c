/* The reference for tests/test_raw.py: each failure case of the raw calls,
 * done in C, printing "<case> <errno>" (0 if the call unexpectedly worked).
 * usage: errno_cases DIR   (DIR: a scratch directory for files) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void report(const char *name, int failed)
{
    printf("%s %d\n", name, failed ? errno : 0);
}

int main(int argc, char **argv)
{
    char path[4096], ro[4096];
    long page = sysconf(_SC_PAGESIZE);
    int fd, rofd, pipefd[2];
    char *area, *p;
    unsigned char vec[4];
    char longname[300];

    if (argc != 2)
        return 2;
    snprintf(path, sizeof path, "%s/c-data", argv[1]);
    snprintf(ro, sizeof ro, "%s/c-readonly", argv[1]);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 2 * page) != 0)
        return 3;
    rofd = open(ro, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (rofd < 0 || ftruncate(rofd, page) != 0)
        return 3;
    close(rofd);
    rofd = open(ro, O_RDONLY);
    if (pipe(pipefd) != 0)
        return 3;
    /* three pages with a hole in the middle */
    area = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || munmap(area + page, page) != 0)
        return 3;

    report("mmap_length_0", mmap(NULL, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
    report("mmap_unaligned_offset", mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 1) == MAP_FAILED);
    report("mmap_no_map_type", mmap(NULL, page, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
    report("mmap_fixed_unaligned", mmap((void *)(area + 1), page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED);
    report("mmap_bad_fd", mmap(NULL, page, PROT_READ, MAP_SHARED, 9999, 0) == MAP_FAILED);
    report("mmap_write_shared_readonly_fd", mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, rofd, 0) == MAP_FAILED);
    report("mmap_pipe", mmap(NULL, page, PROT_READ, MAP_SHARED, pipefd[0], 0) == MAP_FAILED);
    report("mmap_fixed_noreplace_existing", mmap(area, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED);
    report("munmap_unaligned", munmap(area + 1, page) != 0);
    report("munmap_length_0", munmap(area, 0) != 0);
    report("mprotect_unmapped", mprotect(area + page, page, PROT_READ) != 0);
    report("mprotect_unaligned", mprotect(area + 1, page, PROT_READ) != 0);
    report("msync_sync_and_async", msync(area, page, MS_SYNC | MS_ASYNC) != 0);
    report("msync_unmapped", msync(area + page, page, MS_SYNC) != 0);
    report("ftruncate_readonly_fd", ftruncate(rofd, 0) != 0);
    report("ftruncate_bad_fd", ftruncate(9999, 0) != 0);
    report("ftruncate_negative", ftruncate(fd, -1) != 0);
    report("madvise_invalid_advice", madvise(area, page, 999) != 0);
    report("madvise_unmapped", madvise(area + page, page, MADV_WILLNEED) != 0);
    report("mincore_unaligned", mincore(area + 1, page, vec) != 0);
    report("mincore_unmapped", mincore(area + page, page, vec) != 0);
    report("mlock_unmapped", mlock(area + page, page) != 0);
    report("munlock_unmapped", munlock(area + page, page) != 0);
    report("mremap_unaligned", mremap(area + 1, page, 2 * page, MREMAP_MAYMOVE) == MAP_FAILED);
    p = mmap(NULL, 2 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    report("mremap_grow_into_neighbour", mremap(p, page, 2 * page, 0) == MAP_FAILED);
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    report("memfd_create_long_name", memfd_create(longname, 0) < 0);
    report("memfd_create_bad_flags", memfd_create("x", 0x10000000u) < 0);
    return 0;
}
