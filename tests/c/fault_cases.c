/* The reference for tests/test_faults.py: docs/design.md's behaviours 1, 2, 3, 6
 * and 7 done in C.  usage: fault_cases CASE DIR
 * Prints "key value" lines; a case that faults prints
 * "signal N", "code N" and "offset N" (si_addr minus the mapping's start)
 * from its SA_SIGINFO handler, then dies of the signal (default action). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uintptr_t base;

static void put(const char *key, long long value)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%s %lld\n", key, value);
    if (write(1, line, (size_t)n) < 0)
        _exit(3);
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    put("signal", sig);
    put("code", si->si_code);
    put("offset", (long long)((uintptr_t)si->si_addr - base));
    signal(sig, SIG_DFL); /* returning re-executes the access: dies of sig */
}

static int file_of(const char *dir, const char *name, const char *content, size_t size)
{
    char path[4096];
    int fd;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
        exit(4);
    if (content && pwrite(fd, content, strlen(content), 0) < 0)
        exit(4);
    return fd;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    const char *c, *dir;
    long page = sysconf(_SC_PAGESIZE);
    volatile char *p;
    char buf[16];
    int fd;

    if (argc != 3)
        return 2;
    c = argv[1];
    dir = argv[2];
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);

    if (!strcmp(c, "empty_file_write")) {          /* behaviour 1 */
        fd = file_of(dir, "empty", NULL, 0);
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        base = (uintptr_t)p;
        p[0] = 'x';
    } else if (!strcmp(c, "ftruncate_fix")) {      /* behaviour 1, the fix */
        fd = file_of(dir, "fixed", NULL, 0);
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        base = (uintptr_t)p;
        if (ftruncate(fd, 4096) != 0)
            return 5;
        p[0] = 'x';
        munmap((void *)p, 4096);
        put("file_byte0", pread(fd, buf, 1, 0) == 1 ? buf[0] : -1);
    } else if (!strcmp(c, "past_eof")) {           /* behaviour 2 */
        fd = file_of(dir, "five-thousand", NULL, 5000);
        p = mmap(NULL, 5000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        base = (uintptr_t)p;
        put("byte_5000", p[5000]);
        put("byte_8191", p[8191]);
        p[6000] = 'z';
        msync((void *)p, 8192, MS_SYNC);
        put("file_size", lseek(fd, 0, SEEK_END));
        put("file_read_at_6000", pread(fd, buf, 1, 6000));
        munmap((void *)p, 5000);
        p = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        base = (uintptr_t)p;
        put("remapped_byte_6000", p[6000]);
        put("touch_page", 2);
        (void)p[2 * page];                          /* wholly beyond EOF */
    } else if (!strcmp(c, "private_cow")) {        /* behaviour 3 */
        fd = file_of(dir, "cow", "original", 4096);
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        base = (uintptr_t)p;
        memcpy((void *)p, "modified", 8);
        msync((void *)p, 4096, MS_SYNC);
        put("mapping_says_modified", memcmp((void *)p, "modified", 8) == 0);
        put("file_says_original", pread(fd, buf, 8, 0) == 8 && memcmp(buf, "original", 8) == 0);
        munmap((void *)p, 4096);
        put("file_after_munmap_original", pread(fd, buf, 8, 0) == 8 && memcmp(buf, "original", 8) == 0);
    } else if (!strcmp(c, "write_read_only")) {    /* behaviour 6 */
        p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        base = (uintptr_t)p;
        mprotect((void *)p, 4096, PROT_READ);
        p[10] = 1;
    } else if (!strcmp(c, "read_prot_none")) {
        p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        base = (uintptr_t)p;
        (void)p[20];
    } else if (!strcmp(c, "read_unmapped")) {
        p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        base = (uintptr_t)p;
        munmap((void *)p, 4096);
        (void)p[30];
    } else if (!strcmp(c, "mprotect_unmapped")) {
        p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap((void *)p, 4096);
        put("errno", mprotect((void *)p, 4096, PROT_READ) == 0 ? 0 : errno);
    } else if (!strcmp(c, "map_fixed")) {          /* behaviour 7 */
        char *reserve = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char *first = mmap(reserve + page, page, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        char *second;
        put("fixed_at_asked_address", first == reserve + page);
        first[0] = 'A';
        second = mmap(reserve + page, page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        put("replaced_silently", second == first && second[0] == 0);
        put("noreplace_errno", mmap(reserve + page, page, PROT_READ,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
                                   == MAP_FAILED ? errno : 0);
    } else {
        return 2;
    }
    put("exit", 0);
    return 0;
}
