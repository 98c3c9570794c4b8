"""Model-based fuzzing of the safe API (hypothesis RuleBasedStateMachine).

A model predicts each step's outcome — the bytes, an OSError errno, a
MappingFault's signal and code, a BufferError/ValueError/IndexError — and
the step asserts it.  The whole run executes in a forked child
(run_isolated): if the interpreter itself crashed, the parent still reports
the signal and the step log the child printed (the failing sequence).

CI runs a bounded number of sequences; ``RAWMMAP_FUZZ_EXAMPLES=N`` runs more.

Besides the single-threaded steps, the machine races a closer against a
copying thread, copies/pickles/deep-copies Mappings (refused), and drops
Mappings with views in garbage cycles with the collector off; the invariant
checks after every step that each open Mapping is still mapped and counts
exactly the views the model holds, and each closed one is gone.

Model limits, on purpose: accesses stay inside one page (a guarded copy that
faults may have copied part of a multi-page range, in an order memcpy
chooses); file-backed mappings are MAP_SHARED (a private copy-on-write page's
fate under truncation is kernel detail, not rawmmap's); remap is modelled
for private anonymous mappings (growing a shared one leaves pages past its
shared object: tests/test_raw.py and the docs cover it).
"""

from __future__ import annotations

import copy
import errno
import gc
import os
import pickle
import signal
import tempfile
import threading
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

import rawmmap
from rawmmap import (
    MADV_DONTNEED,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    MS_ASYNC,
    MS_SYNC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)

P = rawmmap.PAGESIZE
EXAMPLES = int(os.environ.get("RAWMMAP_FUZZ_EXAMPLES", "150"))


@dataclass
class Model:
    """What one Mapping should hold and do."""

    m: rawmmap.Mapping
    kind: str  # "anon-private", "anon-shared", "file-shared", "reserve"
    content: bytearray
    prot: int = PROT_READ | PROT_WRITE
    path: str | None = None
    views: list[memoryview] = field(default_factory=list)
    closed: bool = False
    placed: dict[int, bytearray] = field(default_factory=dict)  # reserve: raw MAP_FIXED pages

    def file_size(self) -> int:
        return os.path.getsize(self.path) if self.path else 0


def log(text: str) -> None:
    print(text, flush=True)  # the child's stdout: the sequence, if it crashes


def expect_fault(model: Model, offset: int, write: bool) -> tuple[int, str] | None:
    """The (signal, code) an access at offset should raise, or None."""
    need = PROT_WRITE if write else PROT_READ
    if model.kind == "reserve":
        return None if offset // P in model.placed else (signal.SIGSEGV, "SEGV_ACCERR")
    if not model.prot & need:
        return (signal.SIGSEGV, "SEGV_ACCERR")
    if model.kind == "file-shared":
        page_end = (model.file_size() + P - 1) // P * P
        if offset >= page_end:
            return (signal.SIGBUS, "BUS_ADRERR")
    return None


class SafeAPI(RuleBasedStateMachine):
    mappings = Bundle("mappings")

    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="rawmmap-fuzz-")
        self.files = 0
        self.live: list[Model] = []

    # -- making mappings -------------------------------------------------------

    @rule(target=mappings, pages=st.integers(1, 4), shared=st.booleans())
    def map_anon(self, pages: int, shared: bool) -> Model:
        log(f"map_anonymous({pages} pages, shared={shared})")
        m = rawmmap.map_anonymous(pages * P, flags=MAP_SHARED if shared else MAP_PRIVATE)
        model = Model(m, "anon-shared" if shared else "anon-private", bytearray(pages * P))
        self.live.append(model)
        return model

    @rule(target=mappings, file_bytes=st.integers(0, 3 * P), pages=st.integers(1, 4))
    def map_file(self, file_bytes: int, pages: int) -> Model:
        log(f"map_file(file of {file_bytes} bytes, {pages} pages)")
        self.files += 1
        path = os.path.join(self.dir, f"f{self.files}")
        data = os.urandom(file_bytes)
        with open(path, "wb") as f:
            f.write(data)
        m = rawmmap.map_file(path, pages * P)
        content = bytearray(pages * P)
        content[: min(file_bytes, pages * P)] = data[: pages * P]
        model = Model(m, "file-shared", content, path=path)
        self.live.append(model)
        return model

    @rule(target=mappings, pages=st.integers(2, 4), data=st.data())
    def map_fixed_in_reserve(self, pages: int, data: st.DataObject) -> Model:
        at = data.draw(st.integers(0, pages - 1))
        log(f"reserve {pages} pages PROT_NONE, raw MAP_FIXED a page at {at}")
        reserve = rawmmap.map_anonymous(pages * P, prot=PROT_NONE)
        spot = reserve.address + at * P
        exc = with_error(ValueError, lambda: rawmmap.Mapping(
            P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, addr=spot))
        assert "MAP_FIXED_NOREPLACE" in str(exc)
        placed = rawmmap.mmap(spot, P, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)  # fmt: skip
        assert placed == spot
        r = Model(reserve, "reserve", bytearray(pages * P), prot=PROT_NONE)
        r.placed[at] = bytearray(P)
        self.live.append(r)
        return r

    # -- access ----------------------------------------------------------------

    def _span(self, model: Model, data: st.DataObject, max_len: int = 64) -> tuple[int, int]:
        length = len(model.content)
        page = data.draw(st.integers(0, length // P - 1))
        start = page * P + data.draw(st.integers(0, P - 1))
        n = data.draw(st.integers(0, min(max_len, page * P + P - start)))
        return start, n

    @rule(model=mappings, data=st.data())
    def write(self, model: Model, data: st.DataObject) -> None:
        start, n = self._span(model, data)
        payload = data.draw(st.binary(min_size=n, max_size=n))
        log(f"write {model.kind} [{start}:{start + n}]")
        if model.closed:
            with_error(ValueError, lambda: model.m.write(start, payload))
            return
        if model.kind == "reserve":
            return  # writes into a reservation would land in placed pages: see read
        if model.kind == "file-shared" and start + n > model.file_size():
            return  # past EOF in the last page: what a later ftruncate keeps is fs detail
        fault = expect_fault(model, start, write=True)
        if fault is not None and n > 0:
            exc = with_error(rawmmap.MappingFault, lambda: model.m.write(start, payload))
            assert (exc.signal, exc.code) == fault, (exc, fault)
            assert exc.mapping is model.m and exc.offset is not None
            return
        model.m.write(start, payload)
        model.content[start : start + n] = payload

    @rule(model=mappings, data=st.data())
    def read(self, model: Model, data: st.DataObject) -> None:
        start, n = self._span(model, data)
        log(f"read {model.kind} [{start}:{start + n}]")
        if model.closed:
            with_error(ValueError, lambda: model.m[start : start + n])
            return
        if model.kind == "reserve":
            if n == 0:
                return
            page = model.placed.get(start // P)
            if page is not None:
                assert model.m[start : start + n] == bytes(page[start % P : start % P + n])
                return
            exc = with_error(rawmmap.MappingFault, lambda: model.m[start : start + n])
            assert (exc.signal, exc.code) == (signal.SIGSEGV, "SEGV_ACCERR")
            return
        fault = expect_fault(model, start, write=False)
        if fault is not None and n > 0:
            exc = with_error(rawmmap.MappingFault, lambda: model.m[start : start + n])
            assert (exc.signal, exc.code) == fault
            return
        assert model.m[start : start + n] == bytes(model.content[start : start + n])

    @rule(model=mappings, data=st.data())
    def out_of_range(self, model: Model, data: st.DataObject) -> None:
        log(f"out of range {model.kind}")
        if model.closed:
            return
        where = data.draw(st.sampled_from([len(model.content), -len(model.content) - 1, 10**12]))
        with_error(IndexError, lambda: model.m[where])

    # -- file and protection ---------------------------------------------------

    @rule(model=mappings, size=st.integers(0, 4 * P))
    def truncate(self, model: Model, size: int) -> None:
        if model.kind != "file-shared" or model.closed:
            return
        log(f"ftruncate file to {size}")
        rawmmap.ftruncate(model.m.fd, size)
        # bytes past the new EOF are gone (zero if the file grows back); the
        # model never wrote past EOF, so growing shows zeros too
        for i in range(min(size, len(model.content)), len(model.content)):
            model.content[i] = 0

    @rule(model=mappings, prot=st.sampled_from([PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE]))
    def protect(self, model: Model, prot: int) -> None:
        if model.kind == "reserve":
            return
        log(f"protect {model.kind} {prot}")
        if model.closed:
            with_error(ValueError, lambda: model.m.protect(prot))
            return
        model.m.protect(prot)
        model.prot = prot

    @rule(model=mappings, flags=st.sampled_from([MS_SYNC, MS_ASYNC, MS_SYNC | MS_ASYNC]))
    def sync(self, model: Model, flags: int) -> None:
        log(f"sync {model.kind} {flags}")
        if model.closed:
            with_error(ValueError, lambda: model.m.sync(flags))
            return
        if flags == MS_SYNC | MS_ASYNC:
            exc = with_error(OSError, lambda: model.m.sync(flags))
            assert exc.errno == errno.EINVAL
            return
        model.m.sync(flags)
        if model.kind == "file-shared":
            with open(model.path, "rb") as f:  # type: ignore[arg-type]
                on_disk = f.read(len(model.content))
            assert on_disk == bytes(model.content[: len(on_disk)])

    @rule(model=mappings, pages=st.integers(1, 4))
    def remap(self, model: Model, pages: int) -> None:
        if model.kind != "anon-private":
            return  # file and shared-anonymous growth is lesson material, not modelled here
        log(f"remap {model.kind} to {pages} pages")
        if model.closed:
            with_error(ValueError, lambda: model.m.remap(pages * P))
            return
        if model.views:
            with_error(BufferError, lambda: model.m.remap(pages * P))
            return
        model.m.remap(pages * P)
        model.content = (model.content + bytearray(pages * P))[: pages * P]

    @rule(model=mappings)
    def dontneed(self, model: Model) -> None:
        if model.closed or model.kind in ("reserve",):
            return
        log(f"madvise DONTNEED {model.kind}")
        model.m.advise(MADV_DONTNEED)
        if model.kind == "anon-private":
            model.content[:] = bytes(len(model.content))  # private anonymous pages: zero again

    # -- views and end of life ---------------------------------------------------

    @rule(model=mappings)
    def take_view(self, model: Model) -> None:
        log(f"view {model.kind}")
        if model.closed:
            with_error(ValueError, model.m.view)
            return
        model.views.append(model.m.view()[:8])

    @rule(model=mappings)
    def release_views(self, model: Model) -> None:
        log(f"release views {model.kind}")
        for v in model.views:
            v.release()
        model.views.clear()

    @rule(model=mappings)
    def close(self, model: Model) -> None:
        log(f"close {model.kind}")
        if model.views and not model.closed:
            with_error(BufferError, model.m.close)
            return
        model.m.close()  # a reservation's munmap ends the raw pages placed in it too
        model.closed = True
        model.m.close()  # idempotent

    @rule(model=mappings, data=st.data())
    def fork_and_read(self, model: Model, data: st.DataObject) -> None:
        if model.closed or model.kind == "reserve" or not model.prot & PROT_READ:
            return
        start, n = self._span(model, data)
        if expect_fault(model, start, write=False) is not None:
            return
        log(f"fork and read {model.kind} [{start}:{start + n}]")
        out = rawmmap.run_isolated(lambda: model.m[start : start + n])
        assert out.returned == bytes(model.content[start : start + n])

    # -- what users do that a C programmer cannot: copies, the GC, threads ---------

    @rule(model=mappings, how=st.sampled_from(["copy", "deepcopy", "pickle"]))
    def duplicate(self, model: Model, how: str) -> None:
        log(f"{how} {model.kind}")
        make = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": pickle.dumps}[how]
        exc = with_error(TypeError, lambda: make(model.m))
        assert "cannot copy or pickle" in str(exc)

    @rule(pages=st.integers(1, 3), cycle=st.booleans())
    def drop_in_garbage(self, pages: int, cycle: bool) -> None:
        log(f"drop a {pages}-page mapping with a view (cycle={cycle}), gc off")
        was = gc.isenabled()
        gc.disable()
        try:
            m = rawmmap.map_anonymous(pages * P)
            address = m.address
            view = m.view()
            view[0] = 7
            holder: list[object] = [view]
            if cycle:
                holder.append(holder)  # a garbage cycle that reaches the view
            del m
            assert rawmmap.vma_for(address) is not None  # the view keeps it mapped
            assert view[0] == 7
            del view, holder
            if cycle:
                assert rawmmap.vma_for(address) is not None  # until the cycle is collected
                gc.collect()
            assert rawmmap.vma_for(address) is None  # unmapped at once, no self-cycle
        finally:
            if was:
                gc.enable()

    @rule(tries=st.integers(1, 20))
    def race_close_against_copies(self, tries: int) -> None:
        log(f"race close() against a copying thread x{tries}")
        size = 1 << 20  # large enough that the copy runs without the GIL
        payload = b"\xab" * size
        for _ in range(tries):
            m = rawmmap.map_anonymous(size)
            address = m.address
            stop = threading.Event()
            seen: list[str] = []

            def copier(
                m: rawmmap.Mapping = m, stop: threading.Event = stop, seen: list[str] = seen
            ) -> None:
                while not stop.is_set():
                    try:
                        m.write(0, payload)
                        m.read(0, size)
                    except ValueError:
                        seen.append("closed")
                        return

            t = threading.Thread(target=copier)
            t.start()
            m.close()  # waits for the copy in flight; later ones see a closed Mapping
            stop.set()
            t.join()
            assert m.closed and rawmmap.vma_for(address) is None
            assert seen in ([], ["closed"])

    @invariant()
    def mappings_are_exactly_what_the_model_says(self) -> None:
        for model in self.live:
            if model.closed:
                assert model.m.closed
                continue
            assert not model.m.closed
            assert rawmmap.vma_for(model.m.address) is not None
            assert model.m._exports == len(model.views), (model.m._exports, len(model.views))

    def teardown(self) -> None:
        for model in self.live:
            for v in model.views:
                v.release()
        for model in self.live:
            if not model.closed:
                model.m.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def with_error(kind: type[BaseException], call: object) -> BaseException:
    try:
        call()  # type: ignore[operator]
    except kind as exc:
        return exc
    raise AssertionError(f"expected {kind.__name__}")


def run_machine() -> int:
    run_state_machine_as_test(
        SafeAPI,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    return EXAMPLES


def test_safe_api_never_breaks_the_interpreter() -> None:
    outcome = rawmmap.run_isolated(run_machine)
    assert outcome.signal is None, (
        f"the interpreter crashed: {outcome.describe()}\nlast steps:\n"
        + "\n".join(outcome.stdout.splitlines()[-30:])
    )
    assert outcome.returned == EXAMPLES
