"""rawmmap's pytest plugin: fixtures for odd memory, and the ``isolated`` marker.

Registered through the ``pytest11`` entry point, so installing rawmmap makes
these available with no conftest code.  Importing the module defines
fixtures and hooks only.  Every fixture cleans up after itself: no mapping
and no file descriptor outlives the test.

Fixtures: ``page_size``, ``anon_mapping`` (factory), ``mapped_file``
(factory), ``sigbus_mapping`` (factory), ``guard_page_buffer`` (factory),
``memfd``, ``shared_anon``.  Marker: ``@pytest.mark.isolated`` /
``@pytest.mark.isolated(expect_signal=signal.SIGBUS, timeout=None)`` runs the
test body in a forked child (``rawmmap.run_isolated``).
"""

from __future__ import annotations

import inspect
import os
import pathlib
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ._bindings import core
from ._constants import VALUES
from ._mapping import Mapping, map_anonymous, map_file
from ._raw import memfd_create, mprotect

PROT_READ, PROT_WRITE, PROT_NONE = VALUES["PROT_READ"], VALUES["PROT_WRITE"], VALUES["PROT_NONE"]
MAP_SHARED, MAP_PRIVATE = VALUES["MAP_SHARED"], VALUES["MAP_PRIVATE"]
RW = PROT_READ | PROT_WRITE


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rawmmap", "rawmmap: odd memory for tests")
    group.addoption(
        "--rawmmap-isolated-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="default timeout for @pytest.mark.isolated tests (none by default)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "isolated(expect_signal=None, timeout=None): run the test in a forked child "
        "(rawmmap.run_isolated); with expect_signal the test passes only if the child "
        "dies of that signal",
    )


class _Owned:
    """The mappings a fixture made, closed at teardown."""

    def __init__(self) -> None:
        self.mappings: list[Mapping] = []

    def close(self) -> None:
        alive = []
        for m in self.mappings:
            try:
                m.close()
            except BufferError:
                alive.append(m)
        if alive:
            pytest.fail(
                f"rawmmap fixture teardown: a view of {alive[0]!r} is still alive; "
                "release views (and numpy arrays made from them) before the test ends",
                pytrace=False,
            )


@pytest.fixture
def page_size() -> int:
    """The machine's page size (``sysconf(_SC_PAGESIZE)``)."""
    from . import PAGESIZE

    return PAGESIZE


@pytest.fixture
def anon_mapping() -> Iterator[Callable[..., Mapping]]:
    """Factory: ``anon_mapping(length, prot=RW, flags=MAP_PRIVATE) -> Mapping`` (anonymous)."""
    owned = _Owned()

    def make(length: int, prot: int = RW, flags: int = MAP_PRIVATE) -> Mapping:
        m = map_anonymous(length, prot=prot, flags=flags)
        owned.mappings.append(m)
        return m

    yield make
    owned.close()


@pytest.fixture
def mapped_file(tmp_path: pathlib.Path) -> Iterator[Callable[..., Mapping]]:
    """Factory over ``tmp_path``: a file with ``content``, mapped.

    ``mapped_file(content=b"...", length=None, prot=RW, flags=MAP_SHARED,
    size=None, on_sigbus="raise") -> Mapping``; ``size`` sets the file's size after writing
    ``content`` (ftruncate); ``length`` is the mapping's (default: the file's
    size, one page if empty).  The Mapping's ``.path`` is the file, a
    ``pathlib.Path`` inside ``tmp_path``.
    """
    owned = _Owned()
    counter = iter(range(1_000_000))

    def make(
        content: bytes = b"",
        length: int | None = None,
        prot: int = RW,
        flags: int = MAP_SHARED,
        size: int | None = None,
        on_sigbus: str = "raise",
    ) -> Mapping:
        path = tmp_path / f"rawmmap-mapped-{next(counter)}"
        path.write_bytes(content)
        if size is not None:
            os.truncate(path, size)
        m = map_file(path, length, prot=prot, flags=flags, on_sigbus=on_sigbus)
        owned.mappings.append(m)
        m.path = path  # type: ignore[assignment]  # a Path, as tmp_path is (Mapping says str)
        return m

    yield make
    owned.close()


#: What ``sigbus_mapping(..., truncate_after=N)`` fills the file with before truncating it.
SIGBUS_FILL = 0xA5


@pytest.fixture
def sigbus_mapping(mapped_file: Callable[..., Mapping], page_size: int) -> Callable[..., Mapping]:
    """Factory: a MAP_SHARED mapping whose file is empty, or shrinks under it.

    ``sigbus_mapping(length=page_size, truncate_after=None)``: with
    ``truncate_after=None`` the backing file is empty, so every page faults;
    with ``truncate_after=N`` the file first holds ``length`` bytes of
    ``0xA5`` and is then truncated to ``N`` bytes under the live mapping.
    What survives: bytes ``[0, N)`` still read ``0xA5``; the rest of the page
    holding byte N reads as zeros (the kernel zeroes a partial page's tail);
    every page wholly past byte N faults.  Guarded access raises ``MappingFault`` (SIGBUS,
    BUS_ADRERR); raw access (``view()``, ctypes, C code) kills the process
    with SIGBUS — use ``@pytest.mark.isolated(expect_signal=signal.SIGBUS)``.

    ``on_sigbus="zero"`` makes a recovery-mode mapping instead: raw access to
    a page past the end reads zeros and is recorded in ``m.patched``;
    ``m.check()`` reports it.  Patches never checked make teardown warn
    (``rawmmap.PatchedPagesWarning``, an error under ``-W error``).
    """

    def make(
        length: int | None = None, truncate_after: int | None = None, on_sigbus: str = "raise"
    ) -> Mapping:
        length = page_size if length is None else length
        if truncate_after is None:
            return mapped_file(b"", length, on_sigbus=on_sigbus)
        m = mapped_file(bytes([SIGBUS_FILL]) * length, length, on_sigbus=on_sigbus)
        assert m.path is not None
        os.truncate(m.path, truncate_after)
        return m

    return make


class GuardPageBuffer(core.Window):
    """``length`` bytes placed against a ``PROT_NONE`` guard page.

    ``address`` is where the data starts; ``memoryview(b)`` (every Python:
    it is a C buffer exporter counted in its Mapping's exports) or
    ``b.view()`` is a writable zero-copy view of exactly the data (numpy:
    ``numpy.frombuffer(b, dtype)``; ctypes:
    ``(ctypes.c_char * len(b)).from_address(b.address)``).  One byte past
    the end (``side="after"``) or before the start (``side="before"``) is in
    the guard page: any access there faults at once.  ``mapping`` is the
    whole Mapping (data pages and guard page).
    """

    __slots__ = ("side",)
    side: str

    def __new__(cls, mapping: Mapping, start: int, length: int, side: str) -> GuardPageBuffer:
        self = super().__new__(cls, mapping, start, length)
        self.side = side
        return self

    def view(self) -> memoryview:
        return memoryview(self)

    def __bytes__(self) -> bytes:
        return self.mapping.read(self.address - self.mapping.address, self.length)

    def __repr__(self) -> str:
        return f"<GuardPageBuffer {self.length} bytes at {self.address:#x}, guard {self.side}>"


@pytest.fixture
def guard_page_buffer(page_size: int) -> Iterator[Callable[..., GuardPageBuffer]]:
    """Factory: ``guard_page_buffer(data, side="after") -> GuardPageBuffer`` (Electric Fence).

    ``data`` (bytes-like, or an int: that many zero bytes) is copied so that
    its last byte is the last byte of a page followed by a ``PROT_NONE`` page
    (``side="after"``), or its first byte is the first of a page preceded by
    one (``side="before"``).  An over-read or over-write by code under test
    faults right away instead of silently touching neighbouring memory.
    """
    owned = _Owned()

    def make(data: bytes | bytearray | memoryview | int, side: str = "after") -> GuardPageBuffer:
        if side not in ("after", "before"):
            raise ValueError(f"side must be 'after' or 'before', got {side!r}")
        payload = bytes(data)
        n = len(payload)
        data_pages = max(1, -(-n // page_size))
        m = map_anonymous((data_pages + 1) * page_size)
        owned.mappings.append(m)
        if side == "after":
            start = data_pages * page_size - n
            guard = m.address + data_pages * page_size
        else:
            start = page_size
            guard = m.address
        m.write(start, payload)
        mprotect(guard, page_size, PROT_NONE)
        return GuardPageBuffer(m, start, n, side)

    yield make
    owned.close()


@dataclass
class MemFD:
    """An anonymous file from ``memfd_create``: ``.fd`` and ``.path`` (``/proc/self/fd/N``)."""

    fd: int
    name: str

    @property
    def path(self) -> str:
        return f"/proc/self/fd/{self.fd}"


@pytest.fixture
def memfd(request: pytest.FixtureRequest) -> Iterator[MemFD]:
    """An anonymous file (memfd_create(2)) named after the test; closed at teardown."""
    name = f"rawmmap-{request.node.name}"[:240]
    f = MemFD(memfd_create(name, VALUES.get("MFD_CLOEXEC", 0)), name)
    yield f
    os.close(f.fd)


@pytest.fixture
def shared_anon(page_size: int) -> Iterator[Mapping]:
    """One page of ``MAP_SHARED|MAP_ANONYMOUS`` memory, shared with children the test forks."""
    owned = _Owned()
    m = map_anonymous(page_size, flags=MAP_SHARED)
    owned.mappings.append(m)
    yield m
    owned.close()


# -- the isolated marker ---------------------------------------------------------


def _in_child(test: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[str, str, str]:
    """Run in the isolated child: the test, and how it ended as (kind, message, traceback).

    The child formats its own exception, so the parent reports it as pytest
    would have, with the child's stdout and stderr, and nothing of the plugin.
    """
    try:
        test(**kwargs)
    except BaseException as exc:
        outcomes: dict[type[BaseException], str] = {
            pytest.skip.Exception: "skip", pytest.xfail.Exception: "xfail",
            pytest.fail.Exception: "fail",
        }  # fmt: skip
        kind = outcomes.get(type(exc), "raised")
        if kind != "raised":
            return kind, str(exc.msg) if hasattr(exc, "msg") else str(exc), ""
        frames = traceback.extract_tb(exc.__traceback__)[1:]  # without this function's frame
        message = "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n")
        text = "".join(traceback.format_list(frames)).rstrip("\n")
        return kind, message, text
    return "passed", "", ""


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    marker = pyfuncitem.get_closest_marker("isolated")
    if marker is None:
        return None
    from ._isolate import run_isolated

    expect = marker.kwargs.get("expect_signal")
    timeout = marker.kwargs.get("timeout", pyfuncitem.config.getoption("rawmmap_isolated_timeout"))
    # the test function's own arguments (fixtures and parameters), as pytest would pass them
    names = inspect.signature(pyfuncitem.obj).parameters
    kwargs = {name: pyfuncitem.funcargs[name] for name in names if name in pyfuncitem.funcargs}
    try:
        outcome = run_isolated(_in_child, pyfuncitem.obj, kwargs, timeout=timeout)
    except TimeoutError:
        outcome = None
    if outcome is None:  # outside the except: no "during handling of" chain in the report
        pytest.fail(f"the isolated test did not finish within {timeout} s; "
                    "its process was killed with SIGKILL", pytrace=False)  # fmt: skip
    sys.stdout.write(outcome.stdout)
    sys.stderr.write(outcome.stderr)
    if outcome.signal is not None:
        if expect is not None and outcome.signal == signal.Signals(expect):
            return True
        pytest.fail(f"the isolated test process was {outcome.describe()}", pytrace=False)
    if outcome.exitcode:
        pytest.fail(f"the isolated test process {outcome.describe()}", pytrace=False)
    kind, message, text = outcome.returned
    if expect is not None:
        ended = "returned None" if kind == "passed" else f"ended with {message}"
        pytest.fail(f"expected the isolated test to die of {signal.Signals(expect).name}, "
                    f"but it {ended}", pytrace=False)  # fmt: skip
    if kind == "skip":
        pytest.skip(message)
    if kind == "xfail":
        pytest.xfail(message)
    if kind == "fail":
        pytest.fail(message, pytrace=False)
    if kind == "raised":
        # the exception first (pytest's summary line shows it), then where, in the child
        pytest.fail(f"{message}\n\nin the isolated child process:\n"
                    f"Traceback (most recent call last):\n{text}", pytrace=False)  # fmt: skip
    return True
