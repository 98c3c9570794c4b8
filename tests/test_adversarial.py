"""The safe layer under attack: clauses S1-S8 of docs/design.md, tried as a user would.

Every attack runs in a child: a fresh interpreter (``attack``), so that a
crash or a hang fails one test and never the run, and so that the signal
state starts as a user's program finds it.  Each script prints ``OK`` at its
end; the test asserts the exit status, ``OK`` and a time limit.  Races are
bounded loops (thousands of tries where a try is cheap).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import rawmmap

PAGE = rawmmap.PAGESIZE

PRELUDE = """\
import copy, errno, faulthandler, gc, os, pickle, signal, sys, tempfile, threading, time
import rawmmap
PAGE = rawmmap.PAGESIZE

def empty_file_mapping(length=PAGE):
    fd, path = tempfile.mkstemp()
    os.close(fd)
    return rawmmap.map_file(path, length)

def faults(fn, sig=None):
    try:
        fn()
    except rawmmap.MappingFault as fault:
        assert sig is None or fault.signal == sig, fault
        return fault
    raise AssertionError("no MappingFault")
"""


def attack(
    body: str, *, timeout: float = 60, args: tuple[str, ...] = (), expect_rc: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run PRELUDE + body in a fresh interpreter; it must end as expected within timeout."""
    script = PRELUDE + textwrap.dedent(body) + "\nprint('OK', flush=True)\n"
    try:
        proc = subprocess.run(
            [sys.executable, *args, "-c", script],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"hung (>{timeout} s): {exc.stderr!r}") from None
    detail = f"rc={proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    assert proc.returncode == expect_rc, detail
    if expect_rc == 0:
        assert proc.stdout.rstrip().endswith("OK"), detail
    return proc


# -- S1: the guard cannot be defeated by a signal-handler change -----------------------

ACCESSES = {
    "item": "m[0]",
    "slice": "m[0:8]",
    "stepped slice": "m[0:8:2]",
    "assign": "m.__setitem__(0, 1)",
    "read": "rawmmap.read(m.address, 8)",
    "write": "rawmmap.write(m.address, b'x')",
    "bytes": "bytes(m)",
    "atomic": "m.atomic_add(0, 1)",
    "Mapping.read": "m.read(0, 4)",
}

SWAPS = {
    "python handler": "signal.signal(signal.SIGBUS, lambda *a: None)",
    "SIG_DFL over SIG_DFL": "signal.signal(signal.SIGBUS, signal.SIG_DFL)",
    "SIG_IGN": "signal.signal(signal.SIGBUS, signal.SIG_IGN)",
    "swap and restore inline": (
        "old = signal.signal(signal.SIGBUS, lambda *a: None); signal.signal(signal.SIGBUS, old)"
    ),
    "faulthandler enable": "faulthandler.enable()",
    "faulthandler enable+disable": "faulthandler.enable(); faulthandler.disable()",
    "faulthandler disable+enable": "faulthandler.disable(); faulthandler.enable()",
    "faulthandler enable+disable+enable": (
        "faulthandler.enable(); faulthandler.disable(); faulthandler.enable()"
    ),
    "SIGSEGV handler too": (
        "signal.signal(signal.SIGSEGV, lambda *a: None); "
        "signal.signal(signal.SIGBUS, lambda *a: None)"
    ),
}


@pytest.mark.parametrize("swap", SWAPS)
@pytest.mark.parametrize("faulthandler_first", [False, True], ids=["plain", "faulthandler-on"])
def test_s1_guard_survives_a_handler_change(swap: str, faulthandler_first: bool) -> None:
    args = ("-X", "faulthandler") if faulthandler_first else ()
    attack(
        f"""
        m = empty_file_mapping()
        faults(lambda: m[0], signal.SIGBUS)  # the guard is installed
        for round in range(3):
            {SWAPS[swap]}
            for name, access in {ACCESSES!r}.items():
                faults(lambda: eval(access), signal.SIGBUS)
        """,
        args=args,
    )


def test_s1_every_order_of_faulthandler_calls() -> None:
    attack(
        """
        import itertools
        m = empty_file_mapping()
        steps = ["enable", "disable"]
        for seq in itertools.product(steps, repeat=4):
            faults(lambda: m[0], signal.SIGBUS)
            for step in seq:
                getattr(faulthandler, step)()
                faults(lambda: rawmmap.read(m.address, 8), signal.SIGBUS)
        """,
        args=("-X", "faulthandler"),
    )


def test_s1_guard_in_a_thread_that_blocks_the_signals() -> None:
    attack(
        """
        m = empty_file_mapping()
        none = rawmmap.map_anonymous(PAGE, prot=rawmmap.PROT_NONE)
        results = []
        def worker():
            before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGSEGV, signal.SIGBUS})
            for _ in range(200):
                results.append(faults(lambda: m[0], signal.SIGBUS).code)
                results.append(faults(lambda: none[0], signal.SIGSEGV).code)
            after = signal.pthread_sigmask(signal.SIG_BLOCK, set())
            assert {signal.SIGSEGV, signal.SIGBUS} <= after, after  # the mask is the thread's
        t = threading.Thread(target=worker); t.start(); t.join()
        assert results.count("BUS_ADRERR") == 200 and results.count("SEGV_ACCERR") == 200
        """
    )


def test_s1_kill_sent_signals_go_to_the_previous_handler_never_to_the_copy() -> None:
    attack(
        """
        got = []
        signal.signal(signal.SIGSEGV, lambda s, f: got.append(s))
        signal.signal(signal.SIGBUS, lambda s, f: got.append(s))
        m = rawmmap.map_anonymous(1 << 20)
        m[0:4] = b"good"
        stop = threading.Event()
        def killer():
            while not stop.is_set():
                os.kill(os.getpid(), signal.SIGSEGV)
                os.kill(os.getpid(), signal.SIGBUS)
                time.sleep(0.0005)
        t = threading.Thread(target=killer); t.start()
        for _ in range(20000):
            assert m[0:4] == b"good"  # never a MappingFault for a kill
            m.read(0, 1 << 20)
        stop.set(); t.join()
        time.sleep(0.05)
        assert got.count(signal.SIGSEGV) > 10 and got.count(signal.SIGBUS) > 10, len(got)
        e = empty_file_mapping()
        faults(lambda: e[0], signal.SIGBUS)  # and the guard still works
        """
    )


def test_s1_kill_sent_segv_with_the_default_disposition_still_kills() -> None:
    proc = attack(
        """
        m = empty_file_mapping()
        faults(lambda: m[0])
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(5)
        """,
        expect_rc=-signal.SIGSEGV,
    )
    assert "OK" not in proc.stdout


def test_s1_foreign_fault_handled_elsewhere_then_guard_again(tmp_path: os.PathLike[str]) -> None:
    src = os.path.join(tmp_path, "fixer.c")
    lib = os.path.join(tmp_path, "libfixer.so")
    with open(src, "w") as f:
        f.write(
            "#include <signal.h>\n#include <stdint.h>\n#include <sys/mman.h>\n#include <unistd.h>\n"
            "static volatile int fixed;\n"
            "static void fix(int s, siginfo_t *si, void *c) {\n"
            "  long p = sysconf(_SC_PAGESIZE); uintptr_t a = (uintptr_t)si->si_addr & ~(p - 1);\n"
            "  mprotect((void *)a, p, PROT_READ | PROT_WRITE); fixed++; }\n"
            "int install(void) { struct sigaction sa = {0}; sa.sa_sigaction = fix;\n"
            "  sa.sa_flags = SA_SIGINFO; return sigaction(SIGSEGV, &sa, 0); }\n"
            "int fixes(void) { return fixed; }\n"
            "int poke(volatile char *p) { return *p; }\n"
        )
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", lib, src], check=True)
    attack(
        f"""
        import ctypes
        fixer = ctypes.CDLL({lib!r})
        assert fixer.install() == 0  # a runtime's own SIGSEGV handler, before rawmmap's
        none = rawmmap.map_anonymous(PAGE, prot=rawmmap.PROT_NONE)
        faults(lambda: none[0], signal.SIGSEGV)  # rawmmap's guard goes on top
        foreign = rawmmap.mmap(0, PAGE, rawmmap.PROT_NONE,
                               rawmmap.MAP_PRIVATE | rawmmap.MAP_ANONYMOUS, -1, 0)
        fixer.poke(ctypes.c_void_p(foreign))  # not rawmmap's: handed to the runtime, fixed
        assert fixer.fixes() == 1
        for _ in range(100):
            faults(lambda: none[0], signal.SIGSEGV)  # the guard put itself back
        """
    )


@pytest.mark.parametrize("faulthandler_on", [False, True])
def test_s1_a_real_crash_outside_the_guard_still_crashes(faulthandler_on: bool) -> None:
    args = ("-X", "faulthandler") if faulthandler_on else ()
    proc = attack(
        """
        import ctypes
        m = empty_file_mapping()
        faults(lambda: m[0])
        signal.signal(signal.SIGBUS, lambda *a: None)
        faults(lambda: m[0])
        ctypes.c_int.from_address(16).value  # a genuine NULL-page read, no guard
        """,
        args=args,
        expect_rc=-signal.SIGSEGV,
        timeout=30,
    )
    if faulthandler_on:
        assert "Fatal Python error: Segmentation fault" in proc.stderr


def test_s1_importing_rawmmap_changes_no_disposition() -> None:
    attack(
        """
        import ctypes, ctypes.util
        before = [signal.getsignal(s) for s in (signal.SIGSEGV, signal.SIGBUS)]
        import rawmmap._core as core
        state = core.guard_state()
        assert not state["segv_installed"] and not state["bus_installed"], state
        assert [signal.getsignal(s) for s in (signal.SIGSEGV, signal.SIGBUS)] == before
        """
    )


# -- S2: nothing is unmapped under a user -----------------------------------------------


def test_s2_close_racing_big_writes_never_writes_elsewhere() -> None:
    attack(
        """
        size = 1 << 20
        payload = b"\\xee" * size
        corrupt = 0
        for attempt in range(150):
            m = rawmmap.map_anonymous(size)
            go = threading.Event()
            def writer():
                go.set()
                try:
                    while True:
                        m.write(0, payload)
                except ValueError:
                    pass  # closed: refused before touching anything
            t = threading.Thread(target=writer); t.start(); go.wait()
            m.close()
            fresh = [rawmmap.map_anonymous(size) for _ in range(3)]  # likely reuse the range
            t.join()
            corrupt += sum(f.read(0, size) != bytes(size) for f in fresh)
            for f in fresh:
                f.close()
        assert corrupt == 0, corrupt
        """,
        timeout=120,
    )


def test_s2_remap_racing_reads() -> None:
    attack(
        """
        for attempt in range(100):
            m = rawmmap.map_anonymous(1 << 20)
            m[0:4] = b"keep"
            stop = threading.Event()
            seen = []
            def reader():
                while not stop.is_set():
                    try:
                        seen.append(m.read(0, 1 << 20)[:4])
                    except ValueError:
                        pass
            t = threading.Thread(target=reader); t.start()
            time.sleep(0.001)
            m.remap(2 << 20)
            stop.set(); t.join()
            assert all(s == b"keep" for s in seen)
            assert m[0:4] == b"keep"
            m.close()
        """,
        timeout=120,
    )


def test_s2_two_threads_closing_make_one_munmap() -> None:
    attack(
        """
        barrier = threading.Barrier(2)
        for attempt in range(2000):
            m = rawmmap.map_anonymous(PAGE)
            errors = []
            def closer():
                barrier.wait()
                try:
                    m.close()
                except BufferError as exc:  # the other closer was mid-way
                    errors.append(exc)
            with rawmmap.trace(file=None) as calls:
                ts = [threading.Thread(target=closer) for _ in range(2)]
                for t in ts: t.start()
                for t in ts: t.join()
            assert m.closed
            assert sum(c.startswith("munmap(") for c in calls) == 1, calls
        """,
        timeout=120,
    )


def test_s2_exports_are_counted_exactly() -> None:
    attack(
        """
        import hashlib, re
        import numpy as np
        m = rawmmap.map_anonymous(PAGE)
        m[0:5] = b"hello"
        views = [memoryview(m), m.view(), memoryview(m)[1:3], np.frombuffer(m, np.uint8)]
        views.append(views[3][10:20])  # a numpy slice shares its base's export
        assert m._exports == 4, m._exports
        assert re.search(b"ell", m) and hashlib.sha256(m).digest()
        assert m._exports == 4  # consumers that released their buffer
        for v in views:
            try:
                m.close(); raise AssertionError("closed under a view")
            except BufferError:
                pass
            if isinstance(v, memoryview):
                v.release()
        del v
        views.clear()
        assert m._exports == 0
        m.close()
        assert m.closed
        """
    )


def test_s2_memoryview_of_mapping_and_guard_page_buffer_on_every_python() -> None:
    attack(
        """
        from rawmmap._pytest_plugin import GuardPageBuffer
        m = rawmmap.map_anonymous(2 * PAGE)
        v = memoryview(m)
        assert len(v) == 2 * PAGE and not v.readonly
        v.release()
        g = GuardPageBuffer(m, PAGE - 3, 3, "after")
        w = memoryview(g)
        w[:] = b"abc"
        assert bytes(g) == b"abc" and m[PAGE - 3 : PAGE] == b"abc"
        try:
            m.close(); raise AssertionError("closed under a window")
        except BufferError:
            pass
        w.release()
        m.close()
        ro = rawmmap.map_anonymous(PAGE, prot=rawmmap.PROT_READ)
        assert memoryview(ro).readonly
        """
    )


# -- S3: ownership is single ------------------------------------------------------------


def test_s3_copy_deepcopy_pickle_refused() -> None:
    attack(
        """
        m = rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED)
        mu = rawmmap.SharedMutex(m)
        for obj in (m, mu):
            for make in (copy.copy, copy.deepcopy, pickle.dumps,
                         lambda o: pickle.dumps(o, protocol=0)):
                try:
                    make(obj)
                except TypeError as exc:
                    assert "cannot copy or pickle" in str(exc), exc
                else:
                    raise AssertionError(f"{make} of {obj!r} succeeded")
        mu.close(); m.close()
        """
    )


def test_s3_no_self_cycle_and_gc_off_unmaps_at_once() -> None:
    attack(
        """
        gc.disable()
        fds_before = len(os.listdir("/proc/self/fd"))
        maps_before = open("/proc/self/maps").read().count("\\n")
        fd, path = tempfile.mkstemp(); os.write(fd, b"x" * PAGE); os.close(fd)
        for i in range(1000):
            m = rawmmap.map_file(path) if i % 2 else rawmmap.map_anonymous(32 * PAGE)
            v = m.view(); v[0]; v.release()
            a = m.address
            del m, v
        assert len(os.listdir("/proc/self/fd")) == fds_before
        assert open("/proc/self/maps").read().count("\\n") <= maps_before + 2
        """
    )


def test_s3_garbage_cycle_with_a_finalizer_reading_through_a_view() -> None:
    attack(
        """
        class Holder:
            def __del__(self):
                assert bytes(self.view[:4]) == b"live"
                print("finalizer read", flush=True)
        for i in range(300):
            m = rawmmap.map_anonymous(PAGE)
            m[0:4] = b"live"
            h = Holder(); h.view = m.view(); h.me = h; h.m = m
            del h, m
            if i % 50 == 0:
                gc.collect()
        gc.collect()
        """
    )


# -- S4: SharedMutex is as safe as the Mapping it lives in ------------------------------


def test_s4_refused_on_mappings_that_cannot_hold_it() -> None:
    attack(
        """
        cases = [
            rawmmap.map_anonymous(PAGE, prot=rawmmap.PROT_READ, flags=rawmmap.MAP_SHARED),
            rawmmap.map_anonymous(PAGE, prot=rawmmap.PROT_NONE, flags=rawmmap.MAP_SHARED),
            rawmmap.map_anonymous(PAGE),  # private
        ]
        for m in cases:
            try:
                rawmmap.SharedMutex(m); raise AssertionError(m)
            except ValueError as exc:
                assert "SharedMutex()" in str(exc)
        for bad in ("x", None, 3):
            try:
                rawmmap.SharedMutex(bad); raise AssertionError(bad)
            except TypeError:
                pass
        """
    )


def test_s4_every_mutex_call_is_guarded() -> None:
    attack(
        """
        fd, path = tempfile.mkstemp(); os.ftruncate(fd, PAGE)
        m = rawmmap.map_file(fd, PAGE)
        mu = rawmmap.SharedMutex(m)
        os.ftruncate(fd, 0)  # the file shrinks under the mutex
        for call in (mu.acquire, lambda: mu.acquire(blocking=False), mu.release, mu.consistent,
                     lambda: rawmmap.SharedMutex.attach(m).acquire()):
            faults(call, signal.SIGBUS)
        os.ftruncate(fd, PAGE)
        m.protect(rawmmap.PROT_NONE)
        faults(mu.acquire, signal.SIGSEGV)
        m.protect(rawmmap.PROT_READ | rawmmap.PROT_WRITE)
        mu2 = rawmmap.SharedMutex(m)
        with mu2:
            pass
        for way in (m.close, lambda: m.remap(2 * PAGE)):
            try:
                way(); raise AssertionError("the mutex's mapping went away under it")
            except BufferError:
                pass
        mu.close(); mu2.close(); m.close()
        """
    )


def test_s4_acquire_timeout_follows_threading_lock() -> None:
    attack(
        """
        m = rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED)
        mu = rawmmap.SharedMutex(m)
        lock = threading.Lock()
        cases = [dict(timeout=-1), dict(timeout=0), dict(timeout=0.01), dict(timeout=-0.5),
                 dict(timeout=-2), dict(timeout=float("nan")), dict(timeout=float("inf")),
                 dict(timeout=1e300), dict(timeout="1"), dict(timeout=None),
                 dict(blocking=False, timeout=1), dict(blocking=False)]
        for kw in cases:
            outcome = []
            for obj in (lock, mu):
                try:
                    got = obj.acquire(**kw)
                    outcome.append(("ok", got))
                    if got:
                        obj.release()
                except Exception as exc:
                    outcome.append((type(exc).__name__,))
            assert outcome[0] == outcome[1], (kw, outcome)
        mu.close()
        """
    )


def test_s4_blocked_acquire_is_interrupted_by_ctrl_c_and_never_left_held() -> None:
    attack(
        """
        # a shell runs background jobs with SIGINT ignored, and Python then leaves it
        # ignored: make Ctrl-C raise KeyboardInterrupt whatever started this test
        signal.signal(signal.SIGINT, signal.default_int_handler)
        m = rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED)
        mu = rawmmap.SharedMutex(m)
        r, w = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            mu.acquire(); os.write(w, b"x")
            while os.getppid() == parent:  # holds it until killed, or the parent is gone
                time.sleep(0.1)
            os._exit(0)
        try:
            os.read(r, 1)  # the child holds it
            for attempt in range(5):
                sent = []
                def interrupt():
                    sent.append(time.monotonic())
                    os.kill(os.getpid(), signal.SIGINT)
                threading.Timer(0.2, interrupt).start()
                try:
                    got = mu.acquire()
                    raise AssertionError(f"acquired a held lock: {got}, "
                                         f"owner_died={mu.owner_died}, "
                                         f"child {os.waitpid(pid, os.WNOHANG)}")
                except KeyboardInterrupt:
                    waited = time.monotonic() - sent[0]
                assert waited < 1.0, f"Ctrl-C took {waited:.2f} s to interrupt acquire()"
                try:
                    mu.release(); raise AssertionError("the interrupted acquire left it held")
                except PermissionError:
                    pass
        finally:
            os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
        assert mu.acquire(timeout=5) and mu.owner_died
        mu.consistent(); mu.release(); mu.close()
        """
    )


def test_s4_recursive_acquire_raises_and_close_while_another_thread_waits() -> None:
    attack(
        """
        m = rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED)
        mu = rawmmap.SharedMutex(m)
        other = rawmmap.SharedMutex.attach(m, 0)
        assert mu.acquire()
        for obj in (mu, other):
            try:
                obj.acquire(); raise AssertionError("recursive acquire")
            except RuntimeError as exc:
                assert "already holds" in str(exc)
        t = threading.Thread(target=lambda: other.acquire(timeout=1)); t.start()
        time.sleep(0.1)
        try:
            m.close(); raise AssertionError("closed under a waiting acquire")
        except BufferError:
            pass
        t.join()
        mu.release()
        mu.close(); other.close(); m.close()
        """
    )


def test_s4_mutex_dropped_while_held_never_lets_the_memory_go() -> None:
    attack(
        """
        m = rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_SHARED)
        mu = rawmmap.SharedMutex(m)
        mu.acquire()
        try:
            mu.close(); raise AssertionError("closed while held")
        except RuntimeError:
            pass
        del mu  # dropped by the thread that holds it: unlocked, then the pin goes
        m.close()
        """
    )


# -- S5: values are checked like bytearray's ---------------------------------------------


def test_s5_values_checked_like_bytearray() -> None:
    attack(
        """
        m = rawmmap.map_anonymous(PAGE)
        ba = bytearray(PAGE)
        cases = [(slice(0, 5), 5), (slice(0, 3), "abc"), (slice(0, 3), [1, 2, 3]),
                 (slice(0, 2), [1, 256]), (slice(0, 3), (x for x in b"xyz")), (0, 256),
                 (0, -1), (0, b"a"), (0, 1.0), (0, 65), (slice(0, 6, 2), b"abc"),
                 (slice(0, 3), memoryview(b"abc")), (0, True)]
        for key, value in cases:
            got = []
            for target in (ba, m):
                try:
                    if hasattr(value, "__next__"):
                        value = list(value)
                    target[key] = value
                    got.append("ok")
                except Exception as exc:
                    got.append(type(exc).__name__)
            assert got[0] == got[1], (key, value, got)
            assert bytes(m[0:8]) == bytes(ba[0:8]), (key, value)
        """
    )


def test_s5_bytes_of_a_mapping_is_guarded() -> None:
    attack(
        """
        m = empty_file_mapping()
        faults(lambda: bytes(m), signal.SIGBUS)
        """
    )


# -- S6: run_isolated keeps its timeout -----------------------------------------------------


def _forks_a_sleeping_grandchild(then_hang: bool) -> str:
    if os.fork() == 0:
        import time

        time.sleep(20)
        os._exit(0)
    if then_hang:
        import time

        time.sleep(20)
    return "done"


@pytest.mark.parametrize("then_hang", [False, True])
def test_s6_grandchild_holding_the_pipe_does_not_extend_the_timeout(then_hang: bool) -> None:
    import time

    start = time.monotonic()
    if then_hang:
        with pytest.raises(TimeoutError):
            rawmmap.run_isolated(_forks_a_sleeping_grandchild, True, timeout=1)
    else:
        out = rawmmap.run_isolated(_forks_a_sleeping_grandchild, False, timeout=1)
        assert out.returned == "done"
    assert time.monotonic() - start < 5


# -- S7: every refusal names the function, the argument and the rule -----------------------


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda a: rawmmap.write(a, "abc"), TypeError, "write(): data must be a bytes-like"),
        (lambda a: rawmmap.write(a, 5), TypeError, "write(): data must be a"),
        (lambda a: rawmmap.read(a, 2**62), MemoryError, "read(): cannot allocate"),
        (lambda a: rawmmap.read(a, -1), ValueError, "read(): n must be >= 0"),
        (lambda a: rawmmap.read("a", 1), TypeError, "read(): addr must be an integer"),
        (lambda a: rawmmap.read_into(a, b"ro"), TypeError, "read_into(): buffer must be a writ"),
        (lambda a: rawmmap.atomic_add(a, 1.5), TypeError, "atomic_add(): value must be an int"),
        (lambda a: rawmmap.atomic_add(a + 1, 1), ValueError, "atomic_add(): a 8-byte slot"),
        (lambda a: rawmmap.atomic_load(a, 3), ValueError, "atomic_load(): size must be 1, 2"),
        (lambda a: rawmmap.touch(a, -1), ValueError, "touch(): length must be >= 0"),
        (lambda a: rawmmap.Mapping("x"), TypeError, "mmap(): length"),
        (lambda a: rawmmap.map_anonymous(PAGE, flags=rawmmap.MAP_PRIVATE | rawmmap.MAP_FIXED),
         ValueError, "map_anonymous(): flags must not contain MAP_FIXED"),
    ],
)
def test_s7_refusals_name_function_argument_rule(
    call: object, exc: type[BaseException], message: str
) -> None:
    with rawmmap.map_anonymous(PAGE) as m, pytest.raises(exc) as info:
        call(m.address)  # type: ignore[operator]
    assert str(info.value).startswith(message), str(info.value)


# -- S8: MappingFault is an OSError --------------------------------------------------------


def test_s8_mapping_fault_is_an_oserror_with_errno() -> None:
    assert issubclass(rawmmap.MappingFault, OSError)
    with rawmmap.map_anonymous(PAGE, prot=rawmmap.PROT_NONE) as none:
        with pytest.raises(OSError) as info:
            none[0]
        assert isinstance(info.value, rawmmap.MappingFault)
        assert info.value.errno == __import__("errno").EFAULT
        assert info.value.signal == signal.SIGSEGV
    attack(
        """
        m = empty_file_mapping()
        try:
            m[0]
        except OSError as exc:
            assert exc.errno == errno.EIO and exc.code == "BUS_ADRERR", exc
        """
    )


def test_guard_from_many_threads_at_once_under_handler_churn() -> None:
    attack(
        """
        m = empty_file_mapping()
        none = rawmmap.map_anonymous(PAGE, prot=rawmmap.PROT_NONE)
        errors = []
        def worker():
            try:
                for i in range(2000):
                    faults(lambda: m[0] if i % 2 else none[0])
            except BaseException as exc:
                errors.append(exc)
        ts = [threading.Thread(target=worker) for _ in range(4)]
        for t in ts: t.start()
        for i in range(200):  # the main thread keeps changing dispositions underneath
            signal.signal(signal.SIGBUS, signal.SIG_DFL if i % 2 else (lambda *a: None))
            (faulthandler.enable if i % 3 else faulthandler.disable)()
            time.sleep(0.001)
        for t in ts: t.join()
        assert not errors, errors[:3]
        """,
        timeout=120,
    )



def test_s2_an_index_that_closes_or_remaps_the_mapping_is_seen_before_the_copy() -> None:
    attack(
        """
        class Sneaky:
            def __init__(self, m, how): self.m, self.how = m, how
            def __index__(self):
                self.m.close() if self.how == "close" else self.m.remap(64 * PAGE)
                return 0
        for how in ("close", "remap"):
            for access in ("m[Sneaky(m, how):8]", "m.__setitem__(slice(Sneaky(m, how), 2), b'ab')",
                           "m.read(Sneaky(m, how), 4)", "m.atomic_add(0, Sneaky(m, how))",
                           "m.atomic_store(0, Sneaky(m, how))"):
                m = rawmmap.map_anonymous(PAGE)
                try:
                    eval(access)
                except (ValueError, IndexError):
                    pass  # closed, or outside the mapping any more: refused before the copy
                except rawmmap.MappingFault as fault:
                    raise AssertionError(f"{how} {access}: touched the old address: {fault}")
                if not m.closed:
                    m.close()
        """
    )
