/* rawmmap's C side: included verbatim by the CFFI builder (_build.py).
 *
 * Parts, in order: (1) the libc calls, as thin wrappers that take and return
 * addresses as uintptr_t so that Python can pass plain ints; (2) the fault
 * guard; (3) the crash recorder used by run_isolated; (4) page touching.
 * Every helper is static and prefixed rawmmap_.
 */

/* ---- (1) libc calls ------------------------------------------------------
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

/* ---- (2) the fault guard -------------------------------------------------
 *
 * Design.  A guarded copy must turn a SIGBUS or SIGSEGV raised by *its own*
 * memory access into an exception, and leave every other fault exactly as it
 * would have been without rawmmap.
 *
 * - One process-wide SA_SIGINFO handler for SIGSEGV and SIGBUS
 *   (rawmmap_on_signal), installed by rawmmap_guard_install().  The
 *   disposition it replaced is kept in rawmmap_prev[].
 * - A guarded copy publishes a jump frame in a thread-local pointer
 *   (rawmmap_frame, initial-exec TLS: no allocation, safe to read in a
 *   handler), sets it with sigsetjmp(.., 0) (no syscall: the fast path makes
 *   none) and clears it when done.  Signals for faults are delivered to the
 *   faulting thread, so one thread's guard never sees another's fault.
 * - In the handler: if this thread has a frame, the fault is ours: record
 *   signal, si_code and si_addr in thread-local rawmmap_last and
 *   siglongjmp() back.  The handler is installed with SA_NODEFER and an empty
 *   sa_mask, so jumping out without restoring a signal mask leaves the mask
 *   as it was.
 * - Otherwise the fault is not ours.  The handler puts the previous
 *   disposition back and returns: a fault raised by the kernel (si_code > 0)
 *   re-executes the faulting instruction, so the previous handler (Python's
 *   faulthandler, a debugger's, or the default action that dumps core) sees
 *   the genuine fault with its genuine siginfo.  A signal sent by a process
 *   (si_code <= 0) is raised again for the same effect.  Real crashes stay
 *   real.  If that previous handler chains back to us (faulthandler restores
 *   the handler it replaced, ours, and raises the signal again), the second
 *   visit ends with the default action, so there is no loop.
 * - faulthandler.enable() called after rawmmap installs its handler on top
 *   of ours, and would turn a guarded fault into a fatal error report.  The
 *   Python side therefore calls rawmmap_guard_install() again whenever
 *   faulthandler's state has changed; it re-installs ours on top and keeps
 *   faulthandler's as the previous one to chain to.
 * - rawmmap_capture_arm(fd), used in run_isolated's child, additionally
 *   writes one record (signal, si_code, si_addr) to fd for a fatal signal
 *   that is not a guarded fault, before handing it on as above; write(2) is
 *   async-signal-safe.  The child then dies of the very same signal.
 */
#define RAWMMAP_NSIG 65
static struct sigaction rawmmap_prev[RAWMMAP_NSIG];
static volatile sig_atomic_t rawmmap_have_prev[RAWMMAP_NSIG];
static volatile sig_atomic_t rawmmap_handed_over[RAWMMAP_NSIG];
static volatile int rawmmap_report_fd = -1;

struct rawmmap_jump {
    sigjmp_buf env;
};

struct rawmmap_fault {
    int signo;
    int code;
    uintptr_t addr;
};

static __thread struct rawmmap_jump *volatile rawmmap_frame
    __attribute__((tls_model("initial-exec")));
static __thread struct rawmmap_fault rawmmap_last
    __attribute__((tls_model("initial-exec")));

static void rawmmap_on_signal(int sig, siginfo_t *si, void *ctx)
{
    struct rawmmap_jump *frame = rawmmap_frame;
    (void)ctx;
    if (frame != NULL && (sig == SIGSEGV || sig == SIGBUS)) {
        rawmmap_last.signo = sig;
        rawmmap_last.code = si->si_code;
        rawmmap_last.addr = (uintptr_t)si->si_addr;
        rawmmap_frame = NULL;
        siglongjmp(frame->env, 1);
    }
    if (rawmmap_report_fd >= 0) {
        struct rawmmap_fault rec;
        ssize_t done;
        rec.signo = sig;
        rec.code = si->si_code;
        rec.addr = (uintptr_t)si->si_addr;
        done = write(rawmmap_report_fd, &rec, sizeof rec);
        (void)done;
        rawmmap_report_fd = -1;
    }
    if (sig > 0 && sig < RAWMMAP_NSIG && rawmmap_have_prev[sig] && !rawmmap_handed_over[sig]) {
        rawmmap_handed_over[sig] = 1;
        sigaction(sig, &rawmmap_prev[sig], NULL);
    } else {
        /* second time here for this signal: the previous handler chained back
         * to us (faulthandler does, after its report); end with the default */
        signal(sig, SIG_DFL);
    }
    if (si->si_code <= 0 || !(sig == SIGSEGV || sig == SIGBUS || sig == SIGILL
                               || sig == SIGFPE)) {
        raise(sig);
    }
}

/* Install rawmmap_on_signal for sig unless it is already there.  Returns 0,
 * or -1 with errno set by sigaction. */
static int rawmmap_install_on(int sig)
{
    struct sigaction cur, ours;
    if (sig <= 0 || sig >= RAWMMAP_NSIG) {
        errno = EINVAL;
        return -1;
    }
    if (sigaction(sig, NULL, &cur) != 0)
        return -1;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == rawmmap_on_signal)
        return 0;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = rawmmap_on_signal;
    ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    rawmmap_prev[sig] = cur;
    rawmmap_have_prev[sig] = 1;
    rawmmap_handed_over[sig] = 0;
    return sigaction(sig, &ours, NULL);
}

static int rawmmap_guard_install(void)
{
    if (rawmmap_install_on(SIGSEGV) != 0)
        return -1;
    return rawmmap_install_on(SIGBUS);
}

/* Copy n bytes from src to dst; 0 on success, -1 if a SIGSEGV/SIGBUS
 * interrupted the copy (details: rawmmap_fault_*).  Bytes before the fault
 * may have been copied. */
static int rawmmap_copy(uintptr_t dst, uintptr_t src, size_t n)
{
    struct rawmmap_jump frame;
    if (sigsetjmp(frame.env, 0) != 0)
        return -1;
    rawmmap_frame = &frame;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    memcpy((void *)dst, (const void *)src, n);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    rawmmap_frame = NULL;
    return 0;
}

static int rawmmap_read(char *dst, uintptr_t src, size_t n)
{
    return rawmmap_copy((uintptr_t)dst, src, n);
}

static int rawmmap_write(uintptr_t dst, const char *src, size_t n)
{
    return rawmmap_copy(dst, (uintptr_t)src, n);
}

/* Touch one byte in every `step` bytes of [addr, addr+length): a read, or
 * with write != 0 an atomic add of zero (a write access that changes no
 * data).  Guarded like rawmmap_copy.  Returns 0 or -1 on a fault. */
static int rawmmap_touch(uintptr_t addr, size_t length, size_t step, int write)
{
    struct rawmmap_jump frame;
    size_t i;
    if (step == 0)
        step = 1;
    if (sigsetjmp(frame.env, 0) != 0)
        return -1;
    rawmmap_frame = &frame;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    for (i = 0; i < length; i += step) {
        volatile unsigned char *p = (volatile unsigned char *)(addr + i);
        if (write)
            __atomic_fetch_add((unsigned char *)p, 0, __ATOMIC_RELAXED);
        else
            (void)*p;
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    rawmmap_frame = NULL;
    return 0;
}

static int rawmmap_fault_signo(void) { return rawmmap_last.signo; }
static int rawmmap_fault_code(void) { return rawmmap_last.code; }
static uintptr_t rawmmap_fault_addr(void) { return rawmmap_last.addr; }

/* ---- (3) the crash recorder (run_isolated's child) ---------------------- */
static int rawmmap_capture_arm(int fd)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
    size_t i;
    rawmmap_report_fd = fd;
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (rawmmap_install_on(sigs[i]) != 0)
            return -1;
    return 0;
}

static int rawmmap_fault_record_size(void) { return (int)sizeof(struct rawmmap_fault); }

/* ---- (5) atomics ---------------------------------------------------------
 * Sequentially consistent __atomic builtins on an aligned 1/2/4/8-byte slot,
 * guarded like rawmmap_copy.  Values travel as uint64_t (the low `size`
 * bytes count).  errno is 0 on success and EFAULT when the access faulted
 * (details: rawmmap_fault_*); the Python side checks size and alignment.
 * op: 0 load, 1 store, 2 fetch-add, 3 exchange, 4 compare-exchange (returns
 * the value observed; it succeeded iff that equals `a`).
 */
#define RAWMMAP_ATOMIC_CASE(T)                                                    \
    {                                                                             \
        T *p = (T *)addr, expected = (T)a;                                        \
        switch (op) {                                                             \
        case 0: result = __atomic_load_n(p, __ATOMIC_SEQ_CST); break;             \
        case 1: __atomic_store_n(p, (T)a, __ATOMIC_SEQ_CST); break;               \
        case 2: result = __atomic_fetch_add(p, (T)a, __ATOMIC_SEQ_CST); break;    \
        case 3: result = __atomic_exchange_n(p, (T)a, __ATOMIC_SEQ_CST); break;   \
        default:                                                                  \
            __atomic_compare_exchange_n(p, &expected, (T)b, 0, __ATOMIC_SEQ_CST,  \
                                        __ATOMIC_SEQ_CST);                        \
            result = expected;                                                    \
        }                                                                         \
    }

static uint64_t rawmmap_atomic(int op, uintptr_t addr, int size, uint64_t a, uint64_t b)
{
    struct rawmmap_jump frame;
    uint64_t result = 0;
    if (sigsetjmp(frame.env, 0) != 0) {
        errno = EFAULT;
        return 0;
    }
    rawmmap_frame = &frame;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    switch (size) {
    case 1: RAWMMAP_ATOMIC_CASE(uint8_t) break;
    case 2: RAWMMAP_ATOMIC_CASE(uint16_t) break;
    case 4: RAWMMAP_ATOMIC_CASE(uint32_t) break;
    default: RAWMMAP_ATOMIC_CASE(uint64_t) break;
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    rawmmap_frame = NULL;
    errno = 0;
    return result;
}

/* ---- (6) process-shared robust mutex --------------------------------------
 * A pthread_mutex_t living inside shared memory.  pthread functions return
 * their error number (they do not set errno). */
static size_t rawmmap_mutex_size(void) { return sizeof(pthread_mutex_t); }
static size_t rawmmap_mutex_align(void) { return _Alignof(pthread_mutex_t); }

static int rawmmap_mutex_init(uintptr_t addr)
{
    pthread_mutexattr_t attr;
    int err = pthread_mutexattr_init(&attr);
    if (err)
        return err;
    err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (!err)
        err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (!err)
        err = pthread_mutex_init((pthread_mutex_t *)addr, &attr);
    pthread_mutexattr_destroy(&attr);
    return err;
}

static int rawmmap_mutex_lock(uintptr_t addr, double timeout)
{
    struct timespec deadline;
    if (timeout < 0)
        return pthread_mutex_lock((pthread_mutex_t *)addr);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)timeout;
    deadline.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    return pthread_mutex_timedlock((pthread_mutex_t *)addr, &deadline);
}

static int rawmmap_mutex_trylock(uintptr_t addr) { return pthread_mutex_trylock((pthread_mutex_t *)addr); }
static int rawmmap_mutex_unlock(uintptr_t addr) { return pthread_mutex_unlock((pthread_mutex_t *)addr); }
static int rawmmap_mutex_consistent(uintptr_t addr) { return pthread_mutex_consistent((pthread_mutex_t *)addr); }
static int rawmmap_mutex_destroy(uintptr_t addr) { return pthread_mutex_destroy((pthread_mutex_t *)addr); }

/* ---- (7) rawmmap.read as a CPython builtin --------------------------------
 * A guarded small read through CFFI and a Python frame costs ~340 ns, against
 * ~70 ns for the standard library's mmap slicing: almost all of it is call
 * overhead.  rawmmap_install_fast_read() therefore replaces
 * rawmmap._access.read by this METH_FASTCALL builtin.  It handles only the
 * common case itself — two exact ints, 0 < n, the fault handler known to be
 * on top (rawmmap_guard_state matches faulthandler.is_enabled()), no fault —
 * and hands every other case, unchanged, to the Python function it
 * replaced (_access._read_checked), which checks, re-installs, and raises
 * MappingFault exactly as before.  A faulting read is simply redone there.
 */
static PyObject *rawmmap_read_checked;    /* the Python implementation */
static PyObject *rawmmap_fh_is_enabled;   /* faulthandler.is_enabled */
static int rawmmap_guard_state = -1;      /* faulthandler state when the guard was installed */

static PyObject *rawmmap_read_fast(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs == 2 && PyLong_CheckExact(args[0]) && PyLong_CheckExact(args[1])
        && rawmmap_guard_state >= 0) {
        PyObject *state = PyObject_CallNoArgs(rawmmap_fh_is_enabled);
        int enabled;
        if (state == NULL)
            return NULL;
        enabled = PyObject_IsTrue(state);
        Py_DECREF(state);
        if (enabled == rawmmap_guard_state) {
            unsigned long long addr = PyLong_AsUnsignedLongLong(args[0]);
            Py_ssize_t n = PyLong_AsSsize_t(args[1]);
            if (PyErr_Occurred()) {
                PyErr_Clear();
            } else if (n > 0) {
                PyObject *out = PyBytes_FromStringAndSize(NULL, n);
                if (out == NULL)
                    return NULL;
                if (rawmmap_copy((uintptr_t)PyBytes_AS_STRING(out), (uintptr_t)addr, (size_t)n) == 0)
                    return out;
                Py_DECREF(out);
            }
        }
    }
    return PyObject_Vectorcall(rawmmap_read_checked, args, (size_t)nargs, NULL);
}

static PyMethodDef rawmmap_read_def = {"read", (PyCFunction)(void (*)(void))rawmmap_read_fast,
                                       METH_FASTCALL, NULL};

/* Called (through CFFI, so without the GIL) once by rawmmap._access. */
static int rawmmap_install_fast_read(const char *doc)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *access = NULL, *faulthandler = NULL, *fn = NULL, *modname = NULL;
    int result = -1;
    rawmmap_read_def.ml_doc = doc;
    access = PyImport_ImportModule("rawmmap._access");
    faulthandler = PyImport_ImportModule("faulthandler");
    if (access == NULL || faulthandler == NULL)
        goto done;
    rawmmap_read_checked = PyObject_GetAttrString(access, "_read_checked");
    rawmmap_fh_is_enabled = PyObject_GetAttrString(faulthandler, "is_enabled");
    if (rawmmap_read_checked == NULL || rawmmap_fh_is_enabled == NULL)
        goto done;
    modname = PyUnicode_FromString("rawmmap");
    if (modname == NULL)
        goto done;
    fn = PyCFunction_NewEx(&rawmmap_read_def, NULL, modname);
    if (fn != NULL && PyObject_SetAttrString(access, "read", fn) == 0)
        result = 0;
done:
    if (result != 0)
        PyErr_Clear();
    Py_XDECREF(fn);
    Py_XDECREF(modname);
    Py_XDECREF(access);
    Py_XDECREF(faulthandler);
    PyGILState_Release(gil);
    return result;
}

/* The Python side tells which faulthandler state the guard was installed under. */
static void rawmmap_set_guard_state(int enabled) { rawmmap_guard_state = enabled; }
