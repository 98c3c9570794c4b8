/* Reads its own /proc/self/pagemap after a known access pattern, the way the
 * kernel's Documentation/admin-guide/mm/pagemap.rst describes it, and prints
 * each entry raw and decoded.  Then it waits for a line on stdin, so the test
 * can read the same pages through rawmmap.pages(..., pid=this process).
 *
 * usage: pagemap_self FILE   (FILE is created, 4 pages, mapped MAP_SHARED)
 *
 * The pattern (mirrored in tests/test_pages.py):
 *   anonymous MAP_PRIVATE, 8 pages, MADV_NOHUGEPAGE: write pages 0 and 2,
 *     read page 4 (the shared zero page), leave the rest untouched;
 *   FILE MAP_SHARED, 4 pages (a sparse file): write page 0, leave the rest;
 *   then clear_refs "4" (soft-dirty off everywhere) and write anon page 2 again.
 * Output: "anon ADDR" / "file ADDR" headers, then one line per page:
 *   KIND INDEX ENTRY(hex) present swapped file exclusive soft_dirty pfn
 */
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_EXCLUSIVE (1ULL << 56)
#define PM_SOFT_DIRTY (1ULL << 55)
#define PM_PFN_MASK ((1ULL << 55) - 1)

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void dump(int pagemap, const char *kind, volatile char *base, int n, long page)
{
    printf("%s %" PRIuPTR "\n", kind, (uintptr_t)base);
    for (int i = 0; i < n; i++) {
        uint64_t e;
        off_t at = (off_t)(((uintptr_t)base / page + i) * sizeof e);
        if (pread(pagemap, &e, sizeof e, at) != sizeof e)
            die("pread pagemap");
        printf("%s %d %016" PRIx64 " %d %d %d %d %d %" PRIu64 "\n", kind, i, e,
               !!(e & PM_PRESENT), !!(e & PM_SWAPPED), !!(e & PM_FILE),
               !!(e & PM_EXCLUSIVE), !!(e & PM_SOFT_DIRTY),
               (uint64_t)((e & PM_PRESENT) ? (e & PM_PFN_MASK) : 0));
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    long page = sysconf(_SC_PAGESIZE);
    volatile char *anon = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (anon == MAP_FAILED)
        die("mmap anon");
    if (madvise((void *)anon, 8 * page, MADV_NOHUGEPAGE) != 0)
        die("madvise");
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 4 * page) != 0)
        die("file");
    volatile char *file = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (file == MAP_FAILED)
        die("mmap file");

    anon[0] = 1;
    anon[2 * page] = 1;
    char sink = anon[4 * page];
    (void)sink;
    file[0] = 1;

    int refs = open("/proc/self/clear_refs", O_WRONLY);
    if (refs < 0 || write(refs, "4", 1) != 1)
        die("clear_refs");
    close(refs);
    anon[2 * page] = 2;

    int pagemap = open("/proc/self/pagemap", O_RDONLY);
    if (pagemap < 0)
        die("open pagemap");
    dump(pagemap, "anon", anon, 8, page);
    dump(pagemap, "file", file, 4, page);
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (fgets(line, sizeof line, stdin) == NULL)
        return 0;
    return 0;
}
