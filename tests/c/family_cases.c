/* The reference for tests/test_family.py: mlock2, mlockall, mincore's vector,
 * memfd_create's name, protection keys and process_madvise, done in C.
 *
 * usage: family_cases errno          each failure case: "<case> <errno>"
 *        family_cases pkeys          the key sequence: "<step> <result> <errno>"
 *        family_cases memlock BYTES  RLIMIT_MEMLOCK cases, as a user without
 *                                    privilege: "<case> <errno>"
 *        family_cases pkey_get       pkey_get(0): prints its value, or dies
 *                                    (SIGILL where the CPU has no keys)
 *        family_cases pkey_fault     reads a page whose key denies access;
 *                                    the handler prints "signal", "code",
 *                                    "pkey", "offset", then the process dies
 * Errors of the scaffolding (not of a case) exit with 3. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static long page;

static void report(const char *name, int failed)
{
    printf("%s %d\n", name, failed ? errno : 0);
}

static void step(const char *name, long result)
{
    printf("%s %ld %d\n", name, result, result < 0 ? errno : 0);
}

/* three pages with a hole in the middle, as errno_cases.c */
static char *holed_area(void)
{
    char *area = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED || munmap(area + page, page) != 0)
        exit(3);
    return area;
}

static int errno_cases(void)
{
    char *area = holed_area();
    unsigned char vec[4];
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    struct iovec one = {area, (size_t)page}, hole = {area + page, (size_t)page};
    int devnull = open("/dev/null", O_RDONLY);

    if (pidfd < 0 || devnull < 0)
        return 3;
    report("mlock2_bad_flags", mlock2(area, page, 0x2) != 0);
    report("mlock2_unmapped", mlock2(area + page, page, MLOCK_ONFAULT) != 0);
    report("mlock2_wrapping", mlock2(area, (size_t)-page, MLOCK_ONFAULT) != 0);
    report("mlockall_zero", mlockall(0) != 0);
    report("mlockall_onfault_alone", mlockall(MCL_ONFAULT) != 0);
    report("mlockall_unknown_flag", mlockall(0x10000) != 0);
    report("mincore_vec_unmapped", mincore(area, page, (unsigned char *)(area + page)) != 0);
    report("mincore_vec_low_address", mincore(area, page, (unsigned char *)8) != 0);
    report("mincore_wrapping_length", mincore(area, (size_t)-page, vec) != 0);
    report("mincore_beyond_user_space", mincore(area, (size_t)1 << 62, vec) != 0);
    report("memfd_create_null_name", memfd_create(NULL, 0) < 0);
    report("memfd_create_name_unmapped", memfd_create(area + page, 0) < 0);
    report("pkey_get_key_16", pkey_get(16) < 0);
    report("pkey_set_key_negative", pkey_set(-1, 0) != 0);
    report("pkey_set_bad_rights", pkey_set(0, 0x80) != 0);
    report("process_madvise_bad_fd", process_madvise(-1, &one, 1, MADV_COLD, 0) < 0);
    report("process_madvise_not_a_pidfd", process_madvise(devnull, &one, 1, MADV_COLD, 0) < 0);
    report("process_madvise_bad_advice", process_madvise(pidfd, &one, 1, 999, 0) < 0);
    report("process_madvise_bad_flags", process_madvise(pidfd, &one, 1, MADV_COLD, 1) < 0);
    report("process_madvise_unmapped", process_madvise(pidfd, &hole, 1, MADV_COLD, 0) < 0);
    report("process_madvise_unaligned", process_madvise(pidfd, &(struct iovec){area + 1, 1}, 1, MADV_COLD, 0) < 0);
    return 0;
}

/* The same steps as PKEY_STEPS in test_family.py; a fresh process each time,
 * since the kernel's record of allocated keys outlives a failed call. */
static int pkey_steps(void)
{
    char *area = holed_area();
    int key, n;
    long r;

    r = pkey_alloc(0, 0);
    step("alloc", r);
    key = r >= 0 ? (int)r : 1;
    step("alloc_bad_flags", pkey_alloc(1, 0));
    step("alloc_bad_rights", pkey_alloc(0, 0x80));
    step("mprotect_with_key", r >= 0 ? pkey_mprotect(area, page, PROT_READ, key) : 0);
    step("free", pkey_free(key));
    step("free_again", pkey_free(key));
    step("mprotect_freed_key", pkey_mprotect(area, page, PROT_READ, key));
    step("mprotect_no_key", pkey_mprotect(area, page, PROT_READ, -1));
    for (n = 0; n < 64; n++) {
        r = pkey_alloc(0, 0);
        if (r < 0)
            break;
    }
    printf("exhausted_after %d\n", n);
    step("alloc_when_exhausted", r);
    step("free_negative", pkey_free(-1));
    return 0;
}

static int memlock_cases(long limit)
{
    struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
    char *area;

    if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        return 3;
    if (geteuid() == 0 && setuid(65534) != 0) /* nobody: no CAP_IPC_LOCK */
        return 3;
    area = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return 3;
    report("mlock_two_pages", mlock(area, 2 * page) != 0);
    report("mlock2_onfault_two_pages", mlock2(area, 2 * page, MLOCK_ONFAULT) != 0);
    report("mlockall_current", mlockall(MCL_CURRENT) != 0);
    report("mmap_locked", mmap(NULL, 2 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0) == MAP_FAILED);
    report("mlockall_future", mlockall(MCL_FUTURE) != 0);
    report("mmap_after_mcl_future", mmap(NULL, 2 * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
    munlockall();
    return 0;
}

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
#ifdef SEGV_PKUERR
    if (si->si_code == SEGV_PKUERR)
        put("pkey", si->si_pkey);
#endif
    put("offset", (long long)((uintptr_t)si->si_addr - base));
    signal(sig, SIG_DFL); /* returning re-executes the access: dies of sig */
}

static int pkey_fault(void)
{
    struct sigaction sa;
    volatile char *p;
    int key;

    p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 3;
    base = (uintptr_t)p;
    p[page] = 1;
    key = pkey_alloc(0, PKEY_DISABLE_ACCESS);
    if (key < 0 || pkey_mprotect((void *)(p + page), page, PROT_READ | PROT_WRITE, key) != 0)
        return 3;
    put("key", key);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    return p[page + 5];
}

int main(int argc, char **argv)
{
    page = sysconf(_SC_PAGESIZE);
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 2 && strcmp(argv[1], "errno") == 0)
        return errno_cases();
    if (argc == 2 && strcmp(argv[1], "pkeys") == 0)
        return pkey_steps();
    if (argc == 3 && strcmp(argv[1], "memlock") == 0)
        return memlock_cases(atol(argv[2]));
    if (argc == 2 && strcmp(argv[1], "pkey_get") == 0) {
        printf("value %d\n", pkey_get(0));
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "pkey_fault") == 0)
        return pkey_fault();
    return 2;
}
