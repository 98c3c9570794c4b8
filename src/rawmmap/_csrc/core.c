/* rawmmap._core: the fault guard and the objects that own memory.
 *
 * Plain CPython C next to the CFFI module (rawmmap._native, which stays the
 * binding for every libc call of the raw layer).  Only rawmmap._bindings
 * imports this module; every other module goes through it.
 *
 * Parts: (1) the guard — signal handler, jump frames, crash recorder;
 * (2) proving the guard current before an access; (3) guarded primitives
 * (copy, touch, atomics, mutex calls); (4) module functions (rawmmap.read,
 * write, read_into, touch, atomics); (5) Region, the owner of one mapped
 * range (the C base of rawmmap.Mapping); (6) MutexBase (the C base of
 * rawmmap.SharedMutex); (7) Window, an exporter of part of a Region.  The design is described in docs/design.md; the
 * reasons are here, next to the code they explain.
 *
 * ---- Design of the guard ---------------------------------------------------
 *
 * A guarded access turns a SIGSEGV/SIGBUS raised by *its own* memory access
 * into rawmmap.MappingFault, and leaves every other signal as it would have
 * been without rawmmap.
 *
 * Jump frames.  A guarded access pushes a frame (sigjmp_buf + the previous
 * frame) on a per-thread stack kept in initial-exec TLS (no allocation, safe
 * to read in a handler), sets it with sigsetjmp(env, 0) (no syscall) and pops
 * it when done; the handler pops before jumping, so a guarded access inside
 * a guarded access unwinds to the right place.  Faults are delivered to the
 * faulting thread, so one thread's frame never sees another's fault.
 *
 * The handler (one SA_SIGINFO|SA_NODEFER|SA_ONSTACK handler for SIGSEGV and
 * SIGBUS; errno is saved and restored):
 * - a frame is open and si_code > 0 (raised by the kernel for this
 *   thread's access): record signo/si_code/si_addr (and si_pkey) and jump;
 * - si_code <= 0 (sent with kill/tgkill/sigqueue): never a fault of the
 *   copy.  The previous disposition gets it as if rawmmap were not there: a
 *   handler is called (rawmmap stays installed), SIG_IGN ignores it,
 *   SIG_DFL is restored and the signal raised again (the process dies as it
 *   would have).  A chained handler that re-enters rawmmap's gets the
 *   default action: no recursion;
 * - a kernel fault outside any frame is a real crash: the previous
 *   disposition is put back and the handler returns, so the faulting
 *   instruction runs again and the previous handler (faulthandler's report,
 *   a debugger's, the default core dump) sees the genuine fault.  If that
 *   handler hands it back to rawmmap (faulthandler re-raises under the
 *   handler it replaced), the second visit ends with SIG_DFL: no loop.
 *   Handing over bumps rm_epoch, so the next guarded access re-installs.
 *
 * ---- Proving the guard current (section 2) ----------------------------------
 *
 * Anybody can replace the disposition between two guarded accesses:
 * signal.signal(), faulthandler.enable()/disable(), a foreign fault that
 * rawmmap handed over.  A fault with someone else's handler on top would
 * hang (Python's C-level handler returns and the access faults again) or
 * kill.  Reading the disposition back (sigaction) costs two syscalls,
 * ~200 ns each on the development machine — three times a whole 8-byte read
 * — so the common case is proved from memory instead, with the GIL held:
 *
 *   rm_epoch unchanged     — rawmmap's handler handed nothing over;
 *   faulthandler disabled, as when proved (faulthandler.is_enabled(), a
 *                            direct C call);
 *   signal.getsignal(SIGSEGV) and (SIGBUS) are the very objects seen when
 *                            proved (direct C calls).  When the guard is
 *                            established from the main thread, rawmmap
 *                            puts a fresh token object of its own into
 *                            Python's signal table (rawmmap._bindings:
 *                            it forwards to the Python handler it
 *                            displaced), so any later signal.signal() —
 *                            even SIG_DFL over SIG_DFL, or restoring a
 *                            handler saved earlier — changes the identity;
 *                            the token's reference count (table + proof)
 *                            is compared too, so a token that a program
 *                            saved and put back is seen while the saved
 *                            reference lives;
 *   this thread's mask     — checked (one syscall) at the thread's first
 *                            access under the current proof.
 *
 * Anything else takes the slow path: read both dispositions with sigaction,
 * re-install on top (the displaced one becomes the previous), claim Python's
 * table again, check the thread's mask.  While faulthandler is enabled the
 * slow path is taken on every access: faulthandler.disable() followed by
 * enable() leaves is_enabled() unchanged but puts faulthandler's handler on
 * top of rawmmap's, and nothing in memory shows it.
 *
 * What the fast path cannot see (documented, not hidden): a disposition
 * changed by C code calling sigaction directly, and re-installing with
 * signal.signal() the very token that is current after every other
 * reference to it is gone (a context manager that swaps a handler and puts
 * the token back, with no guarded access in between).  Both are seen at the
 * next slow-path access; until then a fault meets the other disposition.  A thread that blocks SIGSEGV/SIGBUS after its
 * first guarded access is likewise seen only at the next slow path.
 *
 * Blocked signals.  A fault whose signal the thread blocks is fatal
 * whatever the handler (the kernel resets it to SIG_DFL), so a thread found
 * blocking SIGSEGV/SIGBUS unblocks them around each of its accesses (two
 * syscalls per access, in that thread only) and restores its mask after.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(NSIG)
#define RM_NSIG NSIG
#elif defined(_NSIG)
#define RM_NSIG _NSIG
#else
#error "the system headers define neither NSIG nor _NSIG"
#endif

#define RM_TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- (1) the guard ----------------------------------------------------------- */

struct rm_frame {
    sigjmp_buf env;
    struct rm_frame *prev;
    unsigned int pkru;
};

/* Protection keys (x86 PKU).  The kernel runs a signal handler with the
 * default key rights and only sigreturn gives the thread its own back; the
 * guard leaves the handler with siglongjmp instead, so each guarded access
 * saves the thread's PKRU on entry and restores it after a caught fault. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <cpuid.h>
static int rm_have_pku;
static void rm_detect_pku(void)
{
    unsigned int a, b, c, d;
    rm_have_pku = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 4)); /* OSPKE */
}
static inline unsigned int rm_save_pkru(void)
{
    unsigned int eax = 0, edx;
    if (rm_have_pku)
        __asm__ volatile(".byte 0x0f,0x01,0xee" : "=a"(eax), "=d"(edx) : "c"(0)); /* rdpkru */
    return eax;
}
static inline void rm_restore_pkru(unsigned int v)
{
    if (rm_have_pku)
        __asm__ volatile(".byte 0x0f,0x01,0xef" : : "a"(v), "c"(0), "d"(0) : "memory"); /* wrpkru */
}
#else
static void rm_detect_pku(void) {}
static inline unsigned int rm_save_pkru(void) { return 0; }
static inline void rm_restore_pkru(unsigned int v) { (void)v; }
#endif

struct rm_fault {
    int signo;
    int code;
    uintptr_t addr;
    int pkey; /* si_pkey for SEGV_PKUERR, else -1 */
};

static RM_TLS struct rm_frame *volatile rm_top;
static RM_TLS struct rm_fault rm_last;
static RM_TLS int rm_chaining; /* inside a chained call to a previous handler */

static struct sigaction rm_prev[RM_NSIG];
static int rm_prev_under_fh[2]; /* the previous was captured while faulthandler was enabled */
static volatile sig_atomic_t rm_have_prev[RM_NSIG];
static volatile sig_atomic_t rm_handed_over[RM_NSIG];
static volatile sig_atomic_t rm_epoch; /* bumped whenever a disposition is handed over */
static volatile int rm_report_fd = -1;

static void rm_on_signal(int sig, siginfo_t *si, void *ctx);

static int rm_is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == rm_on_signal;
}

static void rm_default_and_raise(int sig)
{
    signal(sig, SIG_DFL);
    rm_epoch++;
    raise(sig);
}

/* Give a signal sent by a process (si_code <= 0) to the disposition rawmmap
 * replaced, as if rawmmap were not there. */
static void rm_chain(int sig, siginfo_t *si, void *ctx)
{
    struct sigaction *p = &rm_prev[sig];
    if (!rm_have_prev[sig] || rm_chaining) {
        rm_default_and_raise(sig);
        return;
    }
    if (rm_is_ours(p)) {
        rm_default_and_raise(sig);
    } else if (p->sa_flags & SA_SIGINFO) {
        rm_chaining = 1;
        p->sa_sigaction(sig, si, ctx);
        rm_chaining = 0;
    } else if (p->sa_handler == SIG_IGN) {
        /* ignored, as before rawmmap */
    } else if (p->sa_handler == SIG_DFL) {
        rm_default_and_raise(sig);
    } else {
        rm_chaining = 1;
        p->sa_handler(sig);
        rm_chaining = 0;
    }
}

/* ---- (1r) recovery ranges: on_sigbus="zero" ----------------------------------
 *
 * A Mapping in recovery mode registers its range in a fixed table of slots
 * (static: the handler allocates nothing, takes no lock and runs nothing of
 * Python).  Each slot holds the range, its protection, and one state byte
 * per page (allocated with the GIL when the Mapping registers, freed with the
 * GIL after the slot is drained).  A kernel SIGBUS with BUS_ADRERR (the page
 * lies beyond the end of the file) at an address inside an active slot,
 * while no guard frame is open in the faulting thread, is handled right
 * there: that one page is replaced by a private zero-filled page with the
 * range's protection — mmap(page, pagesize, prot,
 * MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS, -1, 0), a plain system-call wrapper in
 * glibc and musl (no lock; errno is saved by the handler) — the page's state
 * byte records it (and whether the access was a write), and the handler
 * returns: the faulting instruction runs again and finds memory.
 *
 * Why MAP_FIXED is safe there (it replaces whatever is mapped at the
 * address): the page lies inside a range that a live Region owns and that is
 * registered; registration ends before the range is handed to munmap or
 * mremap (close/remap take the Region exclusively, and that suspends the
 * slot; tp_dealloc frees the slot before its munmap), and suspending waits
 * until no handler is inside the slot (`users`: a handler increments it,
 * then re-reads `state`; the suspender stores `state`, then waits for
 * `users` to drop to 0 — all seq_cst, so one of them sees the other).  So
 * the address cannot be unmapped, or reused by another mapping, while a
 * handler patches it, and the state bytes are never freed under a handler.
 *
 * A guard frame open in the faulting thread wins: a guarded access (m[i],
 * m.read, rawmmap.read, ...) on a page that is not patched raises
 * MappingFault exactly as in "raise" mode — it can say what went wrong,
 * right then.  On a page already patched it reads the zeros (the page is
 * memory now); check() is the one place that reports patches.  SIGSEGV is
 * never patched; neither is a SIGBUS sent by a process (si_code <= 0),
 * BUS_ADRALN or BUS_OBJERR, or an address outside every active slot: those
 * go on to the guard's usual path (a real crash).
 *
 * Two threads may fault on the same page at once (both saw it missing): the
 * state byte is claimed with a compare-and-swap (FILE -> CLAIM); the loser
 * waits until the winner's one mmap call is done (a few microseconds; the
 * winner is another thread inside a handler, which waits for nobody) and
 * returns, so no write into a freshly patched page is lost to a second
 * patch.  repair() maps the file back and sets the byte to FILE again, so
 * the page can be patched again if the file shrinks again.
 *
 * The access kind comes from x86-64's page-fault error code (REG_ERR bit 1:
 * write); elsewhere it is unknown.  Cost: a Mapping not in recovery mode
 * pays nothing on the access path (nothing there changed), and the handler
 * looks at the table only while some slot is registered (rm_ractive). */

#include <sched.h>
#include <stdlib.h>
#include <ucontext.h>

#define RM_RSLOTS 64 /* recovery-mode mappings open at once */

enum { RR_FREE, RR_HELD, RR_ACTIVE };                       /* slot states */
enum { RP_FILE, RP_CLAIM, RP_READ, RP_WRITE, RP_UNKNOWN }; /* page states */
#define RM_SEQ __ATOMIC_SEQ_CST

struct rm_rslot {
    int state;              /* RR_*: only RR_ACTIVE slots are patched */
    int users;              /* handlers inside the slot right now */
    uintptr_t start, end;   /* the page-rounded range */
    int prot;               /* the protection of a zero page */
    unsigned char *pages;   /* RP_* per page */
    size_t npages;
    size_t patched;         /* pages in RP_READ/RP_WRITE/RP_UNKNOWN */
};

static struct rm_rslot rm_rslots[RM_RSLOTS];
static int rm_ractive;     /* slots not free: the handler looks only when > 0 */
static uintptr_t rm_rpage; /* the page size, set before the first registration */

static int rm_fault_access(void *ctx)
{
#if defined(__x86_64__) && defined(REG_ERR)
    const ucontext_t *uc = (const ucontext_t *)ctx;
    return (uc->uc_mcontext.gregs[REG_ERR] & 2) ? RP_WRITE : RP_READ;
#else
    (void)ctx;
    return RP_UNKNOWN;
#endif
}

/* In the handler, with a user count held on an active slot containing a. */
static int rm_patch(struct rm_rslot *s, uintptr_t a, void *ctx)
{
    uintptr_t page = a & ~(rm_rpage - 1);
    size_t idx = (size_t)((page - s->start) / rm_rpage);
    unsigned char expected = RP_FILE;
    if (idx >= s->npages)
        return 0;
    if (!__atomic_compare_exchange_n(&s->pages[idx], &expected, RP_CLAIM, 0, RM_SEQ, RM_SEQ)) {
        /* another thread patches (or patched) this page: run the access again */
        while (__atomic_load_n(&s->pages[idx], RM_SEQ) == RP_CLAIM)
            sched_yield();
        return 1;
    }
    if (mmap((void *)page, (size_t)rm_rpage, __atomic_load_n(&s->prot, RM_SEQ),
             MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
        __atomic_store_n(&s->pages[idx], RP_FILE, RM_SEQ);
        return 0;
    }
    __atomic_add_fetch(&s->patched, 1, RM_SEQ);
    __atomic_store_n(&s->pages[idx], (unsigned char)rm_fault_access(ctx), RM_SEQ);
    return 1;
}

/* In the handler: 1 if the fault was patched (return and run it again). */
static int rm_recover(int sig, siginfo_t *si, void *ctx)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    int i, done;
    if (sig != SIGBUS || si->si_code != BUS_ADRERR || __atomic_load_n(&rm_ractive, RM_SEQ) <= 0)
        return 0;
    for (i = 0; i < RM_RSLOTS; i++) {
        struct rm_rslot *s = &rm_rslots[i];
        if (__atomic_load_n(&s->state, RM_SEQ) != RR_ACTIVE)
            continue;
        __atomic_add_fetch(&s->users, 1, RM_SEQ);
        if (__atomic_load_n(&s->state, RM_SEQ) == RR_ACTIVE && a >= s->start && a < s->end) {
            done = rm_patch(s, a, ctx);
            __atomic_sub_fetch(&s->users, 1, RM_SEQ);
            return done;
        }
        __atomic_sub_fetch(&s->users, 1, RM_SEQ);
    }
    return 0;
}

/* With the GIL, slot held and drained: cover [start, start+length). 0, or -1 (no memory). */
static int rm_recovery_place(struct rm_rslot *s, uintptr_t start, size_t length)
{
    size_t n = (length + rm_rpage - 1) / rm_rpage;
    if (n != s->npages || s->pages == NULL) {
        unsigned char *pages = calloc(n ? n : 1, 1);
        if (pages == NULL)
            return -1;
        free(s->pages);
        s->pages = pages;
        s->npages = n;
        s->patched = 0;
    }
    s->start = start;
    s->end = start + n * rm_rpage;
    return 0;
}

/* With the GIL: a slot for [start, start+length); -1 with an exception set. */
static int rm_recovery_register(uintptr_t start, size_t length, int prot)
{
    int i;
    if (rm_rpage == 0)
        rm_rpage = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (i = 0; i < RM_RSLOTS; i++) {
        struct rm_rslot *s = &rm_rslots[i];
        int expected = RR_FREE;
        if (!__atomic_compare_exchange_n(&s->state, &expected, RR_HELD, 0, RM_SEQ, RM_SEQ))
            continue;
        if (rm_recovery_place(s, start, length) < 0) {
            __atomic_store_n(&s->state, RR_FREE, RM_SEQ);
            PyErr_NoMemory();
            return -1;
        }
        __atomic_store_n(&s->prot, prot, RM_SEQ);
        __atomic_add_fetch(&rm_ractive, 1, RM_SEQ);
        __atomic_store_n(&s->state, RR_ACTIVE, RM_SEQ);
        return i;
    }
    PyErr_Format(PyExc_RuntimeError,
                 "on_sigbus='zero': at most %d recovery-mode mappings can be open at once "
                 "(close one first)",
                 RM_RSLOTS);
    return -1;
}

/* With the GIL: no handler patches the slot from now on (waits for those inside). */
static void rm_recovery_suspend(int i)
{
    struct rm_rslot *s = &rm_rslots[i];
    int expected = RR_ACTIVE;
    __atomic_compare_exchange_n(&s->state, &expected, RR_HELD, 0, RM_SEQ, RM_SEQ);
    while (__atomic_load_n(&s->users, RM_SEQ) > 0)
        sched_yield();
}

/* With the GIL, after suspend: the range as it is now (after a remap). */
static int rm_recovery_resume(int i, uintptr_t start, size_t length)
{
    struct rm_rslot *s = &rm_rslots[i];
    if (rm_recovery_place(s, start, length) < 0)
        return -1; /* stays held: the caller frees it */
    __atomic_store_n(&s->state, RR_ACTIVE, RM_SEQ);
    return 0;
}

static void rm_recovery_free(int i)
{
    struct rm_rslot *s = &rm_rslots[i];
    rm_recovery_suspend(i);
    free(s->pages);
    s->pages = NULL;
    s->npages = 0;
    s->patched = 0;
    s->start = s->end = 0;
    __atomic_sub_fetch(&rm_ractive, 1, RM_SEQ);
    __atomic_store_n(&s->state, RR_FREE, RM_SEQ);
}

static void rm_on_signal(int sig, siginfo_t *si, void *ctx)
{
    int saved_errno = errno;
    struct rm_frame *frame = rm_top;
    if (frame != NULL && (sig == SIGSEGV || sig == SIGBUS) && si->si_code > 0) {
        rm_last.signo = sig;
        rm_last.code = si->si_code;
        rm_last.addr = (uintptr_t)si->si_addr;
        rm_last.pkey = -1;
#if defined(SEGV_PKUERR) && defined(si_pkey)
        if (sig == SIGSEGV && si->si_code == SEGV_PKUERR)
            rm_last.pkey = (int)si->si_pkey;
#endif
        rm_top = frame->prev;
        errno = saved_errno;
        siglongjmp(frame->env, 1);
    }
    if (rm_recover(sig, si, ctx)) { /* on_sigbus="zero": the page is memory now */
        errno = saved_errno;
        return;
    }
    if (rm_report_fd >= 0) {
        struct rm_fault rec;
        ssize_t done;
        memset(&rec, 0, sizeof rec);
        rec.signo = sig;
        rec.code = si->si_code;
        rec.addr = (uintptr_t)si->si_addr;
        rec.pkey = -1;
#if defined(SEGV_PKUERR) && defined(si_pkey)
        if (sig == SIGSEGV && si->si_code == SEGV_PKUERR)
            rec.pkey = (int)si->si_pkey;
#endif
        done = write(rm_report_fd, &rec, sizeof rec);
        (void)done;
        rm_report_fd = -1;
    }
    if (sig <= 0 || sig >= RM_NSIG) {
        errno = saved_errno;
        return;
    }
    if (si->si_code <= 0) {
        rm_chain(sig, si, ctx);
    } else {
        if (rm_have_prev[sig] && !rm_handed_over[sig] && !rm_is_ours(&rm_prev[sig])) {
            rm_handed_over[sig] = 1;
            sigaction(sig, &rm_prev[sig], NULL);
        } else {
            signal(sig, SIG_DFL);
        }
        rm_epoch++;
        if (!(sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP))
            raise(sig);
        /* a fault: returning runs the faulting instruction again, under the
         * disposition just put back */
    }
    errno = saved_errno;
}

/* Put rawmmap's handler on top for sig.  `prev` is what it replaces (NULL:
 * read it now; if rawmmap's is already there, keep the recorded previous). */
static int rm_install(int sig, const struct sigaction *prev)
{
    struct sigaction cur, ours;
    if (prev == NULL) {
        if (sigaction(sig, NULL, &cur) != 0)
            return -1;
        if (rm_is_ours(&cur))
            return 0;
        prev = &cur;
    }
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = rm_on_signal;
    ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    if (!rm_is_ours(prev)) {
        rm_prev[sig] = *prev;
        rm_have_prev[sig] = 1;
    }
    rm_handed_over[sig] = 0;
    return sigaction(sig, &ours, NULL);
}

/* ---- (2) proving the guard current ------------------------------------------- */

static PyObject *rm_fault_factory;   /* (signo, si_code, addr, pkey) -> exception */
static PyObject *rm_claim;           /* (signo) -> token now in Python's signal table */
static PyObject *rm_fh_is_enabled;   /* faulthandler.is_enabled */
static PyObject *rm_getsignal;       /* signal.getsignal */
static PyObject *rm_signo[2];        /* ints SIGSEGV, SIGBUS */
static unsigned long rm_main_thread; /* ident of the main thread */

static struct {
    int valid;
    int fh;
    sig_atomic_t epoch;
    unsigned long gen;
    PyObject *table[2]; /* strong references */
    Py_ssize_t refcnt[2];
} rm_proof;

static RM_TLS unsigned long rm_thread_gen;
static unsigned long rm_slow_paths; /* how often the guard was (re)established: for tests */
static RM_TLS int rm_thread_unblock; /* this thread blocks SIGSEGV/SIGBUS: unblock around accesses */

static const int rm_sigs[2] = {SIGSEGV, SIGBUS};

/* The C functions behind rm_fh_is_enabled and rm_getsignal, looked up once
 * at configure time (NULL: not a METH_NOARGS / METH_O builtin, call it the
 * general way).  The builtins hold their self alive; calling the pointers
 * is the same call as rm_call_builtin makes, without the checks per access. */
static PyCFunction rm_fh_fn, rm_getsignal_fn;
static PyObject *rm_fh_self, *rm_getsignal_self;

/* Direct call of a builtin (METH_NOARGS / METH_O), without argument tuples. */
static PyObject *rm_call_builtin(PyObject *fn, PyObject *arg)
{
    if (PyCFunction_Check(fn)) {
        int flags = PyCFunction_GET_FLAGS(fn);
        PyCFunction meth = PyCFunction_GET_FUNCTION(fn);
        PyObject *self = PyCFunction_GET_SELF(fn);
        if (arg == NULL && (flags & ~(METH_COEXIST)) == METH_NOARGS)
            return meth(self, NULL);
        if (arg != NULL && (flags & ~(METH_COEXIST)) == METH_O)
            return meth(self, arg);
    }
    return arg == NULL ? PyObject_CallNoArgs(fn) : PyObject_CallOneArg(fn, arg);
}

static int rm_fh_state(void)
{
    PyObject *r = rm_call_builtin(rm_fh_is_enabled, NULL);
    int v;
    if (r == NULL)
        return -1;
    v = PyObject_IsTrue(r);
    Py_DECREF(r);
    return v;
}

static int rm_establish(void)
{
    struct sigaction cur[2];
    PyObject *table[2] = {NULL, NULL};
    int fh, i, main = PyThread_get_thread_ident() == rm_main_thread;
    sigset_t mask;

    rm_slow_paths++;
    if (rm_fault_factory == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "rawmmap._core is not configured (import rawmmap)");
        return -1;
    }
    fh = rm_fh_state();
    if (fh < 0)
        return -1;
    for (i = 0; i < 2; i++) {
        if (sigaction(rm_sigs[i], NULL, &cur[i]) != 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        if (rm_is_ours(&cur[i]) && rm_prev_under_fh[i] && !fh) {
            /* faulthandler was disabled since: the previous recorded is its
             * handler, which must not be chained to any more (it would hand
             * the fault back and forth); its own previous was rawmmap's, so
             * what remains below is the default */
            memset(&rm_prev[rm_sigs[i]], 0, sizeof rm_prev[0]);
            rm_prev[rm_sigs[i]].sa_handler = SIG_DFL;
            rm_prev_under_fh[i] = 0;
        }
    }
    for (i = 0; i < 2; i++) {
        PyObject *now = rm_call_builtin(rm_getsignal, rm_signo[i]);
        if (now == NULL)
            goto fail;
        if (main && rm_claim != NULL && (!rm_proof.valid || now != rm_proof.table[i]
                                         || !rm_is_ours(&cur[i]))) {
            /* claim Python's table with a fresh token (it installs Python's
             * C handler for a moment: rawmmap's goes back on top below) */
            Py_DECREF(now);
            now = PyObject_CallOneArg(rm_claim, rm_signo[i]);
            if (now == NULL)
                goto fail;
        }
        table[i] = now;
    }
    for (i = 0; i < 2; i++) {
        int ours = rm_is_ours(&cur[i]);
        if (rm_install(rm_sigs[i], ours ? &rm_prev[rm_sigs[i]] : &cur[i]) != 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            goto fail;
        }
        if (!ours)
            rm_prev_under_fh[i] = fh && cur[i].sa_handler != SIG_DFL
                                  && cur[i].sa_handler != SIG_IGN;
    }
    /* this thread's mask */
    if (pthread_sigmask(SIG_BLOCK, NULL, &mask) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto fail;
    }
    rm_thread_unblock = sigismember(&mask, SIGSEGV) == 1 || sigismember(&mask, SIGBUS) == 1;
    for (i = 0; i < 2; i++) {
        Py_XSETREF(rm_proof.table[i], table[i]);
        rm_proof.refcnt[i] = Py_REFCNT(table[i]);
    }
    rm_proof.fh = fh;
    rm_proof.epoch = rm_epoch;
    rm_proof.gen++;
    rm_proof.valid = 1;
    rm_thread_gen = rm_proof.gen;
    return 0;
fail:
    Py_XDECREF(table[0]);
    Py_XDECREF(table[1]);
    return -1;
}

/* With the GIL held: make sure a fault of the next access reaches rawmmap's
 * handler.  0, or -1 with an exception set. */
static inline int rm_ready(void)
{
    if (rm_proof.valid && !rm_proof.fh && rm_proof.epoch == rm_epoch
        && rm_thread_gen == rm_proof.gen) {
        PyObject *r;
        int same;
        r = rm_fh_fn ? rm_fh_fn(rm_fh_self, NULL) : rm_call_builtin(rm_fh_is_enabled, NULL);
        if (r == NULL)
            return -1;
        same = r == Py_False;
        Py_DECREF(r);
        if (same) {
            r = rm_getsignal_fn ? rm_getsignal_fn(rm_getsignal_self, rm_signo[0])
                                : rm_call_builtin(rm_getsignal, rm_signo[0]);
            if (r == NULL)
                return -1;
            same = r == rm_proof.table[0] && Py_REFCNT(r) == rm_proof.refcnt[0] + 1;
            Py_DECREF(r);
        }
        if (same) {
            r = rm_getsignal_fn ? rm_getsignal_fn(rm_getsignal_self, rm_signo[1])
                                : rm_call_builtin(rm_getsignal, rm_signo[1]);
            if (r == NULL)
                return -1;
            same = r == rm_proof.table[1] && Py_REFCNT(r) == rm_proof.refcnt[1] + 1;
            Py_DECREF(r);
        }
        if (same)
            return 0;
    }
    return rm_establish();
}

/* Unblock SIGSEGV/SIGBUS around an access in a thread that blocks them. */
struct rm_mask {
    int changed;
    sigset_t old;
};

static inline void rm_unblock(struct rm_mask *m)
{
    m->changed = 0;
    if (rm_thread_unblock) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGSEGV);
        sigaddset(&s, SIGBUS);
        m->changed = pthread_sigmask(SIG_UNBLOCK, &s, &m->old) == 0;
    }
}

static inline void rm_reblock(struct rm_mask *m)
{
    if (m->changed)
        pthread_sigmask(SIG_SETMASK, &m->old, NULL);
}

/* The exception for the fault just caught in this thread. */
static PyObject *rm_fault_exception(void)
{
    return PyObject_CallFunction(rm_fault_factory, "iiKi", rm_last.signo, rm_last.code,
                                 (unsigned long long)rm_last.addr, rm_last.pkey);
}

static void rm_raise_fault(void)
{
    PyObject *exc = rm_fault_exception();
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

/* ---- (3) guarded primitives ---------------------------------------------------
 * Each returns 0, or -1 when a SIGSEGV/SIGBUS interrupted it (rm_last says
 * which).  Bytes before the fault may have been copied. */

#define RM_FENCE() __atomic_signal_fence(__ATOMIC_SEQ_CST)

static int rm_copy(void *dst, const void *src, size_t n)
{
    struct rm_frame f;
    struct rm_mask m;
    rm_unblock(&m);
    f.prev = rm_top;
    f.pkru = rm_save_pkru();
    if (sigsetjmp(f.env, 0) != 0) {
        rm_restore_pkru(f.pkru);
        rm_reblock(&m);
        return -1;
    }
    rm_top = &f;
    RM_FENCE();
    memcpy(dst, src, n);
    RM_FENCE();
    rm_top = f.prev;
    rm_reblock(&m);
    return 0;
}

static int rm_touch(uintptr_t addr, size_t length, size_t step, int write)
{
    struct rm_frame f;
    struct rm_mask m;
    size_t i;
    if (step == 0)
        step = 1;
    rm_unblock(&m);
    f.prev = rm_top;
    f.pkru = rm_save_pkru();
    if (sigsetjmp(f.env, 0) != 0) {
        rm_restore_pkru(f.pkru);
        rm_reblock(&m);
        return -1;
    }
    rm_top = &f;
    RM_FENCE();
    for (i = 0; i < length; i += step) {
        volatile unsigned char *p = (volatile unsigned char *)(addr + i);
        if (write)
            __atomic_fetch_add((unsigned char *)p, 0, __ATOMIC_RELAXED);
        else
            (void)*p;
    }
    RM_FENCE();
    rm_top = f.prev;
    rm_reblock(&m);
    return 0;
}

enum { RM_LOAD, RM_STORE, RM_ADD, RM_EXCHANGE, RM_CAS, RM_NOPS };
static const char *const rm_atomic_names[RM_NOPS] = {
    "atomic_load", "atomic_store", "atomic_add", "atomic_exchange", "atomic_compare_exchange"};

#define RM_ATOMIC_CASE(T)                                                                  \
    {                                                                                      \
        T *p = (T *)addr, expected = (T)a;                                                 \
        switch (op) {                                                                      \
        case RM_LOAD: *result = __atomic_load_n(p, __ATOMIC_SEQ_CST); break;               \
        case RM_STORE: __atomic_store_n(p, (T)a, __ATOMIC_SEQ_CST); break;                 \
        case RM_ADD: *result = __atomic_fetch_add(p, (T)a, __ATOMIC_SEQ_CST); break;       \
        case RM_EXCHANGE: *result = __atomic_exchange_n(p, (T)a, __ATOMIC_SEQ_CST); break; \
        default:                                                                           \
            __atomic_compare_exchange_n(p, &expected, (T)b, 0, __ATOMIC_SEQ_CST,           \
                                        __ATOMIC_SEQ_CST);                                 \
            *result = expected;                                                            \
        }                                                                                  \
    }

static int rm_atomic(int op, uintptr_t addr, int size, uint64_t a, uint64_t b, uint64_t *result)
{
    struct rm_frame f;
    struct rm_mask m;
    *result = 0;
    rm_unblock(&m);
    f.prev = rm_top;
    f.pkru = rm_save_pkru();
    if (sigsetjmp(f.env, 0) != 0) {
        rm_restore_pkru(f.pkru);
        rm_reblock(&m);
        return -1;
    }
    rm_top = &f;
    RM_FENCE();
    switch (size) {
    case 1: RM_ATOMIC_CASE(uint8_t) break;
    case 2: RM_ATOMIC_CASE(uint16_t) break;
    case 4: RM_ATOMIC_CASE(uint32_t) break;
    default: RM_ATOMIC_CASE(uint64_t) break;
    }
    RM_FENCE();
    rm_top = f.prev;
    rm_reblock(&m);
    return 0;
}

/* pthread mutex calls, guarded: *err gets pthread's return value. */
enum { RM_MX_INIT, RM_MX_TRYLOCK, RM_MX_TIMEDLOCK, RM_MX_UNLOCK, RM_MX_CONSISTENT };

static int rm_mutex_call(int op, pthread_mutex_t *mx, const struct timespec *deadline, int *err)
{
    struct rm_frame f;
    struct rm_mask m;
    rm_unblock(&m);
    f.prev = rm_top;
    f.pkru = rm_save_pkru();
    if (sigsetjmp(f.env, 0) != 0) {
        rm_restore_pkru(f.pkru);
        rm_reblock(&m);
        return -1;
    }
    rm_top = &f;
    RM_FENCE();
    /* touch the whole object first (a write access that changes nothing):
     * a page beyond EOF or a protection fault shows here, before glibc has
     * started to change any state */
    {
        size_t i;
        for (i = 0; i < sizeof *mx; i += sizeof(int))
            __atomic_fetch_add((int *)((char *)mx + i), 0, __ATOMIC_RELAXED);
    }
    switch (op) {
    case RM_MX_INIT: {
        pthread_mutexattr_t attr;
        *err = pthread_mutexattr_init(&attr);
        if (!*err)
            *err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
        if (!*err)
            *err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
        if (!*err)
            *err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
        if (!*err)
            *err = pthread_mutex_init(mx, &attr);
        pthread_mutexattr_destroy(&attr);
        break;
    }
    case RM_MX_TRYLOCK: *err = pthread_mutex_trylock(mx); break;
    case RM_MX_TIMEDLOCK:
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
        *err = pthread_mutex_clocklock(mx, CLOCK_MONOTONIC, deadline);
#else
        *err = pthread_mutex_timedlock(mx, deadline);
#endif
        break;
    case RM_MX_UNLOCK: *err = pthread_mutex_unlock(mx); break;
    default: *err = pthread_mutex_consistent(mx); break;
    }
    RM_FENCE();
    rm_top = f.prev;
    rm_reblock(&m);
    return 0;
}

/* ---- argument checking (messages name the function, the argument, the rule) -- */

static int rm_address(const char *func, const char *name, PyObject *obj, uintptr_t *out)
{
    PyObject *index;
    unsigned long long v;
    if (PyLong_CheckExact(obj)) {
        /* PyLong_AsUnsignedLong reads the digits directly; the long long
         * variant goes through _PyLong_AsByteArray (~20 ns for an address) */
        v = sizeof(unsigned long) == sizeof(unsigned long long) ? PyLong_AsUnsignedLong(obj)
                                                               : PyLong_AsUnsignedLongLong(obj);
        if (!(v == (unsigned long long)-1 && PyErr_Occurred())) {
            *out = (uintptr_t)v;
            return 0;
        }
        PyErr_Clear();
        index = Py_NewRef(obj);
    } else {
        if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyByteArray_Check(obj)
            || !PyIndex_Check(obj)) {
            PyErr_Format(PyExc_TypeError, "%s(): %s must be an integer, got %.100s", func, name,
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
        index = PyNumber_Index(obj);
        if (index == NULL)
            return -1;
    }
    v = PyLong_AsUnsignedLongLong(index);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s(): %s must be in 0..2**64-1, got %R", func, name,
                     index);
        Py_DECREF(index);
        return -1;
    }
    Py_DECREF(index);
    *out = (uintptr_t)v;
    return 0;
}

/* A non-negative size; too large for memory gives ValueError naming it. */
static int rm_size(const char *func, const char *name, PyObject *obj, Py_ssize_t *out)
{
    PyObject *index;
    Py_ssize_t v;
    if (PyLong_CheckExact(obj)) {
        index = Py_NewRef(obj);
    } else {
        if (PyUnicode_Check(obj) || PyBytes_Check(obj) || !PyIndex_Check(obj)) {
            PyErr_Format(PyExc_TypeError, "%s(): %s must be an integer, got %.100s", func, name,
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
        index = PyNumber_Index(obj);
        if (index == NULL)
            return -1;
    }
    v = PyLong_AsSsize_t(index);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s(): %s must be between 0 and %zd, got %R", func, name,
                     PY_SSIZE_T_MAX, index);
        Py_DECREF(index);
        return -1;
    }
    if (v < 0) {
        PyErr_Format(PyExc_ValueError, "%s(): %s must be >= 0, got %zd", func, name, v);
        Py_DECREF(index);
        return -1;
    }
    Py_DECREF(index);
    *out = v;
    return 0;
}

/* Any integer (negative too): the caller checks the range. */
static int rm_ssize(const char *func, const char *name, PyObject *obj, Py_ssize_t *out)
{
    Py_ssize_t v;
    if (PyLong_CheckExact(obj)) { /* the common case; too large: the general path says so */
        v = PyLong_AsSsize_t(obj);
        if (!(v == -1 && PyErr_Occurred())) {
            *out = v;
            return 0;
        }
        PyErr_Clear();
    }
    if (PyUnicode_Check(obj) || PyBytes_Check(obj) || !PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s(): %s must be an integer, got %.100s", func, name,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    v = PyNumber_AsSsize_t(obj, PyExc_IndexError);
    if (v == -1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

static PyObject *rm_new_bytes(const char *func, Py_ssize_t n, char **data)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_MemoryError, "%s(): cannot allocate %zd bytes for the result",
                         func, n);
        }
        return NULL;
    }
    *data = PyBytes_AS_STRING(out);
    return out;
}

/* Copies this large or larger release the GIL (with the region marked busy). */
#define RM_NOGIL_COPY ((size_t)256 * 1024)

/* ---- (4) module functions -------------------------------------------------------- */

static PyObject *rm_read(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    uintptr_t addr;
    Py_ssize_t n;
    char *data;
    PyObject *out;
    int failed;
    (void)mod;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "read() takes exactly 2 arguments (addr, n), got %zd",
                     nargs);
        return NULL;
    }
    if (rm_address("read", "addr", args[0], &addr) < 0 || rm_size("read", "n", args[1], &n) < 0)
        return NULL;
    if (n == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    if (rm_ready() < 0)
        return NULL;
    out = rm_new_bytes("read", n, &data);
    if (out == NULL)
        return NULL;
    if ((size_t)n >= RM_NOGIL_COPY) {
        Py_BEGIN_ALLOW_THREADS
        failed = rm_copy(data, (const void *)addr, (size_t)n);
        Py_END_ALLOW_THREADS
    } else {
        failed = rm_copy(data, (const void *)addr, (size_t)n);
    }
    if (failed) {
        Py_DECREF(out);
        rm_raise_fault();
        return NULL;
    }
    return out;
}

static int rm_get_data(const char *func, const char *name, PyObject *obj, Py_buffer *view,
                       int writable)
{
    if (PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s(): %s must be a bytes-like object, got str (encode it first)", func,
                     name);
        return -1;
    }
    if (PyObject_GetBuffer(obj, view, writable ? PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS
                                               : PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s(): %s must be a %scontiguous bytes-like object, got %.100s",
                     func, name, writable ? "writable " : "", Py_TYPE(obj)->tp_name);
        return -1;
    }
    return 0;
}

static PyObject *rm_copy_with_buffer(const char *func, uintptr_t addr, Py_buffer *view,
                                     int into)
{
    int failed;
    if (rm_ready() < 0) {
        PyBuffer_Release(view);
        return NULL;
    }
    if ((size_t)view->len >= RM_NOGIL_COPY) {
        Py_BEGIN_ALLOW_THREADS
        failed = into ? rm_copy(view->buf, (const void *)addr, (size_t)view->len)
                      : rm_copy((void *)addr, view->buf, (size_t)view->len);
        Py_END_ALLOW_THREADS
    } else {
        failed = into ? rm_copy(view->buf, (const void *)addr, (size_t)view->len)
                      : rm_copy((void *)addr, view->buf, (size_t)view->len);
    }
    (void)func;
    PyBuffer_Release(view);
    if (failed) {
        rm_raise_fault();
        return NULL;
    }
    return Py_NewRef(Py_None);
}

static PyObject *rm_write(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    uintptr_t addr;
    Py_buffer view;
    (void)mod;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "write() takes exactly 2 arguments (addr, data), got %zd",
                     nargs);
        return NULL;
    }
    if (rm_address("write", "addr", args[0], &addr) < 0)
        return NULL;
    if (PyBytes_CheckExact(args[1]) && (size_t)PyBytes_GET_SIZE(args[1]) < RM_NOGIL_COPY) {
        /* small bytes: no buffer export (the rest as rm_copy_with_buffer) */
        if (rm_ready() < 0)
            return NULL;
        if (rm_copy((void *)addr, PyBytes_AS_STRING(args[1]), (size_t)PyBytes_GET_SIZE(args[1]))) {
            rm_raise_fault();
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (rm_get_data("write", "data", args[1], &view, 0) < 0)
        return NULL;
    return rm_copy_with_buffer("write", addr, &view, 0);
}

static PyObject *rm_read_into(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    uintptr_t addr;
    Py_buffer view;
    Py_ssize_t n;
    PyObject *r;
    (void)mod;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "read_into() takes exactly 2 arguments (addr, buffer), got %zd", nargs);
        return NULL;
    }
    if (rm_address("read_into", "addr", args[0], &addr) < 0
        || rm_get_data("read_into", "buffer", args[1], &view, 1) < 0)
        return NULL;
    n = view.len;
    r = rm_copy_with_buffer("read_into", addr, &view, 1);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    return PyLong_FromSsize_t(n);
}

static PyObject *rm_touch_fn(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    uintptr_t addr;
    Py_ssize_t length, step;
    int write, failed;
    (void)mod;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "touch(addr, length, write, step)");
        return NULL;
    }
    if (rm_address("touch", "addr", args[0], &addr) < 0
        || rm_size("touch", "length", args[1], &length) < 0
        || rm_size("touch", "step", args[3], &step) < 0)
        return NULL;
    write = PyObject_IsTrue(args[2]);
    if (write < 0)
        return NULL;
    if (rm_ready() < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    failed = rm_touch(addr, (size_t)length, (size_t)step, write);
    Py_END_ALLOW_THREADS
    if (failed) {
        rm_raise_fault();
        return NULL;
    }
    Py_RETURN_NONE;
}

static int rm_atomic_args(const char *func, PyObject *size_obj, int *size)
{
    long v;
    if (!PyLong_Check(size_obj)) {
        PyErr_Format(PyExc_TypeError, "%s(): size must be an integer, got %.100s", func,
                     Py_TYPE(size_obj)->tp_name);
        return -1;
    }
    v = PyLong_AsLong(size_obj);
    if (v == -1 && PyErr_Occurred())
        PyErr_Clear();
    if (!(v == 1 || v == 2 || v == 4 || v == 8)) {
        PyErr_Format(PyExc_ValueError, "%s(): size must be 1, 2, 4 or 8 bytes, got %R", func,
                     size_obj);
        return -1;
    }
    *size = (int)v;
    return 0;
}

static int rm_value(const char *func, const char *name, PyObject *obj, uint64_t *out)
{
    PyObject *index;
    if (PyLong_CheckExact(obj)) {
        index = Py_NewRef(obj);
    } else {
        if (PyUnicode_Check(obj) || PyBytes_Check(obj) || !PyIndex_Check(obj)) {
            PyErr_Format(PyExc_TypeError, "%s(): %s must be an integer, got %.100s", func, name,
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
        index = PyNumber_Index(obj);
        if (index == NULL)
            return -1;
    }
    *out = (uint64_t)PyLong_AsUnsignedLongLongMask(index); /* wraps, as C's unsigned math */
    Py_DECREF(index);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *rm_atomic_result(int op, uint64_t a, int size, uint64_t result)
{
    if (op == RM_STORE)
        Py_RETURN_NONE;
    if (op == RM_CAS) {
        uint64_t mask = size == 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8 * size)) - 1);
        PyObject *observed = PyLong_FromUnsignedLongLong(result);
        if (observed == NULL)
            return NULL;
        return Py_BuildValue("(NN)", PyBool_FromLong((a & mask) == result), observed);
    }
    return PyLong_FromUnsignedLongLong(result);
}

/* Checks and performs op at addr (GIL held).  NULL on error. */
static void region_raise_fault_obj(PyObject *r);

static int region_span_obj(PyObject *r, Py_ssize_t off, Py_ssize_t n, uintptr_t *addr);

/* owner != NULL: addr is owner's address + off, taken again after every
 * conversion that may have run Python code (which may have closed or
 * remapped the Mapping). */
static PyObject *rm_atomic_at(int op, uintptr_t addr, int size, PyObject *const *vals,
                              int nvals, PyObject *owner, Py_ssize_t off)
{
    const char *func = rm_atomic_names[op];
    uint64_t a = 0, b = 0, mask, result;
    if (addr % (uintptr_t)size) {
        PyObject *n = PyLong_FromUnsignedLongLong(addr), *hex = n ? PyNumber_ToBase(n, 16) : NULL;
        if (hex != NULL)
            PyErr_Format(PyExc_ValueError, "%s(): a %d-byte slot must be %d-byte aligned, got %U",
                         func, size, size, hex);
        Py_XDECREF(n);
        Py_XDECREF(hex);
        return NULL;
    }
    if (nvals > 0 && rm_value(func, op == RM_CAS ? "expected" : "value", vals[0], &a) < 0)
        return NULL;
    if (nvals > 1 && rm_value(func, "desired", vals[1], &b) < 0)
        return NULL;
    mask = size == 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8 * size)) - 1);
    if (rm_ready() < 0)
        return NULL;
    if (owner != NULL && region_span_obj(owner, off, size, &addr) < 0)
        return NULL;
    if (rm_atomic(op, addr, size, a & mask, b & mask, &result) != 0) {
        if (owner != NULL)
            region_raise_fault_obj(owner);
        else
            rm_raise_fault();
        return NULL;
    }
    return rm_atomic_result(op, a, size, result);
}

/* atomic(op, addr, size, *values) */
static PyObject *rm_atomic_fn(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    long op;
    int size;
    uintptr_t addr;
    (void)mod;
    if (nargs < 3 || !PyLong_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "atomic(op, addr, size, *values)");
        return NULL;
    }
    op = PyLong_AsLong(args[0]);
    if (op < 0 || op >= RM_NOPS) {
        PyErr_SetString(PyExc_ValueError, "atomic(): unknown op");
        return NULL;
    }
    if (rm_address(rm_atomic_names[op], "addr", args[1], &addr) < 0
        || rm_atomic_args(rm_atomic_names[op], args[2], &size) < 0)
        return NULL;
    return rm_atomic_at((int)op, addr, size, args + 3, (int)(nargs - 3), NULL, 0);
}

/* Positional-or-keyword arguments of a METH_FASTCALL|METH_KEYWORDS function:
 * out[j] gets the argument named names[j] (NULL if absent); the first nreq
 * are required.  Errors as Python's own for a def with these parameters. */
static int rm_args(const char *func, const char *const *names, int n, int nreq,
                   PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **out)
{
    Py_ssize_t i, nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    int j;
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes from %d to %d positional arguments but %zd "
                     "were given", func, nreq, n, nargs);
        return -1;
    }
    for (j = 0; j < n; j++)
        out[j] = j < nargs ? args[j] : NULL;
    for (i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        for (j = 0; j < n; j++) {
            if (PyUnicode_CompareWithASCIIString(key, names[j]) == 0)
                break;
        }
        if (j == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'", func,
                         key);
            return -1;
        }
        if (out[j] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", func,
                         names[j]);
            return -1;
        }
        out[j] = args[nargs + i];
    }
    for (j = 0; j < nreq; j++) {
        if (out[j] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)", func,
                         names[j], j + 1);
            return -1;
        }
    }
    return 0;
}

/* The public atomics: (addr, *values, size=8), each one C call (no Python
 * frame); the checks and the access are rm_atomic_at's, as for atomic(). */
static const char *const rm_atomic_params[RM_NOPS][4] = {
    {"addr", "size"},
    {"addr", "value", "size"},
    {"addr", "value", "size"},
    {"addr", "value", "size"},
    {"addr", "expected", "desired", "size"},
};
static const int rm_atomic_nparams[RM_NOPS] = {2, 3, 3, 3, 4};

static PyObject *rm_atomic_public(int op, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames)
{
    const char *func = rm_atomic_names[op];
    int n = rm_atomic_nparams[op], size = 8;
    PyObject *a[4];
    uintptr_t addr;
    if (rm_args(func, rm_atomic_params[op], n, n - 1, args, nargs, kwnames, a) < 0
        || rm_address(func, "addr", a[0], &addr) < 0
        || (a[n - 1] != NULL && rm_atomic_args(func, a[n - 1], &size) < 0))
        return NULL;
    return rm_atomic_at(op, addr, size, a + 1, n - 2, NULL, 0);
}

#define RM_ATOMIC_FN(name, op)                                                            \
    static PyObject *rm_##name(PyObject *mod, PyObject *const *args, Py_ssize_t nargs,    \
                               PyObject *kwnames)                                         \
    {                                                                                     \
        (void)mod;                                                                        \
        return rm_atomic_public(op, args, nargs, kwnames);                                \
    }
RM_ATOMIC_FN(atomic_load, RM_LOAD)
RM_ATOMIC_FN(atomic_store, RM_STORE)
RM_ATOMIC_FN(atomic_add, RM_ADD)
RM_ATOMIC_FN(atomic_exchange, RM_EXCHANGE)
RM_ATOMIC_FN(atomic_compare_exchange, RM_CAS)

/* ---- the crash recorder (run_isolated's child) ------------------------------- */

static PyObject *rm_capture_arm(PyObject *mod, PyObject *arg)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
    size_t i;
    long fd = PyLong_AsLong(arg);
    (void)mod;
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    rm_report_fd = (int)fd;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        if (rm_install(sigs[i], NULL) != 0)
            return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

/* The C function of a builtin called with `flags`, or NULL (call it the general way). */
static PyCFunction rm_builtin_fn(PyObject *fn, int flags, PyObject **self)
{
    *self = NULL;
    if (!PyCFunction_Check(fn) || (PyCFunction_GET_FLAGS(fn) & ~METH_COEXIST) != flags)
        return NULL;
    *self = PyCFunction_GET_SELF(fn);
    return PyCFunction_GET_FUNCTION(fn);
}

static PyObject *rm_configure(PyObject *mod, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"fault_factory", "claim", "fh_is_enabled", "getsignal", "main_thread",
                         NULL};
    PyObject *factory, *claim, *fh, *getsignal;
    unsigned long main_thread;
    int i;
    (void)mod;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOk", kw, &factory, &claim, &fh,
                                     &getsignal, &main_thread))
        return NULL;
    Py_XSETREF(rm_fault_factory, Py_NewRef(factory));
    Py_XSETREF(rm_claim, claim == Py_None ? NULL : Py_NewRef(claim));
    Py_XSETREF(rm_fh_is_enabled, Py_NewRef(fh));
    Py_XSETREF(rm_getsignal, Py_NewRef(getsignal));
    rm_fh_fn = rm_builtin_fn(fh, METH_NOARGS, &rm_fh_self);
    rm_getsignal_fn = rm_builtin_fn(getsignal, METH_O, &rm_getsignal_self);
    rm_main_thread = main_thread;
    for (i = 0; i < 2; i++) {
        if (rm_signo[i] == NULL && (rm_signo[i] = PyLong_FromLong(rm_sigs[i])) == NULL)
            return NULL;
    }
    Py_RETURN_NONE;
}

/* For tests and diagnostics: what the guard knows, without changing it. */
static PyObject *rm_guard_state(PyObject *mod, PyObject *unused)
{
    struct sigaction cur[2];
    sigset_t mask;
    int i;
    (void)mod;
    (void)unused;
    for (i = 0; i < 2; i++)
        sigaction(rm_sigs[i], NULL, &cur[i]);
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    return Py_BuildValue("{s:O,s:O,s:O,s:k,s:k,s:O}", "segv_installed",
                         rm_is_ours(&cur[0]) ? Py_True : Py_False, "bus_installed",
                         rm_is_ours(&cur[1]) ? Py_True : Py_False, "proved",
                         rm_proof.valid ? Py_True : Py_False, "epoch", (unsigned long)rm_epoch,
                         "slow_paths", rm_slow_paths,
                         "thread_blocks",
                         (sigismember(&mask, SIGSEGV) == 1 || sigismember(&mask, SIGBUS) == 1)
                             ? Py_True
                             : Py_False);
}

/* ---- (5) Region: the owner of one mapped range ------------------------------------
 *
 * The C base of rawmmap.Mapping.  It is what makes the lifetime exact:
 * - buffer exports are counted in bf_getbuffer/bf_releasebuffer (as
 *   CPython's mmap counts them); a memoryview holds the Region, never the
 *   other way round, so there is no cycle and dropping the last reference
 *   unmaps at once (tp_dealloc), garbage collector or not;
 * - guarded accesses that release the GIL are counted in `busy`;
 * - close() and remap() first take the range exclusively (_exclusive):
 *   refused with BufferError while exports live; copies in flight are
 *   waited for (new ones refused); every access checks the state, so
 *   nothing touches the range after it is handed to munmap/mremap;
 * - copy, deepcopy and pickle are refused, as for mmap.mmap.
 * The mmap/munmap/mremap calls themselves stay in the raw layer (traced);
 * the Region adopts the result.
 */

enum { RS_NEW, RS_OPEN, RS_EXCLUSIVE, RS_CLOSED };

typedef struct {
    PyObject_HEAD
    uintptr_t addr;
    Py_ssize_t length;
    int prot, flags, fd, owns_fd;
    long long offset;
    int state;
    Py_ssize_t exports;
    Py_ssize_t busy;
    PyObject *weakrefs;
    int rslot1; /* recovery slot + 1 (on_sigbus="zero"), 0: none */
} Region;

static PyTypeObject RegionType;

static int region_usable(Region *r)
{
    if (r->state == RS_OPEN)
        return 0;
    if (r->state == RS_EXCLUSIVE)
        PyErr_SetString(PyExc_ValueError,
                        "the Mapping is being closed or remapped by another thread");
    else if (r->state == RS_NEW)
        PyErr_SetString(PyExc_ValueError, "the Mapping was never mapped");
    else
        PyErr_SetString(PyExc_ValueError, "operation on a closed Mapping (it was unmapped)");
    return -1;
}

/* A fault inside this region: let the Python class attach itself. */
static void region_raise_fault(Region *r)
{
    PyObject *exc = rm_fault_exception(), *claimed;
    if (exc == NULL)
        return;
    claimed = PyObject_CallMethod((PyObject *)r, "_claim", "O", exc);
    if (claimed == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            claimed = Py_NewRef(exc);
        } else {
            Py_DECREF(exc);
            return;
        }
    }
    Py_DECREF(exc);
    PyErr_SetObject((PyObject *)Py_TYPE(claimed), claimed);
    Py_DECREF(claimed);
}

static int region_span(Region *r, const char *what, Py_ssize_t off, Py_ssize_t n);

static void region_raise_fault_obj(PyObject *r) { region_raise_fault((Region *)r); }

/* For rm_atomic_at: still open, [off, off+n) still inside, and the address now. */
static int region_span_obj(PyObject *o, Py_ssize_t off, Py_ssize_t n, uintptr_t *addr)
{
    Region *r = (Region *)o;
    if (region_usable(r) < 0 || region_span(r, "atomic", off, n) < 0)
        return -1;
    *addr = r->addr + (uintptr_t)off;
    return 0;
}

/* Guarded copy between the region at [off, off+n) and buf. */
static int region_copy(Region *r, Py_ssize_t off, void *buf, Py_ssize_t n, int into_region)
{
    int failed;
    void *at;
    /* everything before this point may have run Python code (an __index__,
     * a finalizer during an allocation, a signal handler while the guard
     * established itself) that closed or remapped the Mapping: the state,
     * the span and the address are taken here, right before the copy */
    if (rm_ready() < 0 || region_usable(r) < 0 || region_span(r, "access", off, n) < 0)
        return -1;
    at = (void *)(r->addr + (uintptr_t)off);
    if ((size_t)n >= RM_NOGIL_COPY) {
        r->busy++;
        Py_BEGIN_ALLOW_THREADS
        failed = into_region ? rm_copy(at, buf, (size_t)n) : rm_copy(buf, at, (size_t)n);
        Py_END_ALLOW_THREADS
        r->busy--;
    } else {
        failed = into_region ? rm_copy(at, buf, (size_t)n) : rm_copy(buf, at, (size_t)n);
    }
    if (failed) {
        region_raise_fault(r);
        return -1;
    }
    return 0;
}

static int region_span(Region *r, const char *what, Py_ssize_t off, Py_ssize_t n)
{
    if (off < 0 || n < 0 || off > r->length - n) {
        PyErr_Format(PyExc_IndexError,
                     "%s: bytes [%zd, %zd) are outside the mapping [0, %zd)", what, off, off + n,
                     r->length);
        return -1;
    }
    return 0;
}

static PyObject *region_read_span(Region *r, Py_ssize_t off, Py_ssize_t n)
{
    char *data;
    PyObject *out;
    if (n == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    out = rm_new_bytes("Mapping.read", n, &data);
    if (out == NULL)
        return NULL;
    if (region_copy(r, off, data, n, 0) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static Py_ssize_t region_index(Region *r, PyObject *key)
{
    Py_ssize_t i;
    if (PyLong_CheckExact(key)) { /* the common case: no __index__ call, no new reference */
        i = PyLong_AsSsize_t(key);
        if (i == -1 && PyErr_Occurred()) {
            PyErr_Clear(); /* too large: the general path below says so */
            i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        }
    } else {
        i = PyNumber_AsSsize_t(key, PyExc_IndexError);
    }
    if (i == -1 && PyErr_Occurred())
        return -1;
    if (i < 0)
        i += r->length;
    if (i < 0 || i >= r->length) {
        PyErr_Format(PyExc_IndexError, "Mapping index %zd out of range [0, %zd)",
                     i < 0 ? i - r->length : i, r->length);
        return -1;
    }
    return i;
}

static PyObject *region_subscript(Region *r, PyObject *key)
{
    if (r->state != RS_OPEN && region_usable(r) < 0)
        return NULL;
    if (PyLong_CheckExact(key)) { /* m[i]: the general case below, minus its type tests */
        unsigned char byte;
        Py_ssize_t i = region_index(r, key);
        if (i < 0 || region_copy(r, i, &byte, 1, 0) < 0)
            return NULL;
        return PyLong_FromLong(byte);
    }
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step, count, lo, hi, i;
        PyObject *chunk, *out;
        char *src, *dst;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0)
            return NULL;
        count = PySlice_AdjustIndices(r->length, &start, &stop, step);
        if (step == 1)
            return region_read_span(r, start, count);
        if (count == 0)
            return PyBytes_FromStringAndSize(NULL, 0);
        lo = step > 0 ? start : start + (count - 1) * step;
        hi = step > 0 ? start + (count - 1) * step + 1 : start + 1;
        chunk = region_read_span(r, lo, hi - lo);
        if (chunk == NULL)
            return NULL;
        out = rm_new_bytes("Mapping.__getitem__", count, &dst);
        if (out == NULL) {
            Py_DECREF(chunk);
            return NULL;
        }
        src = PyBytes_AS_STRING(chunk);
        for (i = 0; i < count; i++)
            dst[i] = src[start - lo + i * step];
        Py_DECREF(chunk);
        return out;
    }
    if (PyIndex_Check(key)) {
        unsigned char byte;
        Py_ssize_t i = region_index(r, key);
        if (i < 0)
            return NULL;
        if (region_copy(r, i, &byte, 1, 0) < 0)
            return NULL;
        return PyLong_FromLong(byte);
    }
    PyErr_Format(PyExc_TypeError, "Mapping indices must be integers or slices, not %.100s",
                 Py_TYPE(key)->tp_name);
    return NULL;
}

/* The bytes for a slice assignment, checked like bytearray's. */
static int region_value_bytes(PyObject *value, Py_buffer *view, PyObject **holder)
{
    *holder = NULL;
    if (PyUnicode_Check(value) || PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError,
                     "Mapping slice assignment: can assign only bytes, buffers, or iterables "
                     "of ints in range(0, 256), not %.100s",
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    if (PyObject_CheckBuffer(value))
        return PyObject_GetBuffer(value, view, PyBUF_C_CONTIGUOUS);
    *holder = PyBytes_FromObject(value);
    if (*holder == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "Mapping slice assignment: can assign only bytes, buffers, or iterables "
                         "of ints in range(0, 256), not %.100s",
                         Py_TYPE(value)->tp_name);
        }
        return -1;
    }
    return PyObject_GetBuffer(*holder, view, PyBUF_SIMPLE);
}

/* A slice of exact ints and Nones: unpacking it runs no Python code. */
static int rm_plain_slice(PyObject *key)
{
    PySliceObject *s = (PySliceObject *)key;
    return (s->start == Py_None || PyLong_CheckExact(s->start))
           && (s->stop == Py_None || PyLong_CheckExact(s->stop))
           && (s->step == Py_None || PyLong_CheckExact(s->step));
}

static int region_ass_subscript(Region *r, PyObject *key, PyObject *value)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "Mapping object doesn't support item deletion");
        return -1;
    }
    if (r->state != RS_OPEN && region_usable(r) < 0)
        return -1;
    if (PyLong_CheckExact(key) && PyLong_CheckExact(value)) {
        /* m[i] = x with ints: the general case below, minus its type tests */
        unsigned char byte;
        long v;
        int overflow;
        Py_ssize_t i = region_index(r, key);
        if (i < 0)
            return -1;
        v = PyLong_AsLongAndOverflow(value, &overflow);
        if (overflow || v < 0 || v > 255) {
            PyErr_Format(PyExc_ValueError, "byte must be in range(0, 256), got %R", value);
            return -1;
        }
        byte = (unsigned char)v;
        return region_copy(r, i, &byte, 1, 1);
    }
    if (PySlice_Check(key) && PyBytes_CheckExact(value) && rm_plain_slice(key)) {
        /* m[a:b] = bytes: no buffer export of the value */
        Py_ssize_t start, stop, step, count;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0)
            return -1;
        count = PySlice_AdjustIndices(r->length, &start, &stop, step);
        if (step == 1 && PyBytes_GET_SIZE(value) == count)
            return count ? region_copy(r, start, PyBytes_AS_STRING(value), count, 1) : 0;
    }
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step, count, i;
        Py_buffer view;
        PyObject *holder;
        int rc = 0;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0)
            return -1;
        count = PySlice_AdjustIndices(r->length, &start, &stop, step);
        if (region_value_bytes(value, &view, &holder) < 0)
            return -1;
        if (view.len != count) {
            PyErr_Format(PyExc_IndexError,
                         "Mapping slice assignment is wrong size: %zd bytes for %zd places",
                         view.len, count);
            rc = -1;
        } else if (step == 1) {
            rc = count ? region_copy(r, start, view.buf, count, 1) : 0;
        } else {
            for (i = 0; i < count && rc == 0; i++)
                rc = region_copy(r, start + i * step, (char *)view.buf + i, 1, 1);
        }
        PyBuffer_Release(&view);
        Py_XDECREF(holder);
        return rc;
    }
    if (PyIndex_Check(key)) {
        long v;
        unsigned char byte;
        Py_ssize_t i = region_index(r, key);
        if (i < 0)
            return -1;
        if (!PyIndex_Check(value)) {
            PyErr_Format(PyExc_TypeError, "Mapping item must be an integer, got %.100s",
                         Py_TYPE(value)->tp_name);
            return -1;
        }
        v = PyLong_AsLong(value);
        if (v == -1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return -1;
            PyErr_Clear();
            v = -1;
        }
        if (v < 0 || v > 255) {
            PyErr_Format(PyExc_ValueError, "byte must be in range(0, 256), got %R", value);
            return -1;
        }
        byte = (unsigned char)v;
        return region_copy(r, i, &byte, 1, 1);
    }
    PyErr_Format(PyExc_TypeError, "Mapping indices must be integers or slices, not %.100s",
                 Py_TYPE(key)->tp_name);
    return -1;
}

static Py_ssize_t region_len(Region *r)
{
    if (region_usable(r) < 0)
        return -1;
    return r->length;
}

static PyObject *region_read(Region *r, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t off, n;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "Mapping.read(offset, n) takes exactly 2 arguments");
        return NULL;
    }
    if (region_usable(r) < 0 || rm_ssize("Mapping.read", "offset", args[0], &off) < 0
        || rm_ssize("Mapping.read", "n", args[1], &n) < 0 || region_span(r, "read", off, n) < 0)
        return NULL;
    return region_read_span(r, off, n);
}

static PyObject *region_write(Region *r, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t off;
    Py_buffer view;
    int rc;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "Mapping.write(offset, data) takes exactly 2 arguments");
        return NULL;
    }
    if (region_usable(r) < 0 || rm_ssize("Mapping.write", "offset", args[0], &off) < 0
        || rm_get_data("Mapping.write", "data", args[1], &view, 0) < 0)
        return NULL;
    rc = region_span(r, "write", off, view.len);
    if (rc == 0 && view.len)
        rc = region_copy(r, off, view.buf, view.len, 1);
    PyBuffer_Release(&view);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *region_bytes(Region *r, PyObject *unused)
{
    (void)unused;
    if (region_usable(r) < 0)
        return NULL;
    return region_read_span(r, 0, r->length);
}

/* _atomic(op, offset, size, *values) */
static PyObject *region_atomic(Region *r, PyObject *const *args, Py_ssize_t nargs)
{
    long op;
    int size;
    Py_ssize_t off;
    const char *func;
    if (nargs < 3 || !PyLong_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_atomic(op, offset, size, *values)");
        return NULL;
    }
    op = PyLong_AsLong(args[0]);
    if (op < 0 || op >= RM_NOPS) {
        PyErr_SetString(PyExc_ValueError, "_atomic(): unknown op");
        return NULL;
    }
    func = rm_atomic_names[op];
    if (region_usable(r) < 0 || rm_ssize(func, "offset", args[1], &off) < 0
        || rm_atomic_args(func, args[2], &size) < 0)
        return NULL;
    if (off < 0 || off > r->length - size) {
        PyErr_Format(PyExc_ValueError,
                     "%s(): a %d-byte slot at offset %zd is outside the mapping [0, %zd)", func,
                     size, off, r->length);
        return NULL;
    }
    return rm_atomic_at((int)op, r->addr + (uintptr_t)off, size, args + 3, (int)(nargs - 3),
                        (PyObject *)r, off);
}

/* Mapping.atomic_load(offset, size=8) and co.: one C call each (no Python
 * frame), the checks of _atomic in the same order. */
static PyObject *region_atomic_public(Region *r, int op, PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames)
{
    static const char *const params[RM_NOPS][4] = {
        {"offset", "size"},
        {"offset", "value", "size"},
        {"offset", "value", "size"},
        {"offset", "value", "size"},
        {"offset", "expected", "desired", "size"},
    };
    const char *func = rm_atomic_names[op];
    int n = rm_atomic_nparams[op], size = 8;
    Py_ssize_t off;
    PyObject *a[4];
    if (rm_args(func, params[op], n, n - 1, args, nargs, kwnames, a) < 0 || region_usable(r) < 0
        || rm_ssize(func, "offset", a[0], &off) < 0
        || (a[n - 1] != NULL && rm_atomic_args(func, a[n - 1], &size) < 0))
        return NULL;
    if (off < 0 || off > r->length - size) {
        PyErr_Format(PyExc_ValueError,
                     "%s(): a %d-byte slot at offset %zd is outside the mapping [0, %zd)", func,
                     size, off, r->length);
        return NULL;
    }
    return rm_atomic_at(op, r->addr + (uintptr_t)off, size, a + 1, n - 2, (PyObject *)r, off);
}

#define RM_REGION_ATOMIC(name, op)                                                        \
    static PyObject *region_##name(Region *r, PyObject *const *args, Py_ssize_t nargs,    \
                                   PyObject *kwnames)                                     \
    {                                                                                     \
        return region_atomic_public(r, op, args, nargs, kwnames);                         \
    }
RM_REGION_ATOMIC(atomic_load, RM_LOAD)
RM_REGION_ATOMIC(atomic_store, RM_STORE)
RM_REGION_ATOMIC(atomic_add, RM_ADD)
RM_REGION_ATOMIC(atomic_exchange, RM_EXCHANGE)
RM_REGION_ATOMIC(atomic_compare_exchange, RM_CAS)

static PyObject *region_adopt(Region *r, PyObject *args)
{
    unsigned long long addr;
    Py_ssize_t length;
    int prot, flags, fd, owns;
    long long offset;
    if (!PyArg_ParseTuple(args, "KniiiLp", &addr, &length, &prot, &flags, &fd, &offset, &owns))
        return NULL;
    if (r->state != RS_NEW) {
        PyErr_SetString(PyExc_RuntimeError, "this Mapping already owns a range");
        return NULL;
    }
    r->addr = (uintptr_t)addr;
    r->length = length;
    r->prot = prot;
    r->flags = flags;
    r->fd = fd;
    r->offset = offset;
    r->owns_fd = owns;
    r->state = RS_OPEN;
    Py_RETURN_NONE;
}

/* Take the range for close/remap.  Refused with BufferError while buffer
 * exports live (they may last forever).  Guarded copies in flight without
 * the GIL are bounded: new ones are refused from now on (the state is
 * checked first by every access) and this waits, GIL released, until the
 * last one is done — so a closer racing a copying thread always makes
 * progress and never unmaps under the copy.  Returns False if the range is
 * already closed (nothing to do). */
static PyObject *region_exclusive(Region *r, PyObject *what)
{
    if (r->state == RS_CLOSED || r->state == RS_NEW)
        Py_RETURN_FALSE;
    if (r->state == RS_EXCLUSIVE) {
        PyErr_Format(PyExc_BufferError,
                     "cannot %U a Mapping that another thread is closing or remapping", what);
        return NULL;
    }
    if (r->exports > 0) {
        PyErr_Format(PyExc_BufferError,
                     "cannot %U a Mapping while %zd buffer export(s) of it exist (views, "
                     "numpy arrays, a SharedMutex): release them first",
                     what, r->exports);
        return NULL;
    }
    r->state = RS_EXCLUSIVE;
    while (r->busy > 0) {
        Py_BEGIN_ALLOW_THREADS
        usleep(50);
        Py_END_ALLOW_THREADS
    }
    if (r->rslot1) /* before munmap/mremap: no handler patches the range any more */
        rm_recovery_suspend(r->rslot1 - 1);
    Py_RETURN_TRUE;
}

/* _release(addr, length, closed): end of close/remap (or its failure). */
static PyObject *region_release(Region *r, PyObject *args)
{
    unsigned long long addr;
    Py_ssize_t length;
    int closed;
    if (!PyArg_ParseTuple(args, "Knp", &addr, &length, &closed))
        return NULL;
    if (r->state != RS_EXCLUSIVE) {
        PyErr_SetString(PyExc_RuntimeError, "_release without _exclusive");
        return NULL;
    }
    r->addr = (uintptr_t)addr;
    r->length = length;
    r->state = closed ? RS_CLOSED : RS_OPEN;
    if (r->rslot1 && closed) {
        rm_recovery_free(r->rslot1 - 1);
        r->rslot1 = 0;
    } else if (r->rslot1 && rm_recovery_resume(r->rslot1 - 1, r->addr, (size_t)r->length) < 0) {
        rm_recovery_free(r->rslot1 - 1);
        r->rslot1 = 0;
        return PyErr_NoMemory(); /* recovery mode is off: say so */
    }
    Py_RETURN_NONE;
}

static PyObject *region_set_prot(Region *r, PyObject *arg)
{
    int prot = (int)PyLong_AsLong(arg);
    if (prot == -1 && PyErr_Occurred())
        return NULL;
    r->prot = prot;
    if (r->rslot1)
        __atomic_store_n(&rm_rslots[r->rslot1 - 1].prot, prot, RM_SEQ);
    Py_RETURN_NONE;
}

/* _recover(): on_sigbus="zero" — register the range (section 1r) and make
 * sure rawmmap's handler is the one a fault meets (again, when registered:
 * `with m:` calls it, so a faulthandler.enable() since is undone). */
static PyObject *region_recover(Region *r, PyObject *unused)
{
    int slot;
    (void)unused;
    if (region_usable(r) < 0 || rm_ready() < 0)
        return NULL;
    if (r->rslot1) /* registered: the handler is proved current again, that is all */
        Py_RETURN_NONE;
    slot = rm_recovery_register(r->addr, (size_t)r->length, r->prot);
    if (slot < 0)
        return NULL;
    r->rslot1 = slot + 1;
    Py_RETURN_NONE;
}

/* _patches() -> [(offset, wrote: bool | None)] for every page patched and not
 * repaired, by offset. */
static PyObject *region_patches(Region *r, PyObject *unused)
{
    struct rm_rslot *s;
    size_t j;
    PyObject *out = PyList_New(0);
    (void)unused;
    if (out == NULL || !r->rslot1)
        return out;
    s = &rm_rslots[r->rslot1 - 1];
    if (__atomic_load_n(&s->patched, RM_SEQ) == 0)
        return out;
    for (j = 0; j < s->npages; j++) {
        int st = __atomic_load_n(&s->pages[j], RM_SEQ);
        PyObject *item;
        if (st == RP_FILE || st == RP_CLAIM)
            continue;
        item = Py_BuildValue("(KO)", (unsigned long long)(j * rm_rpage),
                             st == RP_UNKNOWN ? Py_None : st == RP_WRITE ? Py_True : Py_False);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    return out;
}

/* _repaired(offset): the file is mapped back over the page at offset. */
static PyObject *region_repaired(Region *r, PyObject *arg)
{
    Py_ssize_t off = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    struct rm_rslot *s;
    size_t j;
    int st;
    if (off == -1 && PyErr_Occurred())
        return NULL;
    if (!r->rslot1 || off < 0 || (size_t)off % rm_rpage
        || (size_t)off / rm_rpage >= rm_rslots[r->rslot1 - 1].npages) {
        PyErr_SetString(PyExc_ValueError, "_repaired(): no such page");
        return NULL;
    }
    s = &rm_rslots[r->rslot1 - 1];
    j = (size_t)off / rm_rpage;
    st = __atomic_load_n(&s->pages[j], RM_SEQ);
    if (st != RP_FILE && st != RP_CLAIM) {
        __atomic_store_n(&s->pages[j], RP_FILE, RM_SEQ);
        __atomic_sub_fetch(&s->patched, 1, RM_SEQ);
    }
    Py_RETURN_NONE;
}

static PyObject *region_get_recovering(Region *r, void *c)
{
    (void)c;
    return PyBool_FromLong(r->rslot1 != 0);
}

static PyObject *region_refuse_copy(Region *r, PyObject *unused)
{
    (void)unused;
    PyErr_Format(PyExc_TypeError,
                 "cannot copy or pickle '%.100s' object: it owns a mapped range (map the "
                 "file again in the other process, or share a MAP_SHARED mapping by fork)",
                 Py_TYPE(r)->tp_name);
    return NULL;
}

static int region_getbuffer(Region *r, Py_buffer *view, int flags)
{
    int readonly;
    if (region_usable(r) < 0) {
        view->obj = NULL;
        return -1;
    }
    readonly = !(r->prot & PROT_WRITE);
    if (PyBuffer_FillInfo(view, (PyObject *)r, (void *)r->addr, r->length, readonly, flags) < 0)
        return -1;
    r->exports++;
    return 0;
}

static void region_releasebuffer(Region *r, Py_buffer *view)
{
    (void)view;
    r->exports--;
}

static void region_dealloc(Region *r)
{
    if (r->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)r);
    if (r->state == RS_OPEN || r->state == RS_EXCLUSIVE) {
        /* the last reference: no export can exist (each holds one) */
        if (r->rslot1) {
            rm_recovery_free(r->rslot1 - 1);
            r->rslot1 = 0;
        }
        munmap((void *)r->addr, (size_t)r->length);
        if (r->owns_fd)
            close(r->fd);
        r->state = RS_CLOSED;
    }
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyObject *region_get_address(Region *r, void *c) { (void)c; return PyLong_FromUnsignedLongLong(r->addr); }
static PyObject *region_get_length(Region *r, void *c) { (void)c; return PyLong_FromSsize_t(r->length); }
static PyObject *region_get_prot(Region *r, void *c) { (void)c; return PyLong_FromLong(r->prot); }
static PyObject *region_get_flags(Region *r, void *c) { (void)c; return PyLong_FromLong(r->flags); }
static PyObject *region_get_fd(Region *r, void *c) { (void)c; return PyLong_FromLong(r->fd); }
static PyObject *region_get_offset(Region *r, void *c) { (void)c; return PyLong_FromLongLong(r->offset); }
static PyObject *region_get_owns_fd(Region *r, void *c) { (void)c; return PyBool_FromLong(r->owns_fd); }
static PyObject *region_get_exports(Region *r, void *c) { (void)c; return PyLong_FromSsize_t(r->exports); }
static PyObject *region_get_closed(Region *r, void *c)
{
    (void)c;
    return PyBool_FromLong(r->state != RS_OPEN && r->state != RS_EXCLUSIVE);
}

static PyGetSetDef region_getset[] = {
    {"address", (getter)region_get_address, NULL, "Where the range starts (an int).", NULL},
    {"length", (getter)region_get_length, NULL, "Its length in bytes.", NULL},
    {"prot", (getter)region_get_prot, NULL, "Its protection (PROT_*), as last set.", NULL},
    {"flags", (getter)region_get_flags, NULL, "The mmap flags (MAP_*).", NULL},
    {"fd", (getter)region_get_fd, NULL, "The file descriptor mapped, or -1.", NULL},
    {"offset", (getter)region_get_offset, NULL, "The file offset mapped.", NULL},
    {"closed", (getter)region_get_closed, NULL, "True once the range was unmapped.", NULL},
    {"_owns_fd", (getter)region_get_owns_fd, NULL, NULL, NULL},
    {"_exports", (getter)region_get_exports, NULL, "Buffer exports alive.", NULL},
    {"_recovering", (getter)region_get_recovering, NULL, "In recovery mode (on_sigbus='zero').", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef region_methods[] = {
    {"read", (PyCFunction)(void (*)(void))region_read, METH_FASTCALL,
     "read(offset, n) -> bytes\n--\n\nCopy n bytes at offset out of the mapping (guarded)."},
    {"write", (PyCFunction)(void (*)(void))region_write, METH_FASTCALL,
     "write(offset, data)\n--\n\nCopy data (bytes-like) into the mapping at offset (guarded)."},
    {"__bytes__", (PyCFunction)region_bytes, METH_NOARGS,
     "The whole mapping as bytes (a guarded copy)."},
    {"_atomic", (PyCFunction)(void (*)(void))region_atomic, METH_FASTCALL, NULL},
    {"atomic_load", (PyCFunction)(void (*)(void))region_atomic_load,
     METH_FASTCALL | METH_KEYWORDS,
     "atomic_load(offset, size=8)\n--\n\n"
     "Atomically read the ``size``-byte slot at ``offset`` (aligned; guarded):\n"
     "``__atomic_load_n``."},
    {"atomic_store", (PyCFunction)(void (*)(void))region_atomic_store,
     METH_FASTCALL | METH_KEYWORDS,
     "atomic_store(offset, value, size=8)\n--\n\n"
     "Atomically write ``value`` to the slot at ``offset``: ``__atomic_store_n``."},
    {"atomic_add", (PyCFunction)(void (*)(void))region_atomic_add,
     METH_FASTCALL | METH_KEYWORDS,
     "atomic_add(offset, value, size=8)\n--\n\n"
     "Atomic fetch-and-add at ``offset`` (``__atomic_fetch_add``): returns the old value."},
    {"atomic_exchange", (PyCFunction)(void (*)(void))region_atomic_exchange,
     METH_FASTCALL | METH_KEYWORDS,
     "atomic_exchange(offset, value, size=8)\n--\n\n"
     "Atomically store ``value`` at ``offset`` (``__atomic_exchange_n``); returns the old "
     "value."},
    {"atomic_compare_exchange", (PyCFunction)(void (*)(void))region_atomic_compare_exchange,
     METH_FASTCALL | METH_KEYWORDS,
     "atomic_compare_exchange(offset, expected, desired, size=8)\n--\n\n"
     "Store ``desired`` if the slot holds ``expected`` (``__atomic_compare_exchange_n``);\n"
     "returns (succeeded, observed)."},
    {"_adopt", (PyCFunction)region_adopt, METH_VARARGS, NULL},
    {"_exclusive", (PyCFunction)region_exclusive, METH_O, NULL},
    {"_release", (PyCFunction)region_release, METH_VARARGS, NULL},
    {"_set_prot", (PyCFunction)region_set_prot, METH_O, NULL},
    {"_recover", (PyCFunction)region_recover, METH_NOARGS, NULL},
    {"_patches", (PyCFunction)region_patches, METH_NOARGS, NULL},
    {"_repaired", (PyCFunction)region_repaired, METH_O, NULL},
    {"__copy__", (PyCFunction)region_refuse_copy, METH_NOARGS, NULL},
    {"__deepcopy__", (PyCFunction)region_refuse_copy, METH_O, NULL},
    {"__reduce__", (PyCFunction)region_refuse_copy, METH_NOARGS, NULL},
    {"__reduce_ex__", (PyCFunction)region_refuse_copy, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods region_as_mapping = {
    (lenfunc)region_len,
    (binaryfunc)region_subscript,
    (objobjargproc)region_ass_subscript,
};

static PySequenceMethods region_as_sequence = {
    (lenfunc)region_len,
};

static PyBufferProcs region_as_buffer = {
    (getbufferproc)region_getbuffer,
    (releasebufferproc)region_releasebuffer,
};

static PyTypeObject RegionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rawmmap._core.Region",
    .tp_basicsize = sizeof(Region),
    .tp_dealloc = (destructor)region_dealloc,
    .tp_as_sequence = &region_as_sequence,
    .tp_as_mapping = &region_as_mapping,
    .tp_as_buffer = &region_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The owner of one mapped range (the C base of rawmmap.Mapping).",
    .tp_weaklistoffset = offsetof(Region, weakrefs),
    .tp_methods = region_methods,
    .tp_getset = region_getset,
    .tp_new = PyType_GenericNew,
};

/* ---- (6) MutexBase: a pthread mutex inside a Region ----------------------------
 *
 * The C base of rawmmap.SharedMutex.  It holds a buffer export of its
 * Region for its whole life (so the Region cannot be closed or remapped
 * under a mutex that glibc's robust list may still point at); every pthread
 * call is guarded; a blocking acquire waits in slices of RM_LOCK_SLICE with
 * the GIL released and checks for signals between them (Ctrl-C interrupts
 * it, and an interrupted acquire never holds the lock); acquire and
 * __enter__ are C methods, so no bytecode boundary lies between taking the
 * lock and the with-block that releases it.
 */

#define RM_LOCK_SLICE_NS 50000000L /* 50 ms */

typedef struct {
    PyObject_HEAD
    Region *region;
    Py_buffer pin;
    int pinned;
    Py_ssize_t offset;
    int owner_died;
    unsigned long holder; /* thread ident that acquired through this object, 0 if none */
} MutexBase;

static int mutex_usable(MutexBase *m)
{
    if (!m->pinned) {
        PyErr_SetString(PyExc_ValueError, "SharedMutex is closed (or was never bound)");
        return -1;
    }
    return 0;
}

static pthread_mutex_t *mutex_at(MutexBase *m)
{
    return (pthread_mutex_t *)(m->region->addr + (uintptr_t)m->offset);
}

/* OSError(err, "call: strerror"): Python picks the subclass (EPERM:
 * PermissionError). */
static PyObject *mutex_error(const char *call, int err)
{
    PyObject *exc = PyObject_CallFunction(PyExc_OSError, "(iN)", err,
                                          PyUnicode_FromFormat("%s: %s", call, strerror(err)));
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* One guarded pthread call on the mutex; -1 with an exception on a fault. */
static int mutex_call(MutexBase *m, int op, const struct timespec *deadline, int *err)
{
    if (rm_ready() < 0)
        return -1;
    if (rm_mutex_call(op, mutex_at(m), deadline, err) != 0) {
        region_raise_fault(m->region);
        return -1;
    }
    return 0;
}

static PyObject *mutex_bind(MutexBase *m, PyObject *args)
{
    PyObject *region;
    Py_ssize_t offset;
    int initialize, err;
    if (!PyArg_ParseTuple(args, "O!np", &RegionType, &region, &offset, &initialize))
        return NULL;
    if (m->pinned) {
        PyErr_SetString(PyExc_RuntimeError, "SharedMutex already bound");
        return NULL;
    }
    if (PyObject_GetBuffer(region, &m->pin, PyBUF_SIMPLE) < 0)
        return NULL;
    m->pinned = 1;
    m->region = (Region *)Py_NewRef(region);
    m->offset = offset;
    if (initialize) {
        if (mutex_call(m, RM_MX_INIT, NULL, &err) < 0)
            return NULL;
        if (err)
            return mutex_error("pthread_mutex_init", err);
    }
    Py_RETURN_NONE;
}

static int mutex_timeout(PyObject *timeout_obj, int blocking, double *timeout)
{
    double t;
    if (timeout_obj == NULL) {
        *timeout = -1;
        return 0;
    }
    if (!PyFloat_Check(timeout_obj) && !PyLong_Check(timeout_obj)
        && !PyIndex_Check(timeout_obj) && Py_TYPE(timeout_obj)->tp_as_number == NULL) {
        PyErr_Format(PyExc_TypeError, "SharedMutex.acquire(): timeout must be a number, got %.100s",
                     Py_TYPE(timeout_obj)->tp_name);
        return -1;
    }
    t = PyFloat_AsDouble(timeout_obj);
    if (t == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "SharedMutex.acquire(): timeout must be a number, got %.100s",
                         Py_TYPE(timeout_obj)->tp_name);
        }
        return -1;
    }
    if (!blocking && t != -1) {
        PyErr_SetString(PyExc_ValueError,
                        "SharedMutex.acquire(): can't specify a timeout for a non-blocking call");
        return -1;
    }
    if (t != t || (t < 0 && t != -1)) {
        PyErr_SetString(PyExc_ValueError,
                        "SharedMutex.acquire(): timeout value must be a non-negative number "
                        "or -1 (wait forever)");
        return -1;
    }
    if (t > (double)PY_TIMEOUT_MAX / 1e6) {
        PyErr_SetString(PyExc_OverflowError, "SharedMutex.acquire(): timeout value is too large");
        return -1;
    }
    *timeout = t;
    return 0;
}

static void ts_add_ns(struct timespec *ts, long long ns)
{
    ts->tv_sec += (time_t)(ns / 1000000000LL);
    ts->tv_nsec += (long)(ns % 1000000000LL);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000L;
    }
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static clockid_t rm_lock_clock(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
    return CLOCK_MONOTONIC;
#else
    return CLOCK_REALTIME;
#endif
}

static PyObject *mutex_took(MutexBase *m, int err)
{
    if (err == EBUSY || err == ETIMEDOUT)
        Py_RETURN_FALSE;
    if (err == EDEADLK) {
        PyErr_SetString(PyExc_RuntimeError,
                        "SharedMutex.acquire(): this thread already holds the mutex "
                        "(EDEADLK: it is not recursive)");
        return NULL;
    }
    if (err && err != EOWNERDEAD)
        return mutex_error("pthread_mutex_lock", err);
    m->owner_died = err == EOWNERDEAD;
    m->holder = PyThread_get_thread_ident();
    Py_RETURN_TRUE;
}

static PyObject *mutex_acquire_impl(MutexBase *m, int blocking, double timeout)
{
    int err;
    struct timespec deadline, now, slice;
    if (mutex_usable(m) < 0)
        return NULL;
    if (m->holder != 0 && m->holder == PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "SharedMutex.acquire(): this thread already holds the mutex (it is not "
                        "recursive)");
        return NULL;
    }
    if (!blocking) {
        if (mutex_call(m, RM_MX_TRYLOCK, NULL, &err) < 0)
            return NULL;
        return mutex_took(m, err);
    }
    clock_gettime(rm_lock_clock(), &deadline);
    if (timeout >= 0)
        ts_add_ns(&deadline, (long long)(timeout * 1e9));
    for (;;) {
        int failed;
        clock_gettime(rm_lock_clock(), &now);
        slice = now;
        ts_add_ns(&slice, RM_LOCK_SLICE_NS);
        if (timeout >= 0 && ts_before(&deadline, &slice))
            slice = deadline;
        if (rm_ready() < 0)
            return NULL;
        m->region->busy++;
        Py_BEGIN_ALLOW_THREADS
        failed = rm_mutex_call(RM_MX_TIMEDLOCK, mutex_at(m), &slice, &err);
        Py_END_ALLOW_THREADS
        m->region->busy--;
        if (failed) {
            region_raise_fault(m->region);
            return NULL;
        }
        if (err != ETIMEDOUT)
            return mutex_took(m, err);
        if (timeout >= 0) {
            clock_gettime(rm_lock_clock(), &now);
            if (!ts_before(&now, &deadline))
                Py_RETURN_FALSE;
        }
        if (PyErr_CheckSignals() < 0)
            return NULL; /* not holding the lock */
    }
}

static PyObject *mutex_acquire(MutexBase *m, PyObject *args, PyObject *kwargs)
{
    static char *kw[] = {"blocking", "timeout", NULL};
    int blocking = 1;
    PyObject *timeout_obj = NULL;
    double timeout;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|pO:acquire", kw, &blocking, &timeout_obj))
        return NULL;
    if (mutex_timeout(timeout_obj, blocking, &timeout) < 0)
        return NULL;
    return mutex_acquire_impl(m, blocking, timeout);
}

static PyObject *mutex_enter(MutexBase *m, PyObject *unused)
{
    PyObject *r;
    (void)unused;
    r = mutex_acquire_impl(m, 1, -1);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    return Py_NewRef((PyObject *)m);
}

static PyObject *mutex_release(MutexBase *m, PyObject *unused)
{
    int err;
    (void)unused;
    if (mutex_usable(m) < 0 || mutex_call(m, RM_MX_UNLOCK, NULL, &err) < 0)
        return NULL;
    if (err)
        return mutex_error("pthread_mutex_unlock", err);
    m->holder = 0;
    Py_RETURN_NONE;
}

static PyObject *mutex_exit(MutexBase *m, PyObject *args)
{
    (void)args;
    return mutex_release(m, NULL);
}

static PyObject *mutex_consistent(MutexBase *m, PyObject *unused)
{
    int err;
    (void)unused;
    if (mutex_usable(m) < 0 || mutex_call(m, RM_MX_CONSISTENT, NULL, &err) < 0)
        return NULL;
    if (err)
        return mutex_error("pthread_mutex_consistent", err);
    m->owner_died = 0;
    Py_RETURN_NONE;
}

/* Drop the pin; refused while this object's thread holds the lock. */
static PyObject *mutex_close(MutexBase *m, PyObject *unused)
{
    (void)unused;
    if (!m->pinned)
        Py_RETURN_NONE;
    if (m->holder != 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "SharedMutex.close(): the mutex is held through this object; release "
                        "it first");
        return NULL;
    }
    m->pinned = 0;
    PyBuffer_Release(&m->pin);
    Py_RETURN_NONE;
}

static void mutex_dealloc(MutexBase *m)
{
    int keep = 0;
    if (m->pinned && m->holder != 0) {
        /* dropped while held through this object: unlock if this thread holds
         * it; otherwise keep the Region mapped for good rather than let
         * glibc's robust list point into memory that could be reused */
        PyObject *type, *value, *tb;
        int err = -1;
        PyErr_Fetch(&type, &value, &tb);
        if (m->holder == PyThread_get_thread_ident() && rm_ready() == 0
            && rm_mutex_call(RM_MX_UNLOCK, mutex_at(m), NULL, &err) == 0 && err == 0)
            m->holder = 0;
        else
            keep = 1;
        PyErr_Clear();
        PyErr_Restore(type, value, tb);
    }
    if (!keep) {
        if (m->pinned)
            PyBuffer_Release(&m->pin);
        Py_XDECREF(m->region);
    }
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static PyObject *mutex_get_mapping(MutexBase *m, void *c)
{
    (void)c;
    if (m->region == NULL)
        Py_RETURN_NONE;
    return Py_NewRef((PyObject *)m->region);
}
static PyObject *mutex_get_offset(MutexBase *m, void *c) { (void)c; return PyLong_FromSsize_t(m->offset); }
static PyObject *mutex_get_address(MutexBase *m, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(m->region ? (unsigned long long)(uintptr_t)mutex_at(m) : 0);
}
static PyObject *mutex_get_owner_died(MutexBase *m, void *c) { (void)c; return PyBool_FromLong(m->owner_died); }
static PyObject *mutex_get_closed(MutexBase *m, void *c) { (void)c; return PyBool_FromLong(!m->pinned); }

static PyGetSetDef mutex_getset[] = {
    {"mapping", (getter)mutex_get_mapping, NULL, "The Mapping the mutex lives in.", NULL},
    {"offset", (getter)mutex_get_offset, NULL, "Its offset in the mapping.", NULL},
    {"address", (getter)mutex_get_address, NULL, "Its address.", NULL},
    {"owner_died", (getter)mutex_get_owner_died, NULL,
     "True after an acquire found the previous owner dead (EOWNERDEAD).", NULL},
    {"closed", (getter)mutex_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef mutex_methods[] = {
    {"_bind", (PyCFunction)mutex_bind, METH_VARARGS, NULL},
    {"acquire", (PyCFunction)(void (*)(void))mutex_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool\n--\n\n"
     "Lock (pthread_mutex_lock(3)); False if not acquired (non-blocking, or timed out).\n"
     "timeout follows threading.Lock.acquire: -1 waits forever.  If the previous owner\n"
     "died holding the lock it is acquired all the same and owner_died becomes True.\n"
     "Ctrl-C interrupts a blocked acquire (the lock is then not held)."},
    {"release", (PyCFunction)mutex_release, METH_NOARGS,
     "Unlock (pthread_mutex_unlock(3)); PermissionError if this thread does not hold it."},
    {"consistent", (PyCFunction)mutex_consistent, METH_NOARGS,
     "pthread_mutex_consistent(3): the data is repaired; the mutex is usable again."},
    {"close", (PyCFunction)mutex_close, METH_NOARGS,
     "Stop using the mutex: the Mapping may then be closed.  Idempotent."},
    {"__enter__", (PyCFunction)mutex_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)mutex_exit, METH_VARARGS, NULL},
    {"__copy__", (PyCFunction)region_refuse_copy, METH_NOARGS, NULL},
    {"__deepcopy__", (PyCFunction)region_refuse_copy, METH_O, NULL},
    {"__reduce__", (PyCFunction)region_refuse_copy, METH_NOARGS, NULL},
    {"__reduce_ex__", (PyCFunction)region_refuse_copy, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MutexBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rawmmap._core.MutexBase",
    .tp_basicsize = sizeof(MutexBase),
    .tp_dealloc = (destructor)mutex_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A robust process-shared pthread mutex in a Region (the C base of SharedMutex).",
    .tp_methods = mutex_methods,
    .tp_getset = mutex_getset,
    .tp_new = PyType_GenericNew,
};

/* ---- (8) compat helpers: guarded searches inside a Region (rawmmap.compat) --------
 * rawmmap.compat's find/rfind/readline search the mapped memory in place, as
 * CPython's mmap does, instead of copying it out first.  The search runs
 * inside a guard frame exactly like rm_copy's (section 3): glibc's memchr/
 * memmem/memrchr hold no lock and allocate nothing, so leaving them with
 * siglongjmp is safe.  The GIL is held throughout (no other thread can close
 * or remap the Region meanwhile); the Region's state is checked first. */

static Py_ssize_t rm_compat_scan(const char *hay, size_t n, const char *needle, size_t k,
                                 int reverse)
{
    const char *p;
    size_t span;
    if (k > n)
        return -1;
    if (k == 0)
        return reverse ? (Py_ssize_t)n : 0;
    if (!reverse) {
        p = k == 1 ? memchr(hay, needle[0], n) : memmem(hay, n, needle, k);
        return p == NULL ? -1 : (Py_ssize_t)(p - hay);
    }
    span = n - k + 1; /* candidate starts [0, n-k] */
    while (span > 0) {
        p = memrchr(hay, needle[0], span);
        if (p == NULL)
            return -1;
        if (memcmp(p, needle, k) == 0)
            return (Py_ssize_t)(p - hay);
        span = (size_t)(p - hay);
    }
    return -1;
}

/* 0 (and *found), or -1 when a SIGSEGV/SIGBUS interrupted the search. */
static int rm_compat_search(const char *hay, size_t n, const char *needle, size_t k,
                            int reverse, Py_ssize_t *found)
{
    struct rm_frame f;
    struct rm_mask m;
    Py_ssize_t result;
    rm_unblock(&m);
    f.prev = rm_top;
    f.pkru = rm_save_pkru();
    if (sigsetjmp(f.env, 0) != 0) {
        rm_restore_pkru(f.pkru);
        rm_reblock(&m);
        return -1;
    }
    rm_top = &f;
    RM_FENCE();
    result = rm_compat_scan(hay, n, needle, k, reverse);
    RM_FENCE();
    rm_top = f.prev;
    rm_reblock(&m);
    *found = result;
    return 0;
}

static Region *rm_compat_region(const char *func, PyObject *obj)
{
    if (!PyObject_TypeCheck(obj, &RegionType)) {
        PyErr_Format(PyExc_TypeError, "%s(): region must be a rawmmap._core.Region, not %.100s",
                     func, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (region_usable((Region *)obj) < 0)
        return NULL;
    return (Region *)obj;
}

/* compat_find(region, needle, start, end, reverse) -> index in the region, or -1 */
static PyObject *rm_compat_find(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    Region *r;
    Py_ssize_t start, end, found;
    int reverse, failed;
    Py_buffer needle;
    (void)mod;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "compat_find(region, needle, start, end, reverse) takes 5 arguments");
        return NULL;
    }
    /* everything that may run Python code (__index__, __bool__, a buffer export that
     * could close or resize the region) comes before the region's state is checked */
    if (rm_ssize("compat_find", "start", args[2], &start) < 0
        || rm_ssize("compat_find", "end", args[3], &end) < 0
        || (reverse = PyObject_IsTrue(args[4])) < 0
        || rm_get_data("compat_find", "needle", args[1], &needle, 0) < 0)
        return NULL;
    if ((r = rm_compat_region("compat_find", args[0])) == NULL) {
        PyBuffer_Release(&needle);
        return NULL;
    }
    if (start < 0 || end < start || end > r->length) {
        PyErr_Format(PyExc_ValueError,
                     "compat_find(): [start, end) = [%zd, %zd) must lie in [0, %zd)", start, end,
                     r->length);
        PyBuffer_Release(&needle);
        return NULL;
    }
    if (needle.len > end - start) {
        PyBuffer_Release(&needle);
        return PyLong_FromLong(-1);
    }
    if (rm_ready() < 0) {
        PyBuffer_Release(&needle);
        return NULL;
    }
    failed = rm_compat_search((const char *)(r->addr + (uintptr_t)start), (size_t)(end - start),
                              (const char *)needle.buf, (size_t)needle.len, reverse, &found);
    PyBuffer_Release(&needle);
    if (failed) {
        region_raise_fault(r);
        return NULL;
    }
    return PyLong_FromSsize_t(found < 0 ? -1 : start + found);
}

/* compat_readline(region, pos) -> the bytes from pos up to and including the next
 * newline (or to the end); b"" at or past the end. */
static PyObject *rm_compat_readline(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    Region *r;
    Py_ssize_t pos, found, n;
    PyObject *out;
    char *data;
    (void)mod;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "compat_readline(region, pos) takes 2 arguments");
        return NULL;
    }
    if (rm_ssize("compat_readline", "pos", args[1], &pos) < 0
        || (r = rm_compat_region("compat_readline", args[0])) == NULL)
        return NULL;
    if (pos < 0) {
        PyErr_Format(PyExc_ValueError, "compat_readline(): pos must be >= 0, got %zd", pos);
        return NULL;
    }
    if (pos >= r->length)
        return PyBytes_FromStringAndSize(NULL, 0);
    if (rm_ready() < 0)
        return NULL;
    if (rm_compat_search((const char *)(r->addr + (uintptr_t)pos), (size_t)(r->length - pos),
                         "\n", 1, 0, &found) < 0) {
        region_raise_fault(r);
        return NULL;
    }
    n = found < 0 ? r->length - pos : found + 1;
    out = rm_new_bytes("readline", n, &data);
    if (out == NULL)
        return NULL;
    /* the allocation may run a finalizer (garbage collection) that closes or resizes
     * the region: check again before touching it */
    if (region_usable(r) < 0 || region_span(r, "readline", pos, n) < 0
        || region_copy(r, pos, data, n, 0) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

/* CompatBase: the C base of rawmmap.compat.mmap (a Region).  Only the hot paths
 * are here — m[i] and m[i] = v for an int index in range on an open, writable
 * region — each one guarded copy, as Region's own; everything else (slices,
 * messages, the standard library's checks) is the Python class's _getitem/
 * _setitem.  The type is made ready on first use by compat_base(), so the
 * module's init is unchanged. */

static PyObject *compat_subscript(Region *r, PyObject *key)
{
    if (PyLong_CheckExact(key) && r->state == RS_OPEN) {
        unsigned char byte;
        Py_ssize_t i = PyLong_AsSsize_t(key);
        if (i == -1 && PyErr_Occurred()) {
            PyErr_Clear();
        } else {
            if (i < 0)
                i += r->length;
            if (i >= 0 && i < r->length) {
                if (region_copy(r, i, &byte, 1, 0) < 0)
                    return NULL;
                return PyLong_FromLong(byte);
            }
        }
    }
    if (PySlice_Check(key) && r->state == RS_OPEN) {
        PySliceObject *sl = (PySliceObject *)key;
        /* only a slice of plain ints/None: no __index__ runs, nothing can change r */
        if ((sl->start == Py_None || PyLong_CheckExact(sl->start))
            && (sl->stop == Py_None || PyLong_CheckExact(sl->stop)) && sl->step == Py_None) {
            Py_ssize_t start, stop, step, count;
            char *data;
            PyObject *out;
            if (PySlice_Unpack(key, &start, &stop, &step) < 0)
                return NULL;
            count = PySlice_AdjustIndices(r->length, &start, &stop, step);
            if (count == 0)
                return PyBytes_FromStringAndSize(NULL, 0);
            out = rm_new_bytes("mmap.__getitem__", count, &data);
            if (out == NULL)
                return NULL;
            /* the allocation may have run a finalizer: check again */
            if (region_usable(r) < 0 || region_span(r, "mmap.__getitem__", start, count) < 0) {
                Py_DECREF(out);
                PyErr_Clear();
                return PyObject_CallMethod((PyObject *)r, "_getitem", "O", key);
            }
            if (region_copy(r, start, data, count, 0) < 0) {
                Py_DECREF(out);
                return NULL;
            }
            return out;
        }
    }
    return PyObject_CallMethod((PyObject *)r, "_getitem", "O", key);
}

static int compat_ass_subscript(Region *r, PyObject *key, PyObject *value)
{
    PyObject *res;
    if (value != NULL && PyLong_CheckExact(key) && PyLong_CheckExact(value)
        && r->state == RS_OPEN && (r->prot & PROT_WRITE)) {
        long v = PyLong_AsLong(value);
        Py_ssize_t i = PyLong_AsSsize_t(key);
        if ((v == -1 || i == -1) && PyErr_Occurred()) {
            PyErr_Clear();
        } else {
            if (i < 0)
                i += r->length;
            if (i >= 0 && i < r->length && v >= 0 && v <= 255) {
                unsigned char byte = (unsigned char)v;
                return region_copy(r, i, &byte, 1, 1);
            }
        }
    }
    res = value == NULL ? PyObject_CallMethod((PyObject *)r, "_delitem", "O", key)
                        : PyObject_CallMethod((PyObject *)r, "_setitem", "OO", key, value);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

static PyMappingMethods compat_as_mapping = {
    NULL, /* len: the Python class's __len__ */
    (binaryfunc)compat_subscript,
    (objobjargproc)compat_ass_subscript,
};

static PyTypeObject CompatBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rawmmap._core.CompatBase",
    .tp_basicsize = sizeof(Region),
    .tp_as_mapping = &compat_as_mapping,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The C base of rawmmap.compat.mmap: a Region with fast m[i] and m[i] = v.",
};

/* compat_base() -> the CompatBase type (made ready on the first call) */
static PyObject *rm_compat_base(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    if (CompatBaseType.tp_base == NULL) {
        CompatBaseType.tp_base = &RegionType;
        if (PyType_Ready(&CompatBaseType) < 0) {
            CompatBaseType.tp_base = NULL;
            return NULL;
        }
    }
    return Py_NewRef((PyObject *)&CompatBaseType);
}

/* ---- (7) Window: a buffer exporter for part of a Region ------------------------
 * memoryview(window) is [start, start+length) of the Region, counted in the
 * Region's exports exactly like a view of the whole (the C base of the
 * pytest plugin's guard_page_buffer, so memoryview() works on every Python,
 * not only with PEP 688). */

typedef struct {
    PyObject_HEAD
    Region *region;
    Py_ssize_t start, length;
} Window;

static PyObject *window_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *region;
    Py_ssize_t start, length;
    Window *w;
    static char *kw[] = {"region", "start", "length", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!nn", kw, &RegionType, &region, &start,
                                     &length))
        return NULL;
    if (start < 0 || length < 0 || start > ((Region *)region)->length - length) {
        PyErr_Format(PyExc_ValueError, "Window: [%zd, %zd) is outside the mapping [0, %zd)",
                     start, start + length, ((Region *)region)->length);
        return NULL;
    }
    w = (Window *)type->tp_alloc(type, 0);
    if (w == NULL)
        return NULL;
    w->region = (Region *)Py_NewRef(region);
    w->start = start;
    w->length = length;
    return (PyObject *)w;
}

static int window_getbuffer(Window *w, Py_buffer *view, int flags)
{
    Region *r = w->region;
    if (region_usable(r) < 0) {
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)w, (void *)(r->addr + (uintptr_t)w->start),
                          w->length, !(r->prot & PROT_WRITE), flags) < 0)
        return -1;
    r->exports++;
    return 0;
}

static void window_releasebuffer(Window *w, Py_buffer *view)
{
    (void)view;
    w->region->exports--;
}

static void window_dealloc(Window *w)
{
    Py_XDECREF(w->region);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static Py_ssize_t window_len(Window *w) { return w->length; }

static PyObject *window_get_address(Window *w, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(w->region->addr + (uintptr_t)w->start);
}
static PyObject *window_get_length(Window *w, void *c) { (void)c; return PyLong_FromSsize_t(w->length); }
static PyObject *window_get_mapping(Window *w, void *c) { (void)c; return Py_NewRef((PyObject *)w->region); }

static PyGetSetDef window_getset[] = {
    {"address", (getter)window_get_address, NULL, "Where the window starts.", NULL},
    {"length", (getter)window_get_length, NULL, "Its length in bytes.", NULL},
    {"mapping", (getter)window_get_mapping, NULL, "The Mapping it is part of.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef window_methods[] = {
    {"__copy__", (PyCFunction)region_refuse_copy, METH_NOARGS, NULL},
    {"__deepcopy__", (PyCFunction)region_refuse_copy, METH_O, NULL},
    {"__reduce__", (PyCFunction)region_refuse_copy, METH_NOARGS, NULL},
    {"__reduce_ex__", (PyCFunction)region_refuse_copy, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods window_as_sequence = {(lenfunc)window_len};
static PyBufferProcs window_as_buffer = {
    (getbufferproc)window_getbuffer,
    (releasebufferproc)window_releasebuffer,
};

static PyTypeObject WindowType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "rawmmap._core.Window",
    .tp_basicsize = sizeof(Window),
    .tp_dealloc = (destructor)window_dealloc,
    .tp_as_sequence = &window_as_sequence,
    .tp_as_buffer = &window_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A buffer exporter for [start, start+length) of a Region.",
    .tp_methods = window_methods,
    .tp_getset = window_getset,
    .tp_new = window_new,
};

/* ---- module ------------------------------------------------------------------------ */

static PyMethodDef rm_functions[] = {
    {"read", (PyCFunction)(void (*)(void))rm_read, METH_FASTCALL,
     "read(addr, n, /)\n--\n\n"
     "Copy n bytes from addr into a new bytes object, guarded.\n\n"
     "A SIGBUS/SIGSEGV during the copy raises rawmmap.MappingFault (.signal, .code,\n"
     ".address); the interpreter is unharmed.  Unlike Mapping indexing this reaches\n"
     "any address, e.g. the rest of a mapping's last page."},
    {"write", (PyCFunction)(void (*)(void))rm_write, METH_FASTCALL,
     "write(addr, data, /)\n--\n\nCopy data (any bytes-like object) to addr, guarded."},
    {"read_into", (PyCFunction)(void (*)(void))rm_read_into, METH_FASTCALL,
     "read_into(addr, buffer, /)\n--\n\n"
     "Fill a writable buffer (bytearray, memoryview, numpy array) from addr, guarded.\n"
     "Returns the number of bytes copied (the buffer's size in bytes)."},
    {"touch", (PyCFunction)(void (*)(void))rm_touch_fn, METH_FASTCALL, NULL},
    {"atomic", (PyCFunction)(void (*)(void))rm_atomic_fn, METH_FASTCALL, NULL},
    {"atomic_load", (PyCFunction)(void (*)(void))rm_atomic_load, METH_FASTCALL | METH_KEYWORDS,
     "atomic_load(addr, size=8)\n--\n\n"
     "``__atomic_load_n(addr, SEQ_CST)``: the slot's value (guarded)."},
    {"atomic_store", (PyCFunction)(void (*)(void))rm_atomic_store,
     METH_FASTCALL | METH_KEYWORDS,
     "atomic_store(addr, value, size=8)\n--\n\n"
     "``__atomic_store_n(addr, value, SEQ_CST)`` (value taken modulo 2**(8*size); guarded)."},
    {"atomic_add", (PyCFunction)(void (*)(void))rm_atomic_add, METH_FASTCALL | METH_KEYWORDS,
     "atomic_add(addr, value, size=8)\n--\n\n"
     "``__atomic_fetch_add(addr, value, SEQ_CST)``: adds, returns the old value (guarded)."},
    {"atomic_exchange", (PyCFunction)(void (*)(void))rm_atomic_exchange,
     METH_FASTCALL | METH_KEYWORDS,
     "atomic_exchange(addr, value, size=8)\n--\n\n"
     "``__atomic_exchange_n(addr, value, SEQ_CST)``: stores, returns the old value (guarded)."},
    {"atomic_compare_exchange", (PyCFunction)(void (*)(void))rm_atomic_compare_exchange,
     METH_FASTCALL | METH_KEYWORDS,
     "atomic_compare_exchange(addr, expected, desired, size=8)\n--\n\n"
     "``__atomic_compare_exchange_n``: store ``desired`` if the slot holds ``expected``\n"
     "(guarded).  Returns ``(succeeded, observed)``: ``observed`` is the value the slot held."},
    {"capture_arm", (PyCFunction)rm_capture_arm, METH_O, NULL},
    {"configure", (PyCFunction)(void (*)(void))rm_configure, METH_VARARGS | METH_KEYWORDS, NULL},
    {"guard_state", (PyCFunction)rm_guard_state, METH_NOARGS, NULL},
    {"compat_find", (PyCFunction)(void (*)(void))rm_compat_find, METH_FASTCALL,
     "compat_find(region, needle, start, end, reverse, /)\n--\n\n"
     "Index of needle in region[start:end] (the last one if reverse), or -1; guarded."},
    {"compat_readline", (PyCFunction)(void (*)(void))rm_compat_readline, METH_FASTCALL,
     "compat_readline(region, pos, /)\n--\n\n"
     "The bytes of region from pos through the next newline (or the end); guarded."},
    {"compat_base", (PyCFunction)rm_compat_base, METH_NOARGS,
     "compat_base()\n--\n\nThe C base type of rawmmap.compat.mmap (a Region subclass)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef rm_module = {
    PyModuleDef_HEAD_INIT, "rawmmap._core",
    "The fault guard and the objects that own memory (see core.c's design comment).", -1,
    rm_functions, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    PyObject *m;
    if (PyType_Ready(&RegionType) < 0 || PyType_Ready(&MutexBaseType) < 0
        || PyType_Ready(&WindowType) < 0)
        return NULL;
    rm_detect_pku();
    m = PyModule_Create(&rm_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Region", (PyObject *)&RegionType) < 0
        || PyModule_AddObjectRef(m, "MutexBase", (PyObject *)&MutexBaseType) < 0
        || PyModule_AddObjectRef(m, "Window", (PyObject *)&WindowType) < 0
        || PyModule_AddIntConstant(m, "FAULT_RECORD_SIZE", (long)sizeof(struct rm_fault)) < 0
        || PyModule_AddIntConstant(m, "LOAD", RM_LOAD) < 0
        || PyModule_AddIntConstant(m, "STORE", RM_STORE) < 0
        || PyModule_AddIntConstant(m, "ADD", RM_ADD) < 0
        || PyModule_AddIntConstant(m, "EXCHANGE", RM_EXCHANGE) < 0
        || PyModule_AddIntConstant(m, "CAS", RM_CAS) < 0
        || PyModule_AddIntConstant(m, "MUTEX_SIZE", (long)sizeof(pthread_mutex_t)) < 0
        || PyModule_AddIntConstant(m, "MUTEX_ALIGNMENT", (long)_Alignof(pthread_mutex_t)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
