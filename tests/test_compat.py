"""rawmmap.compat: the standard library's mmap, name for name, with faults raised instead of fatal.

Three judges: CPython's own Lib/test/test_mmap.py run against compat in a
child interpreter (every test the stdlib passes here must pass, skips only
where the stdlib skips too); a same-process comparison of results, errors
and messages for calls that cannot crash; and the fault promise — a file
truncated under the mapping, then every memory-touching method, each in a
forked child (rawmmap.run_isolated), which must survive with MappingFault and
the position unchanged.  A buffer export stays unguarded: a child dies.
"""

from __future__ import annotations

import faulthandler
import importlib.util
import json
import mmap as stdlib_mmap
import os
import pathlib
import pickle
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import rawmmap
import rawmmap.compat as compat

PAGE = compat.PAGESIZE

# -- names and constants -------------------------------------------------------------


def test_module_has_the_stdlib_names_and_values() -> None:
    public = {n for n in dir(stdlib_mmap) if not n.startswith("_")}
    assert public <= set(dir(compat))
    for name in public - {"mmap", "error"}:
        assert getattr(compat, name) == getattr(stdlib_mmap, name), name
    assert compat.error is stdlib_mmap.error is OSError
    assert set(compat.__all__) == public


def test_class_has_the_stdlib_methods_and_only_where_the_stdlib_has_them() -> None:
    stdlib_names = {n for n in vars(stdlib_mmap.mmap) if not n.startswith("__")}
    assert stdlib_names <= set(dir(compat.mmap))
    for optional in ("seekable", "madvise"):
        assert hasattr(compat.mmap, optional) == hasattr(stdlib_mmap.mmap, optional)
    assert issubclass(compat.mmap, rawmmap._bindings.core.Region)  # exports counted in C


# -- same results, errors and messages as the stdlib (calls that cannot crash) ---------


def _outcome(fn: Callable[[], object]) -> str:
    try:
        result = fn()
    except Exception as exc:  # the comparison is the point
        return f"{type(exc).__name__}: {exc}"
    if isinstance(result, (stdlib_mmap.mmap, compat.mmap)):
        text = repr(result)
        result.close()
        return text
    return repr(result)


def _calls(mod: Any, path: str) -> list[tuple[str, Callable[[], object]]]:
    """Calls on fresh objects of module ``mod``; path: a file holding b'abc\\ndef\\n' + 100 x."""
    m = mod.mmap(-1, 32)
    m[:] = bytes(range(32))
    fd = os.open(path, os.O_RDWR)
    f = mod.mmap(fd, 0)
    os.close(fd)
    fro = open(path, "rb")  # noqa: SIM115
    r = mod.mmap(fro.fileno(), 0, access=mod.ACCESS_READ)
    fro.close()
    calls: list[tuple[str, Callable[[], object]]] = []

    def add(label: str, fn: Callable[[], object]) -> None:
        calls.append((label, fn))

    for key in (0, 31, -1, -32, 32, -33, 2**70, "a", 1.0, None, True):
        add(f"get {key!r}", lambda key=key: m[key])
    for sl in (slice(None), slice(3, 9), slice(None, None, -1), slice(1, 30, 7), slice(30, 1, -3),
               slice(-5, None), slice(5, 2), slice(0, 32, 2**62),
               slice(None, None, 0)):  # fmt: skip
        add(f"get {sl!r}", lambda sl=sl: m[sl])
    for key, value in ((0, 7), (0, 256), (0, -1), (0, b"a"), (40, 1), ("a", 1), (-1, 255)):
        add(f"set {key!r}={value!r}", lambda key=key, value=value: m.__setitem__(key, value))
    for sl, value in ((slice(0, 3), b"xyz"), (slice(0, 3), b"xy"), (slice(0, 3), "xyz"),
                      (slice(0, 3), [1, 2, 3]), (slice(0, 6, 2), bytearray(b"abc")),
                      (slice(None, None, -1), bytes(32)), (slice(5, 5), b"")):  # fmt: skip
        add(f"set {sl!r}", lambda sl=sl, value=value: m.__setitem__(sl, value))
    add("after sets", lambda: bytes(m[:]))
    add("del item", lambda: m.__delitem__(0))
    add("del slice", lambda: m.__delitem__(slice(0, 1)))
    add("len", lambda: len(m))
    add("iter", lambda: list(m)[:3])
    add("reversed", lambda: list(reversed(m))[:3])
    add("in byte", lambda: b"\x05" in m)
    add("in two", lambda: b"\x05\x06" in m)
    add("in int", lambda: 5 in m)
    add("bytes", lambda: bytes(m))
    add("seek", lambda: m.seek(3))
    add("seek 1", lambda: m.seek(2, 1))
    add("seek 2", lambda: m.seek(-1, 2))
    add("seek bad whence", lambda: m.seek(0, 3))
    add("seek out", lambda: m.seek(33))
    add("seek neg", lambda: m.seek(-1))
    add("tell", m.tell)
    add("read 2", lambda: m.read(2))
    add("read", m.read)
    add("read again", m.read)
    add("read float", lambda: m.read(1.5))
    add("read str", lambda: m.read("1"))
    add("read_byte end", m.read_byte)
    add("seek 0", lambda: m.seek(0))
    add("read_byte", m.read_byte)
    add("write", lambda: m.write(b"hello"))
    add("write str", lambda: m.write("hello"))
    add("write too much", lambda: m.write(bytes(40)))
    add("write_byte", lambda: m.write_byte(200))
    add("write_byte 256", lambda: m.write_byte(256))
    add("write_byte -1", lambda: m.write_byte(-1))
    add("write_byte bytes", lambda: m.write_byte(b"a"))
    add("tell after", m.tell)
    for args in ((b"l",), (b"l", 0), (b"l", -30, -1), (b"", 40), (b"", 5, 2), (b"zz",),
                 ("l",), (b"l", None), (memoryview(b"ll"),), (b"\x1f", 0, 32)):  # fmt: skip
        add(f"find{args!r}", lambda args=args: m.find(*args))
        add(f"rfind{args!r}", lambda args=args: m.rfind(*args))
    for args in ((0, 1, 5), (1, 0, 5), (0, 0, 33), (-1, 0, 1), (0, 0, 0), (31, 0, 1)):
        add(f"move{args!r}", lambda args=args: m.move(*args))
    add("after moves", lambda: bytes(m))
    add("flush", m.flush)
    add("flush range", lambda: m.flush(0, PAGE))
    add("flush unaligned", lambda: m.flush(1, 1))
    add("flush out", lambda: m.flush(0, 100))
    add("flush neg", lambda: m.flush(-1))
    add("size anon", m.size)
    add("repr", lambda: repr(m))
    add("eq", lambda: m == m)
    add("lt", lambda: str(m < m))  # a TypeError naming the type: 'mmap.mmap' vs 'mmap' (below)
    add("pickle", lambda: pickle.dumps(m))
    add("mv readonly", lambda: memoryview(m).readonly)
    if hasattr(m, "madvise"):
        for args in ((mod.MADV_NORMAL,), (mod.MADV_NORMAL, 32), (mod.MADV_NORMAL, 0, -1),
                     (mod.MADV_NORMAL, 1, sys.maxsize), (999,)):  # fmt: skip
            add(f"madvise{args!r}", lambda args=args: m.madvise(*args))
    add("file readline", f.readline)
    add("file readline 2", f.readline)
    add("file readline 3", f.readline)
    add("file readline end", f.readline)
    add("file size", f.size)
    add("file repr", lambda: repr(f))
    add("file resize", lambda: f.resize(PAGE))
    add("file len", lambda: len(f))
    add("file stat", lambda: os.stat(path).st_size)
    add("ro write", lambda: r.write(b"a"))
    add("ro set", lambda: r.__setitem__(0, 1))
    add("ro set slice", lambda: r.__setitem__(slice(0, 1), b"a"))
    add("ro move", lambda: r.move(0, 1, 1))
    add("ro resize", lambda: r.resize(10))
    add("ro flush", r.flush)
    add("ro repr", lambda: repr(r))
    add("ro mv readonly", lambda: memoryview(r).readonly)

    def exported_close() -> object:
        with memoryview(m):
            try:
                m.resize(64)
            except BufferError as exc:
                return f"{exc}; {m.close()}"
        return "no error"

    add("close with export", exported_close)
    add("resize anon", lambda: m.resize(64))
    add("len after resize", lambda: len(m))
    add("closed", lambda: m.closed)
    add("close", m.close)
    add("close again", m.close)
    add("closed after", lambda: m.closed)
    for label, fn in (("len", lambda: len(m)), ("get", lambda: m[0]), ("slice", lambda: m[:1]),
                      ("read", m.read), ("read_byte", m.read_byte), ("readline", m.readline),
                      ("write", lambda: m.write(b"a")), ("write_byte", lambda: m.write_byte(1)),
                      ("find", lambda: m.find(b"a")), ("tell", m.tell), ("seek", lambda: m.seek(0)),
                      ("size", m.size), ("flush", m.flush), ("resize", lambda: m.resize(1)),
                      ("move", lambda: m.move(0, 0, 1)), ("iter", lambda: list(m)),
                      ("bytes", lambda: bytes(m)), ("enter", m.__enter__),
                      ("set", lambda: m.__setitem__(0, 1)), ("repr", lambda: repr(m))):  # fmt: skip
        add(f"closed {label}", fn)
    for args, kwargs in (((-1, -1), {}), ((-1, 0), {}), ((-1.0, 10), {}),
                         ((-1, 10), {"offset": -1}),
                         ((-2, 10), {}), ((2**40, 10), {}), ((-1, 10), {"prot": 1, "access": 1}),
                         ((-1, 10), {"access": 7}), ((), {"fileno": -1, "length": 10}),
                         ((-1, 10), {"flags": mod.MAP_PRIVATE}),
                         ((-1, 10), {"prot": mod.PROT_READ}),
                         ((-1, 10), {"access": mod.ACCESS_COPY}),
                         ((-1, 10), {"access": mod.ACCESS_WRITE})):  # fmt: skip
        add(f"new{args!r}{kwargs!r}", lambda args=args, kwargs=kwargs: mod.mmap(*args, **kwargs))
    ro_fd = os.open(path, os.O_RDONLY)
    size = os.fstat(ro_fd).st_size
    for length, offset in ((size + 1, 0), (0, PAGE), (0, 1), (1, size), (0, 0), (3, 2)):
        add(f"file new {length} {offset}",
            lambda n=length, o=offset: mod.mmap(ro_fd, n, offset=o,
                                                access=mod.ACCESS_READ))  # fmt: skip
    add("file new prot", lambda: mod.mmap(ro_fd, 0, prot=mod.PROT_READ))
    add("file new write on ro fd", lambda: mod.mmap(ro_fd, 0))
    add("ro fd close", lambda: os.close(ro_fd))
    add("file close", f.close)
    add("ro close", r.close)
    return calls


def test_same_results_errors_and_messages_as_the_stdlib(tmp_path: pathlib.Path) -> None:
    results = {}
    for mod in (stdlib_mmap, compat):
        path = tmp_path / "data"
        path.write_bytes(b"abc\ndef\n" + b"x" * 100)
        results[mod.__name__] = [(label, _outcome(fn)) for label, fn in _calls(mod, str(path))]
    expected, got = results["mmap"], results["rawmmap.compat"]
    assert len(expected) == len(got) > 150
    # CPython names a C type by its tp_name ('mmap.mmap'), a Python class by __name__ ('mmap',
    # as the stdlib's own __name__): only messages that the interpreter writes differ
    got = [(label, text.replace("'mmap' and 'mmap'", "'mmap.mmap' and 'mmap.mmap'"))
           for label, text in got]  # fmt: skip
    mismatches = [(e, g) for e, g in zip(expected, got, strict=True) if e != g]
    assert not mismatches, "\n".join(f"{e[0]}: {e[1]} / compat {g[1]}" for e, g in mismatches)


def test_subclass_weakref_context_manager_and_repr() -> None:
    class Anonymous(compat.mmap):
        def __new__(cls, *args: Any, **kwargs: Any) -> Anonymous:
            return compat.mmap.__new__(cls, -1, *args, **kwargs)  # type: ignore[return-value]

    with Anonymous(PAGE) as m:
        assert repr(m).startswith("<Anonymous closed=False, access=ACCESS_DEFAULT")
        ref = weakref.ref(m)
        assert ref() is m
    assert m.closed and repr(m) == "<Anonymous closed=True>"
    del m
    assert ref() is None


def test_exports_block_close_and_resize_until_released() -> None:
    m = compat.mmap(-1, PAGE)
    view = memoryview(m)
    with pytest.raises(BufferError, match="cannot close exported pointers exist"):
        m.close()
    with pytest.raises(BufferError, match="can't resize with extant buffers exported"):
        m.resize(2 * PAGE)
    view[0] = 7
    assert m[0] == 7
    view.release()
    m.close()
    assert m.closed


# -- CPython's own test suite as the judge ---------------------------------------------

_JUDGE = textwrap.dedent(
    """
    import json, sys, unittest
    if sys.argv[1] == "compat":
        import rawmmap.compat
        sys.modules["mmap"] = rawmmap.compat
    import test.test_mmap as suite_module
    assert suite_module.mmap is sys.modules["mmap"], suite_module.mmap

    class Record(unittest.TestResult):
        def __init__(self):
            super().__init__()
            self.outcomes = {}
        def addSuccess(self, test):
            self.outcomes.setdefault(test.id(), "passed")
        def addSkip(self, test, reason):
            self.outcomes[test.id()] = "skipped: " + reason
        def addFailure(self, test, err):
            self.outcomes[test.id()] = "failed: " + self._exc_info_to_string(err, test)
        def addError(self, test, err):
            self.outcomes[test.id()] = "error: " + self._exc_info_to_string(err, test)
        def addSubTest(self, test, subtest, err):
            if err is not None:
                self.outcomes[test.id()] = "failed: " + self._exc_info_to_string(err, test)
        def addExpectedFailure(self, test, err):
            self.outcomes[test.id()] = "expected failure"
        def addUnexpectedSuccess(self, test):
            self.outcomes[test.id()] = "unexpected success"

    result = Record()
    unittest.defaultTestLoader.loadTestsFromModule(suite_module).run(result)
    print("RESULT " + json.dumps(result.outcomes))
    """
)


def _run_judge(which: str, cwd: pathlib.Path) -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, "-c", _JUDGE, which], capture_output=True, text=True, cwd=cwd,
        timeout=300,
    )  # fmt: skip
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{which}: exit {proc.returncode}\n{proc.stderr}"
    outcomes: dict[str, str] = json.loads(lines[-1][len("RESULT ") :])
    return outcomes


@pytest.mark.skipif(
    importlib.util.find_spec("test.test_mmap") is None,
    reason="this Python's test package (Lib/test/test_mmap.py) is not installed "
    "(some distributions ship it separately, e.g. Debian's libpython3-testsuite)",
)
def test_cpython_test_mmap_passes_against_compat(tmp_path: pathlib.Path) -> None:
    (tmp_path / "stdlib").mkdir()
    (tmp_path / "compat").mkdir()
    stdlib = _run_judge("stdlib", tmp_path / "stdlib")
    ours = _run_judge("compat", tmp_path / "compat")
    assert sum(v == "passed" for v in stdlib.values()) >= 30  # the judge really ran
    assert set(ours) == set(stdlib)
    wrong = {t: (stdlib[t], ours[t]) for t in stdlib if stdlib[t] == "passed" != ours[t]}
    assert not wrong, "\n".join(f"{t}: {o}" for t, (_, o) in wrong.items())
    extra_skips = {t for t in stdlib if ours[t].startswith("skipped") and ours[t] != stdlib[t]}
    assert not extra_skips  # only the stdlib's own skips


# -- the fault promise (each in a forked child) ------------------------------------------

ACCESSES = {"ACCESS_READ": compat.ACCESS_READ, "ACCESS_WRITE": compat.ACCESS_WRITE,
            "ACCESS_COPY": compat.ACCESS_COPY}  # fmt: skip

# name -> (needs write access, the call)
OPERATIONS: dict[str, tuple[bool, Callable[[compat.mmap], object]]] = {
    "m[i]": (False, lambda m: m[5]),
    "m[i:j]": (False, lambda m: m[5:13]),
    "m[i:j:k]": (False, lambda m: m[1:PAGE:3]),
    "m[::-1]": (False, lambda m: m[::-1]),
    "bytes(m)": (False, lambda m: bytes(m)),
    "iter": (False, lambda m: next(iter(m))),
    "reversed": (False, lambda m: next(reversed(m))),
    "in": (False, lambda m: b"x" in m),
    "read": (False, lambda m: m.read(4)),
    "read()": (False, lambda m: m.read()),
    "read_byte": (False, lambda m: m.read_byte()),
    "readline": (False, lambda m: m.readline()),
    "find": (False, lambda m: m.find(b"needle")),
    "rfind": (False, lambda m: m.rfind(b"needle")),
    "m[i] = v": (True, lambda m: m.__setitem__(5, 1)),
    "m[i:j] = b": (True, lambda m: m.__setitem__(slice(5, 9), b"abcd")),
    "m[i:j:k] = b": (True, lambda m: m.__setitem__(slice(1, 10, 3), b"abc")),
    "write": (True, lambda m: m.write(b"abcd")),
    "write_byte": (True, lambda m: m.write_byte(1)),
    "move": (True, lambda m: m.move(0, 100, 50)),
}


def _truncated(access: int, offset: int, path: str) -> tuple[compat.mmap, int]:
    """A 2-page compat mmap of a 3-page file at ``offset``; the file then cut to ``offset``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"line\n" * (3 * PAGE // 5) + b"x" * (3 * PAGE % 5))
    m = compat.mmap(fd, 2 * PAGE, access=access, offset=offset)
    os.ftruncate(fd, offset)
    return m, fd


def _every_operation_faults(access: int, offset: int, path: str) -> dict[str, str]:
    m, fd = _truncated(access, offset, path)
    report = {}
    for name, (writes, call) in OPERATIONS.items():
        if writes and access == compat.ACCESS_READ:
            continue
        m.seek(7)
        try:
            call(m)
        except rawmmap.MappingFault as fault:
            ok = (fault.signal == signal.SIGBUS and fault.code == "BUS_ADRERR"
                  and fault.mapping is m and fault.offset is not None
                  and 0 <= fault.offset < 2 * PAGE
                  and isinstance(fault, OSError) and m.tell() == 7)  # fmt: skip
            report[name] = "ok" if ok else f"bad fault {fault!r} pos={m.tell()}"
        else:
            report[name] = "no fault"
    try:  # msync(2) reports, never faults: either outcome is the stdlib's
        m.flush()
        report["flush"] = "ok"
    except OSError as exc:
        report["flush"] = f"ok ({exc.errno})"
    # recovery: the file grows back, the same object works again
    os.ftruncate(fd, offset + 2 * PAGE)
    if access != compat.ACCESS_READ:
        m[0:5] = b"again"
        m.flush()
    report["after"] = repr(m[0:5])
    m.close()
    os.close(fd)
    return report


@pytest.mark.parametrize("offset", [0, PAGE], ids=["offset0", "offset1page"])
@pytest.mark.parametrize("access", list(ACCESSES), ids=list(ACCESSES))
def test_every_memory_method_raises_mappingfault_on_a_truncated_file(
    access: str, offset: int, tmp_path: pathlib.Path
) -> None:
    outcome = rawmmap.run_isolated(
        _every_operation_faults, ACCESSES[access], offset, str(tmp_path / "f"), timeout=60
    )
    assert not outcome.killed, outcome.describe() + outcome.stderr
    report = dict(outcome.returned)
    assert report.pop("flush").startswith("ok")
    expected = {n for n, (w, _) in OPERATIONS.items() if not (w and access == "ACCESS_READ")}
    after = report.pop("after")
    assert {n for n, v in report.items() if v == "ok"} == expected, report
    written = access != "ACCESS_READ"
    assert after == repr(b"again" if written else (b"\0" * 5))


def _many_faults_then_recovery(path: str) -> tuple[int, bytes, bytes]:
    m, fd = _truncated(compat.ACCESS_WRITE, 0, path)
    faults = 0
    for i in range(3000):
        try:
            m[i % (2 * PAGE)]
        except rawmmap.MappingFault:
            faults += 1
    os.ftruncate(fd, 2 * PAGE)
    m.write(b"recovered")
    m.flush()
    m.close()
    with open(path, "rb") as f:
        data = f.read(9)
    os.close(fd)
    return faults, data, b"ok"


def test_thousands_of_faults_then_recovery(tmp_path: pathlib.Path) -> None:
    outcome = rawmmap.run_isolated(_many_faults_then_recovery, str(tmp_path / "f"), timeout=60)
    assert not outcome.killed, outcome.describe()
    assert outcome.returned == (3000, b"recovered", b"ok")


def _faults_around_faulthandler(path: str) -> list[str]:
    m, fd = _truncated(compat.ACCESS_WRITE, 0, path)
    seen = []
    for step in ("before", "enabled", "disabled"):
        if step == "enabled":
            faulthandler.enable()
        elif step == "disabled":
            faulthandler.disable()
        try:
            m.readline()
        except rawmmap.MappingFault as fault:
            seen.append(f"{step}: {fault.code} pos={m.tell()}")
    os.close(fd)
    return seen


def test_faults_with_faulthandler_enabled_and_disabled(tmp_path: pathlib.Path) -> None:
    outcome = rawmmap.run_isolated(_faults_around_faulthandler, str(tmp_path / "f"), timeout=60)
    assert not outcome.killed, outcome.describe() + outcome.stderr
    assert outcome.returned == [f"{s}: BUS_ADRERR pos=0" for s in ("before", "enabled", "disabled")]


def _fault_in_a_thread(path: str) -> list[str]:
    m, fd = _truncated(compat.ACCESS_READ, 0, path)
    seen: list[str] = []

    def work() -> None:
        for call in (lambda: m.find(b"z"), lambda: m.read(10), lambda: m[3]):
            try:
                call()
            except rawmmap.MappingFault as fault:
                seen.append(f"{fault.code} {threading.current_thread().name}")

    thread = threading.Thread(target=work, name="reader")
    thread.start()
    thread.join()
    os.close(fd)
    return seen


def test_faults_in_a_thread(tmp_path: pathlib.Path) -> None:
    outcome = rawmmap.run_isolated(_fault_in_a_thread, str(tmp_path / "f"), timeout=60)
    assert not outcome.killed, outcome.describe()
    assert outcome.returned == ["BUS_ADRERR reader"] * 3


def _touch_through(kind: str, path: str) -> None:
    if kind == "stdlib m[0]":  # what compat replaces: the interpreter dies
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b"x" * PAGE)
        s = stdlib_mmap.mmap(fd, PAGE)
        os.ftruncate(fd, 0)
        s[0]
        return
    m, _ = _truncated(compat.ACCESS_READ, 0, path)
    if kind == "memoryview":
        memoryview(m)[0]
    else:  # re scans the buffer export directly
        re.search(b"x", m)  # type: ignore[call-overload]


@pytest.mark.parametrize("kind", ["memoryview", "re.search", "stdlib m[0]"])
def test_buffer_exports_stay_unguarded_like_the_stdlib(kind: str, tmp_path: pathlib.Path) -> None:
    outcome = rawmmap.run_isolated(_touch_through, kind, str(tmp_path / "f"), timeout=60)
    assert outcome.signal == signal.SIGBUS and outcome.code == "BUS_ADRERR", outcome.describe()


def test_fault_reports_a_plain_oserror_for_except_oserror(tmp_path: pathlib.Path) -> None:
    def run(path: str) -> tuple[str, int, str]:
        m, fd = _truncated(compat.ACCESS_READ, 0, path)
        try:
            m.read(1)
        except OSError as exc:  # what mmap code already catches
            return type(exc).__name__, exc.errno or 0, str(exc)
        finally:
            os.close(fd)
        return "", 0, ""

    outcome = rawmmap.run_isolated(run, str(tmp_path / "f"), timeout=60)
    name, err, text = outcome.returned
    assert name == "MappingFault" and err == 5  # EIO for SIGBUS
    assert "beyond the end of the backing file" in text


def test_a_log_reader_survives_truncation() -> None:
    """The README's example: follow a log with readline, survive a truncation."""

    def reader(path: str) -> list[str]:
        events = []
        with open(path, "rb") as f, compat.mmap(f.fileno(), 0, access=compat.ACCESS_READ) as m:
            events.append(m.readline().decode().strip())
            os.truncate(path, 0)  # log rotation under our feet
            try:
                m.readline()
            except OSError as exc:  # MappingFault is an OSError
                events.append(f"{type(exc).__name__} at pos {m.tell()}")
        return events

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "app.log")
        with open(path, "wb") as f:
            f.write(b"first\n" + b"second line\n" * 1000)
        outcome = rawmmap.run_isolated(reader, path, timeout=60)
    assert outcome.returned == ["first", "MappingFault at pos 6"], outcome.describe()


def test_readme_moving_from_mmap_example_runs_as_printed(tmp_path: pathlib.Path) -> None:
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Moving from mmap", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    printed = [line.split("#")[1].strip() for line in code.splitlines() if "print(" in line]
    assert proc.stdout.splitlines() == printed


# -- the in-place searches (core.c section 8) agree with bytes.find/rfind ------------------


def test_find_rfind_readline_agree_with_bytes_on_random_data() -> None:
    import random

    rng = random.Random(12)
    data = bytes(rng.choice(b"ab\\n") for _ in range(3 * PAGE + 17))
    with compat.mmap(-1, len(data)) as m:
        m[:] = data
        for _ in range(3000):
            needle = bytes(rng.choice(b"ab\\n") for _ in range(rng.randrange(0, 5)))
            i, j = rng.randrange(-50, len(data) + 50), rng.randrange(-50, len(data) + 50)
            assert m.find(needle, i, j) == data.find(needle, i, j), (needle, i, j)
            assert m.rfind(needle, i, j) == data.rfind(needle, i, j), (needle, i, j)
        m.seek(0)
        assert list(iter(m.readline, b"")) == data.splitlines(keepends=True)


def test_search_helpers_check_the_region_after_running_python_code() -> None:
    m = compat.mmap(-1, PAGE)

    class ClosesIt:
        def __index__(self) -> int:
            m.close()
            return 1

    with pytest.raises(ValueError):
        rawmmap._bindings.core.compat_find(m, b"x", 0, ClosesIt(), False)
    n = compat.mmap(-1, PAGE)

    class ClosesN:
        def __index__(self) -> int:
            n.close()
            return 0

    with pytest.raises(ValueError):
        rawmmap._bindings.core.compat_readline(n, ClosesN())
    with pytest.raises(TypeError, match="region must be"):
        rawmmap._bindings.core.compat_readline(b"not a region", 0)
