"""The teaching tour: one demo per behaviour of DESIGN.md, each checked against the kernel.

A demo does the thing, records the exact calls (``rawmmap.trace``), what
happened, and why, and *checks* that the kernel behaved as the lesson says:
the tour doubles as a self-check of the machine.  Demos return a
:class:`Lesson`; the CLI prints or dumps them as JSON.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import _raw
from ._access import read as raw_read
from ._access import touch
from ._access import write as raw_write
from ._constants import VALUES
from ._errors import MappingFault
from ._introspect import bar, fault_counts, status, vma_for
from ._isolate import run_isolated
from ._mapping import Mapping, map_anonymous, map_file
from ._mutex import SharedMutex
from ._trace import trace

PAGE = _raw.page_size()
C = VALUES
E = TypeVar("E", bound=BaseException)
RW = C["PROT_READ"] | C["PROT_WRITE"]


@dataclass
class Lesson:
    """What one demo showed."""

    name: str
    title: str
    what: str
    why: str
    man: list[str]
    calls: list[str] = field(default_factory=list)
    happened: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(ok for _, ok in self.checks)

    def saw(self, text: str) -> None:
        self.happened.append(text)

    def check(self, claim: str, ok: bool) -> bool:
        self.checks.append((claim, bool(ok)))
        return bool(ok)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "what": self.what, "why": self.why,
            "man": self.man, "calls": self.calls, "happened": self.happened,
            "checks": [{"claim": c, "ok": ok} for c, ok in self.checks], "ok": self.ok,
        }  # fmt: skip


@contextlib.contextmanager
def _scratch() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="rawmmap-tour-") as d:
        yield d


def _file(directory: str, name: str, content: bytes) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def _store(addr: int, value: int) -> None:
    """An unguarded store, as C's ``*p = value`` (kills the process on a fault)."""
    ctypes.memset(addr, value, 1)


def _load(addr: int) -> int:
    """An unguarded load, as C's ``*p``."""
    return ctypes.string_at(addr, 1)[0]


def _raised(kind: type[E], action: Callable[[], object]) -> E | None:
    """The exception of type ``kind`` that ``action`` raised, or None if it returned."""
    try:
        action()
    except kind as exc:
        return exc
    return None


def _traced_child(fn: Callable[..., Any], *args: Any) -> Any:
    """Run fn in the child with tracing to stdout, so the parent can show the calls."""
    with trace(file=sys.stdout):
        return fn(*args)


def _child_calls(stdout: str) -> list[str]:
    return [f"[child] {line}" for line in stdout.splitlines() if "(" in line and " = " in line]


# -- the demos -------------------------------------------------------------------


def sigbus_empty_file(lesson: Lesson) -> None:
    with _scratch() as d, trace() as calls:
        path = _file(d, "empty", b"")
        with map_file(path, PAGE) as m:
            out = run_isolated(_store, m.address, ord("x"))
            lesson.saw(f"a child storing one byte through the mapping: {out.describe()}")
            lesson.check("the child dies of SIGBUS with si_code BUS_ADRERR at the first page",
                         out.signal == signal.SIGBUS and out.code == "BUS_ADRERR"
                         and out.si_addr == m.address)  # fmt: skip
            fault = _raised(MappingFault, lambda: m.__setitem__(0, ord("x")))
            lesson.saw(f"the same store, guarded, in this process: MappingFault: {fault}")
            lesson.check("guarded access raises MappingFault(SIGBUS, BUS_ADRERR)",
                         fault is not None and fault.code == "BUS_ADRERR")  # fmt: skip
            _raw.ftruncate(m.fd, PAGE)
            m[0] = ord("x")
            m.sync()
        with open(path, "rb") as f:
            first = f.read(1)
        lesson.calls += calls
        lesson.saw(f"after ftruncate(fd, {PAGE}) the store works; the file starts with {first!r}")
        lesson.check("after ftruncate the write lands in the file", first == b"x")


def past_eof(lesson: Lesson) -> None:
    with _scratch() as d, trace() as calls:
        path = _file(d, "five-thousand", b"\1" * 5000)
        with map_file(path) as m:
            last_page_end = -(-5000 // PAGE) * PAGE
            tail = raw_read(m.address + 5000, last_page_end - 5000)
            lesson.saw(f"length 5000 maps {-(-5000 // PAGE)} pages; bytes 5000..{last_page_end - 1} "
                       f"read as {'all zero' if not any(tail) else 'NOT zero'}")  # fmt: skip
            raw_write(m.address + 6000, b"z")
            m.sync()
            size = os.path.getsize(path)
            lesson.saw(f"a write at byte 6000 (past EOF, same page): file size stays {size}")
            lesson.check("the tail of the last page reads as zeros", not any(tail))
            lesson.check("writes past EOF do not reach the file", size == 5000)
        with map_file(path, 3 * PAGE) as m:
            fault = _raised(MappingFault, lambda: m[2 * PAGE])
            lesson.saw(f"reading page 2, wholly beyond EOF: {fault}")
            lesson.check("a page wholly beyond EOF gives SIGBUS",
                         fault is not None and fault.signal == signal.SIGBUS)  # fmt: skip
        lesson.calls += calls


def private_cow(lesson: Lesson) -> None:
    with _scratch() as d, trace() as calls:
        path = _file(d, "cow", b"original".ljust(PAGE, b"\0"))
        with map_file(path, flags=C["MAP_PRIVATE"]) as mine, map_file(path) as other:
            mine[0:8] = b"modified"
            mine.sync()
            seen = (mine[0:8], other[0:8])
        with open(path, "rb") as f:
            on_disk = f.read(8)
        lesson.calls += calls
    lesson.saw(f"the private mapping reads {seen[0]!r}; a shared mapper reads {seen[1]!r}; "
               f"the file holds {on_disk!r} even after msync")  # fmt: skip
    lesson.check("the writer sees its write", seen[0] == b"modified")
    lesson.check("other mappers and the file keep the old bytes",
                 seen[1] == b"original" and on_disk == b"original")  # fmt: skip


def _child_writes(m: Mapping, data: bytes) -> None:
    m.write(0, data)


def shared_between_processes(lesson: Lesson) -> None:
    with _scratch() as d, trace() as calls:
        path = _file(d, "shared", bytes(PAGE))
        with map_file(path) as m:
            out = run_isolated(_child_writes, m, b"from the child")
            lesson.saw(f"a forked child wrote through its MAP_SHARED file mapping; "
                       f"the parent reads {m[0:14]!r}")  # fmt: skip
            lesson.check("MAP_SHARED file mappings share writes", m[0:14] == b"from the child"
                         and out.exitcode == 0)  # fmt: skip
        with map_anonymous(PAGE, flags=C["MAP_SHARED"]) as shared, map_anonymous(PAGE) as private:
            run_isolated(_child_writes, shared, b"anon shared")
            run_isolated(_child_writes, private, b"anon private")
            lesson.saw(f"MAP_SHARED|MAP_ANONYMOUS: the parent reads {shared[0:11]!r}; "
                       f"MAP_PRIVATE|MAP_ANONYMOUS: the parent reads {private[0:12]!r}")  # fmt: skip
            lesson.check("MAP_SHARED|MAP_ANONYMOUS shares memory with a forked child",
                         shared[0:11] == b"anon shared")  # fmt: skip
            lesson.check("MAP_PRIVATE memory is copied on write at fork",
                         private[0:12] == bytes(12))  # fmt: skip
        lesson.calls += calls


def _write_then_die(path: str, data: bytes) -> None:
    with trace(file=sys.stdout):
        m = map_file(path)
        m.write(0, data)
    os.kill(os.getpid(), signal.SIGKILL)


def when_data_reaches_file(lesson: Lesson) -> None:
    with _scratch() as d, trace() as calls:
        path = _file(d, "durable", bytes(PAGE))
        out = run_isolated(_write_then_die, path, b"written, then SIGKILL")
        with open(path, "rb") as f:
            got = f.read(21)
        lesson.calls += _child_calls(out.stdout)
        lesson.saw(f"a child wrote through MAP_SHARED then was {out.describe()}; "
                   f"the file holds {got!r}")  # fmt: skip
        lesson.check("writes of a SIGKILLed process stay in the page cache, so in the file",
                     out.signal == signal.SIGKILL and got == b"written, then SIGKILL")  # fmt: skip
        with map_file(path) as m:
            m.write(0, b"synced")
            m.sync(C["MS_SYNC"])
            m.sync(C["MS_ASYNC"])
            err = _raised(OSError, lambda: m.sync(C["MS_SYNC"] | C["MS_ASYNC"]))
            lesson.saw(f"msync(MS_SYNC) waits for the write-back, MS_ASYNC schedules it; "
                       f"both together: {err}")  # fmt: skip
            lesson.check(
                "MS_SYNC|MS_ASYNC is EINVAL", err is not None and err.errno == errno.EINVAL
            )
        lesson.calls += calls


def mprotect_faults(lesson: Lesson) -> None:
    with trace() as calls:
        with map_anonymous(PAGE) as m:
            m.protect(C["PROT_READ"])
            out = run_isolated(_store, m.address, 1)
            lesson.saw(f"writing a PROT_READ page (raw, in a child): {out.describe()}")
            lesson.check("write to PROT_READ: SIGSEGV SEGV_ACCERR",
                         out.signal == signal.SIGSEGV and out.code == "SEGV_ACCERR")  # fmt: skip
            m.protect(C["PROT_NONE"])
            fault = _raised(MappingFault, lambda: m[0])
            lesson.saw(f"reading a PROT_NONE page (guarded): {fault}")
            lesson.check(
                "read of PROT_NONE: SEGV_ACCERR", fault is not None and fault.code == "SEGV_ACCERR"
            )
        hole = _raw.mmap(0, 2 * PAGE, C["PROT_NONE"], C["MAP_PRIVATE"] | C["MAP_ANONYMOUS"], -1, 0)
        _raw.munmap(hole + PAGE, PAGE)
        out = run_isolated(_load, hole + PAGE)
        lesson.saw(f"reading an unmapped address (raw, in a child): {out.describe()}")
        lesson.check("unmapped address: SEGV_MAPERR", out.code == "SEGV_MAPERR")
        err = _raised(OSError, lambda: _raw.mprotect(hole + PAGE, PAGE, C["PROT_READ"]))
        _raw.munmap(hole, PAGE)
        lesson.saw(f"mprotect of the unmapped page: {err}")
        lesson.check("mprotect on an unmapped range is ENOMEM",
                     err is not None and err.errno == errno.ENOMEM)  # fmt: skip
        lesson.calls += calls


def map_fixed(lesson: Lesson) -> None:
    # MAP_FIXED replaces memory: the safe Mapping refuses it, so this lesson uses the raw calls
    anon = C["MAP_PRIVATE"] | C["MAP_ANONYMOUS"]
    with trace() as calls:
        reserve = _raw.mmap(0, 4 * PAGE, C["PROT_NONE"], anon, -1, 0)
        try:
            spot = reserve + PAGE
            first = _raw.mmap(spot, PAGE, RW, anon | C["MAP_FIXED"], -1, 0)
            raw_write(first, b"A")
            vma = vma_for(spot)
            lesson.saw(f"reserved 4 pages PROT_NONE, placed a page at +{PAGE} with MAP_FIXED: "
                       f"{vma.line() if vma else 'no VMA'}")  # fmt: skip
            lesson.check("MAP_FIXED maps exactly at the address asked", first == spot)
            second = _raw.mmap(spot, PAGE, RW, anon | C["MAP_FIXED"], -1, 0)
            byte = raw_read(second, 1)[0]
            lesson.saw(f"a second MAP_FIXED at the same address silently replaced it: "
                       f"byte 0 is now {byte} (was {ord('A')})")  # fmt: skip
            lesson.check("MAP_FIXED silently replaces what was there", byte == 0)
            err = _raised(
                OSError, lambda: _raw.mmap(spot, PAGE, RW, anon | C["MAP_FIXED_NOREPLACE"], -1, 0)
            )
            lesson.saw(f"MAP_FIXED_NOREPLACE there instead: {err}")
            lesson.check("MAP_FIXED_NOREPLACE fails with EEXIST",
                         err is not None and err.errno == errno.EEXIST)  # fmt: skip
        finally:
            _raw.munmap(reserve, 4 * PAGE)  # covers the pages placed inside it
        lesson.calls += calls


def _mlock_over_limit(pages: int) -> int:
    if os.geteuid() == 0:  # root has CAP_IPC_LOCK, which ignores the limit: drop it
        os.setgid(65534)
        os.setuid(65534)
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (PAGE, PAGE))
    m = map_anonymous(pages * PAGE)
    try:
        m.lock()
    except OSError as exc:
        print(exc)
        return exc.errno or 0
    return 0


def mlock_residency(lesson: Lesson) -> None:
    with trace() as calls:
        before = status().get("VmLck", 0)
        with map_anonymous(16 * PAGE, flags=C["MAP_PRIVATE"] | C["MAP_LOCKED"]) as m:
            resident = m.residency()
            locked = status().get("VmLck", 0) - before
            lesson.saw(f"MAP_LOCKED, 16 pages, never touched: residency [{bar(resident)}] "
                       f"{sum(resident)}/16; VmLck grew by {locked // 1024} kB")  # fmt: skip
            lesson.check("MAP_LOCKED pages are resident at once", all(resident))
            lesson.check("locked pages count in VmLck", locked >= 16 * PAGE)
        out = run_isolated(_mlock_over_limit, 64)
        lesson.saw(f"mlock of 64 pages over RLIMIT_MEMLOCK={PAGE} without privilege: "
                   f"{out.stdout.strip() or out.describe()}")  # fmt: skip
        lesson.check("mlock over RLIMIT_MEMLOCK fails with EAGAIN/ENOMEM/EPERM",
                     out.returned in (errno.EAGAIN, errno.ENOMEM, errno.EPERM))  # fmt: skip
        lesson.calls += calls


def demand_paging(lesson: Lesson) -> None:
    pages = 64
    with trace() as calls:
        with map_anonymous(pages * PAGE) as m:
            # one page per fault: no (multi-size) transparent huge pages for this lesson
            if "MADV_NOHUGEPAGE" in C:
                m.advise(C["MADV_NOHUGEPAGE"])
            start = m.residency()
            steps = []
            with fault_counts() as faults:
                for i in range(pages):
                    touch(m.address + i * PAGE, 1, write=True)
                    if i in (0, pages // 2 - 1):
                        steps.append(sum(m.residency()))
            end = m.residency()
            lesson.saw(f"fresh {pages}-page mapping: [{bar(start)}] {sum(start)}/{pages} resident")
            lesson.saw(f"after touching page by page: [{bar(end)}] {sum(end)}/{pages}, "
                       f"{faults.minor} minor faults, {faults.major} major")  # fmt: skip
            lesson.check("a fresh mapping costs no memory", sum(start) == 0)
            lesson.check("residency grows page by page", steps == [1, pages // 2] and all(end))
            lesson.check("each first touch is a minor fault", faults.minor >= pages)
        with map_anonymous(pages * PAGE, flags=C["MAP_PRIVATE"] | C["MAP_POPULATE"]) as m:
            res = m.residency()
            with fault_counts() as faults2:
                touch(m.address, pages * PAGE, write=True)
            lesson.saw(f"MAP_POPULATE: [{bar(res)}] {sum(res)}/{pages} resident before any touch; "
                       f"touching them all: {faults2.minor} minor faults")  # fmt: skip
            lesson.check("MAP_POPULATE faults everything in at once",
                         all(res) and faults2.minor < pages // 4)  # fmt: skip
        lesson.calls += calls


def malloc_uses_mmap(lesson: Lesson) -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    small = libc.malloc(1024)
    big = libc.malloc(1 << 20)
    try:
        vs, vb = vma_for(small), vma_for(big)
        lesson.saw(f"malloc(1024) -> {small:#x} in {vs.kind if vs else '?'}")
        lesson.saw(f"malloc(1 MiB) -> {big:#x} in its own VMA: "
                   f"{vb.line() if vb else '?'} ({(vb.size if vb else 0) // 1024} kB)")  # fmt: skip
        lesson.check("a small block comes from the heap", vs is not None and vs.path == "[heap]")
        lesson.check(
            "a large block is a new anonymous mapping",
            vb is not None and vb.path == "" and vb.inode == 0 and vb.size > (1 << 20),
        )
    finally:
        libc.free(big)
        libc.free(small)
    lesson.calls.append(
        "(glibc calls mmap itself; `strace -e trace=mmap` shows "
        "mmap(NULL, 1052672, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0))"
    )


def read_write_vs_mmap(lesson: Lesson) -> None:
    import array

    n = 1_000_000
    faults: dict[str, int] = {}
    times: dict[str, float] = {}
    shown: dict[str, list[str]] = {}
    with _scratch() as d:
        path = _file(d, "ints", array.array("I", range(n)).tobytes())
        fd = os.open(path, os.O_RDWR)
        try:

            def with_pread() -> None:
                data = bytearray(os.pread(fd, 4 * n, 0))
                _increment(memoryview(data))
                os.pwrite(fd, data, 0)

            def with_mmap(populate: bool) -> None:
                with map_file(fd, 4 * n) as m:
                    if populate:
                        m.advise(C["MADV_POPULATE_WRITE"])
                    view = m.view()
                    _increment(view)
                    view.release()

            ways: list[tuple[str, Callable[[], None]]] = [
                ("pread+pwrite", with_pread),
                ("mmap", lambda: with_mmap(False)),
            ]
            if "MADV_POPULATE_WRITE" in C:
                ways.append(("mmap+MADV_POPULATE_WRITE", lambda: with_mmap(True)))
            for name, fn in ways * 3:
                with trace() as calls, fault_counts() as counted:
                    start = time.perf_counter()
                    fn()
                    took = time.perf_counter() - start
                if took < times.get(name, 1e9):
                    times[name], faults[name] = took, counted.minor + counted.major
                shown[name] = calls
            final = array.array("I", os.pread(fd, 4 * n, 0))
        finally:
            os.close(fd)
    runs = 3 * len(times)
    base = times["pread+pwrite"]
    lesson.calls += [
        f"pread(fd, buf, {4 * n}, 0) ... pwrite(fd, buf, {4 * n}, 0)  (os.pread/os.pwrite)"
    ]
    lesson.calls += shown.get("mmap+MADV_POPULATE_WRITE", shown["mmap"])
    for name, took in times.items():
        lesson.saw(f"{name}: {took * 1e3:.2f} ms, {faults[name]} page faults"
                   + ("" if name == "pread+pwrite" else f" ({base / took:.1f}x as fast as pread+pwrite)"))  # fmt: skip
    lesson.saw(
        "the timing is shown, not checked here: `python -m benchmarks p2` measures it with C alongside"
    )
    lesson.check(f"every path incremented every integer ({runs} runs: +{runs} each)",
                 final[0] == runs and final[-1] == n - 1 + runs)  # fmt: skip


def _increment(buf: memoryview) -> None:
    try:
        import numpy as np
    except ImportError:  # plain Python: slower, same lesson
        ints = buf.cast("I")
        for i in range(len(ints)):
            ints[i] += 1
        return
    arr = np.frombuffer(buf, dtype=np.uint32)
    arr += 1
    del arr


def _unsafe_increments(m: Mapping, count: int) -> None:
    for _ in range(count):
        value = int.from_bytes(m[0:8], "little")
        m[0:8] = (value + 1).to_bytes(8, "little")


def _flock_increments(m: Mapping, count: int, lock_path: str) -> None:
    with open(lock_path, "wb") as f:
        for _ in range(count):
            fcntl.flock(f, fcntl.LOCK_EX)
            value = int.from_bytes(m[0:8], "little")
            m[0:8] = (value + 1).to_bytes(8, "little")
            fcntl.flock(f, fcntl.LOCK_UN)


def _race(worker: Callable[..., None], procs: int, count: int, *extra: Any) -> int:
    with map_anonymous(PAGE, flags=C["MAP_SHARED"]) as m:
        pids = []
        for _ in range(procs):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                try:
                    worker(m, count, *extra)
                finally:
                    os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        return int.from_bytes(m[0:8], "little")


def _mutex_increments(m: Mapping, count: int, mutex: SharedMutex) -> None:
    for _ in range(count):
        with mutex:
            value = int.from_bytes(m[0:8], "little")
            m[0:8] = (value + 1).to_bytes(8, "little")


def _atomic_increments(m: Mapping, count: int) -> None:
    for _ in range(count):
        m.atomic_add(0, 1)


def _die_holding(mutex: SharedMutex) -> None:
    mutex.acquire()
    os._exit(3)


def concurrent_writers(lesson: Lesson) -> None:
    procs, count = 4, 20_000
    expected = procs * count
    # an unlucky schedule may lose nothing once: try a few times before concluding
    for _attempt in range(3):
        unsafe = _race(_unsafe_increments, procs, count)
        if unsafe < expected:
            break
    lesson.saw(f"{procs} processes x {count:,} unsynchronised read-modify-write increments of one "
               f"counter in MAP_SHARED memory: {unsafe:,} (lost {expected - unsafe:,})")  # fmt: skip
    lesson.check("unsynchronised writers lose updates", unsafe < expected)
    with _scratch() as d:
        locked = _race(_flock_increments, procs, count, os.path.join(d, "lock"))
    lesson.saw(f"the same with flock(LOCK_EX) around each increment: {locked:,} of {expected:,}")
    lesson.check("with flock no update is lost", locked == expected)
    with map_anonymous(PAGE, flags=C["MAP_SHARED"]) as place:
        mutex = SharedMutex(place)
        mutexed = _race(_mutex_increments, procs, count, mutex)
        lesson.saw(
            f"with a robust process-shared pthread mutex in the mapping: {mutexed:,} of {expected:,}"
        )
        lesson.check("with a process-shared mutex no update is lost", mutexed == expected)
        out = run_isolated(_die_holding, mutex)
        got = mutex.acquire(timeout=5)
        died = mutex.owner_died
        if died:
            mutex.consistent()
        mutex.release()
        lesson.saw(f"a process locked the mutex and {out.describe()}"
                   f" without unlocking; the next locker got it at once with EOWNERDEAD "
                   f"(owner_died={died}), repaired, called pthread_mutex_consistent")  # fmt: skip
        lesson.check("a robust mutex whose owner died is handed over with EOWNERDEAD, not a hang",
                     got and died)  # fmt: skip
        mutex.close()  # it pins the mapping until closed
    atomic = _race(_atomic_increments, procs, count)
    lesson.saw(
        f"with atomic fetch-and-add (__atomic_fetch_add, lock-free): {atomic:,} of {expected:,}"
    )
    lesson.check("with atomic increments no update is lost", atomic == expected)
    lesson.calls.append(
        "mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0) then fork() x 4"
    )


# name, function, title, what, why, man pages
DEMOS: list[tuple[str, Callable[[Lesson], None], str, str, str, list[str]]] = [
    (
        "sigbus-empty-file",
        sigbus_empty_file,
        "SIGBUS on an empty file",
        "Map 4096 bytes of a new, empty file MAP_SHARED and store one byte.",
        "The mapping is 4096 bytes but the file has none: no page of the file backs the address, "
        "so the kernel raises SIGBUS (BUS_ADRERR). C dies; rawmmap's guard turns it into "
        "MappingFault. Giving the file a size with ftruncate first makes the page exist.",
        ["mmap(2) (ERRORS: SIGBUS)", "ftruncate(2)"],
    ),
    (
        "past-eof",
        past_eof,
        "Past EOF inside the last page",
        "Map a 5000-byte file with length 5000 and look beyond byte 5000.",
        "Mappings are made of whole pages. The rest of the last page reads as zeros and writes there "
        "never reach the file; a page wholly beyond EOF has nothing behind it: SIGBUS.",
        ["mmap(2) (NOTES: the remaining bytes of a partial page are zeroed)"],
    ),
    (
        "private-cow",
        private_cow,
        "MAP_PRIVATE is copy-on-write",
        "Write through a MAP_PRIVATE mapping of a file, msync, and compare.",
        "The first write to a private page copies it; the copy belongs to this mapping only. "
        "msync has nothing to write back: the file and other mappers keep the old bytes.",
        ["mmap(2) (MAP_PRIVATE)", "msync(2)"],
    ),
    (
        "shared-between-processes",
        shared_between_processes,
        "MAP_SHARED between processes",
        "A forked child writes into MAP_SHARED memory (file-backed and anonymous).",
        "MAP_SHARED pages are the same physical pages in every process that maps them (the page "
        "cache for a file); fork keeps sharing them. MAP_PRIVATE pages are copied on write.",
        ["mmap(2) (MAP_SHARED)", "fork(2)"],
    ),
    (
        "when-data-reaches-the-file",
        when_data_reaches_file,
        "When data reaches the file",
        "A child writes through MAP_SHARED and is killed with SIGKILL; then msync's flags.",
        "A store into a shared mapping is a store into the page cache: the file's contents change at "
        "once, for every reader, whatever happens to the process. msync(MS_SYNC) only waits for the "
        "disk; MS_ASYNC schedules; asking for both is EINVAL.",
        ["msync(2)", "mmap(2) (MAP_SHARED)"],
    ),
    (
        "mprotect",
        mprotect_faults,
        "mprotect and the SIGSEGV codes",
        "Write to a PROT_READ page, read a PROT_NONE page, read an unmapped address.",
        "SEGV_ACCERR: a mapping exists but its protection forbids the access. SEGV_MAPERR: nothing "
        "is mapped there. mprotect needs a mapping to change: on a hole it is ENOMEM.",
        ["mprotect(2)", "sigaction(2) (si_code)"],
    ),
    (
        "map-fixed",
        map_fixed,
        "MAP_FIXED and MAP_FIXED_NOREPLACE",
        "Reserve a range PROT_NONE, place mappings inside it with MAP_FIXED.",
        "MAP_FIXED maps exactly at the address and silently unmaps whatever was there; "
        "MAP_FIXED_NOREPLACE refuses with EEXIST. Reserving a PROT_NONE range first and placing "
        "mappings inside it is the safe pattern.",
        ["mmap(2) (MAP_FIXED, MAP_FIXED_NOREPLACE)"],
    ),
    (
        "mlock",
        mlock_residency,
        "MAP_LOCKED and mlock",
        "Map 16 pages MAP_LOCKED; then mlock beyond RLIMIT_MEMLOCK without privilege.",
        "Locked pages are faulted in at once and stay in RAM; they count in VmLck. An unprivileged "
        "process may lock only RLIMIT_MEMLOCK bytes.",
        ["mlock(2)", "getrlimit(2) (RLIMIT_MEMLOCK)", "proc(5) (VmLck)"],
    ),
    (
        "demand-paging",
        demand_paging,
        "Demand paging and MAP_POPULATE",
        "Touch a fresh anonymous mapping page by page, counting faults; then MAP_POPULATE.",
        "mmap only reserves addresses: each page is allocated at its first touch, by a (minor) page "
        "fault. MAP_POPULATE takes all those faults inside the mmap call.",
        ["mmap(2) (MAP_POPULATE)", "mincore(2)", "getrusage(2) (ru_minflt)"],
    ),
    (
        "malloc-uses-mmap",
        malloc_uses_mmap,
        "malloc uses mmap for large blocks",
        "malloc 1 KiB and 1 MiB, and find the VMA of each.",
        "glibc serves blocks above M_MMAP_THRESHOLD (128 KiB by default) with their own anonymous "
        "mmap, returned to the kernel by free; small blocks come from the heap.",
        ["malloc(3)", "mallopt(3) (M_MMAP_THRESHOLD)", "proc(5) (/proc/PID/maps)"],
    ),
    (
        "read-write-vs-mmap",
        read_write_vs_mmap,
        "read/write versus mmap",
        "Increment a million 32-bit integers of a file with pread/pwrite, then through mmap.",
        "pread copies the file from the page cache into a buffer and pwrite copies it back; mmap "
        "works on the page-cache pages themselves: no copy, but page faults instead. numpy reads "
        "before it writes, so each page is first mapped read-only (the kernel tracks which pages "
        "get dirty) and then faults again on the write; MADV_POPULATE_WRITE takes the write "
        "faults up front, a few large ones, and mmap wins by the margin C shows.",
        ["read(2)", "write(2)", "mmap(2)", "madvise(2) (MADV_POPULATE_WRITE)"],
    ),
    (
        "concurrent-writers",
        concurrent_writers,
        "Concurrent writers lose updates",
        "Four processes increment one counter in MAP_SHARED memory: unsynchronised, with flock, with a shared mutex, atomically.",
        "Read-modify-write is three steps: two processes read the same value and both store +1. "
        "A lock around the increment (flock, or a PTHREAD_PROCESS_SHARED mutex living in the "
        "mapping itself) or one atomic instruction (lock xadd) makes it exact. A robust mutex "
        "survives its owner's death: the next locker is told (EOWNERDEAD) and repairs.",
        [
            "mmap(2)",
            "flock(2)",
            "pthread_mutexattr_setpshared(3)",
            "pthread_mutexattr_setrobust(3)",
            "pthread_mutex_consistent(3)",
        ],
    ),
]


def demo_names() -> list[str]:
    return [d[0] for d in DEMOS]


def run_demo(name: str) -> Lesson:
    """Run one demo by name; a demo that raises is reported as failing, with the error."""
    for demo_name, fn, title, what, why, man in DEMOS:
        if demo_name == name:
            lesson = Lesson(demo_name, title, what, why, man)
            try:
                fn(lesson)
            except Exception as exc:
                lesson.check(
                    f"the demo ran to the end (it raised {type(exc).__name__}: {exc})", False
                )
            return lesson
    raise KeyError(name)
