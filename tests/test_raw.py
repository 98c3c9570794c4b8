"""The raw layer against the real kernel and against C (tests/c/errno_cases.c)."""

from __future__ import annotations

import errno
import os
import pathlib
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import rawmmap
from rawmmap import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_PRIVATE,
    MAP_SHARED,
    MREMAP_MAYMOVE,
    MS_ASYNC,
    MS_SYNC,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)

PAGE = rawmmap.PAGESIZE
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


@dataclass
class Scene:
    """The same starting point as errno_cases.c sets up."""

    fd: int  # a 2-page file open read-write
    rofd: int  # a 1-page file open read-only
    pipe_r: int
    area: int  # 3 pages, the middle one unmapped
    bad_fd: int = 9999


@pytest.fixture
def scene(tmp_path: pathlib.Path) -> Iterator[Scene]:
    fd = os.open(tmp_path / "data", os.O_RDWR | os.O_CREAT, 0o600)
    os.ftruncate(fd, 2 * PAGE)
    (tmp_path / "readonly").write_bytes(b"\0" * PAGE)
    rofd = os.open(tmp_path / "readonly", os.O_RDONLY)
    r, w = os.pipe()
    area = rawmmap.mmap(0, 3 * PAGE, RW, ANON, -1, 0)
    rawmmap.munmap(area + PAGE, PAGE)
    yield Scene(fd, rofd, r, area)
    rawmmap.munmap(area, 3 * PAGE)
    for f in (fd, rofd, r, w):
        os.close(f)


def _grow_into_neighbour(s: Scene) -> object:
    p = rawmmap.mmap(0, 2 * PAGE, PROT_READ, ANON, -1, 0)
    try:
        return rawmmap.mremap(p, PAGE, 2 * PAGE, 0)
    finally:
        rawmmap.munmap(p, 2 * PAGE)


# Each case does what the C program's case of the same name does.
CASES: dict[str, Callable[[Scene], object]] = {
    "mmap_length_0": lambda s: rawmmap.mmap(0, 0, RW, ANON, -1, 0),
    "mmap_unaligned_offset": lambda s: rawmmap.mmap(0, PAGE, PROT_READ, MAP_SHARED, s.fd, 1),
    "mmap_no_map_type": lambda s: rawmmap.mmap(0, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0),
    "mmap_fixed_unaligned": lambda s: rawmmap.mmap(
        s.area + 1, PAGE, PROT_READ, ANON | MAP_FIXED, -1, 0
    ),
    "mmap_bad_fd": lambda s: rawmmap.mmap(0, PAGE, PROT_READ, MAP_SHARED, s.bad_fd, 0),
    "mmap_write_shared_readonly_fd": lambda s: rawmmap.mmap(0, PAGE, RW, MAP_SHARED, s.rofd, 0),
    "mmap_pipe": lambda s: rawmmap.mmap(0, PAGE, PROT_READ, MAP_SHARED, s.pipe_r, 0),
    "mmap_fixed_noreplace_existing": lambda s: rawmmap.mmap(
        s.area, PAGE, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0
    ),
    "munmap_unaligned": lambda s: rawmmap.munmap(s.area + 1, PAGE),
    "munmap_length_0": lambda s: rawmmap.munmap(s.area, 0),
    "mprotect_unmapped": lambda s: rawmmap.mprotect(s.area + PAGE, PAGE, PROT_READ),
    "mprotect_unaligned": lambda s: rawmmap.mprotect(s.area + 1, PAGE, PROT_READ),
    "msync_sync_and_async": lambda s: rawmmap.msync(s.area, PAGE, MS_SYNC | MS_ASYNC),
    "msync_unmapped": lambda s: rawmmap.msync(s.area + PAGE, PAGE, MS_SYNC),
    "ftruncate_readonly_fd": lambda s: rawmmap.ftruncate(s.rofd, 0),
    "ftruncate_bad_fd": lambda s: rawmmap.ftruncate(s.bad_fd, 0),
    "ftruncate_negative": lambda s: rawmmap.ftruncate(s.fd, -1),
    "madvise_invalid_advice": lambda s: rawmmap.madvise(s.area, PAGE, 999),
    "madvise_unmapped": lambda s: rawmmap.madvise(s.area + PAGE, PAGE, rawmmap.MADV_WILLNEED),
    "mincore_unaligned": lambda s: rawmmap.mincore(s.area + 1, PAGE),
    "mincore_unmapped": lambda s: rawmmap.mincore(s.area + PAGE, PAGE),
    "mlock_unmapped": lambda s: rawmmap.mlock(s.area + PAGE, PAGE),
    "munlock_unmapped": lambda s: rawmmap.munlock(s.area + PAGE, PAGE),
    "mremap_unaligned": lambda s: rawmmap.mremap(s.area + 1, PAGE, 2 * PAGE, MREMAP_MAYMOVE),
    "mremap_grow_into_neighbour": _grow_into_neighbour,
    "memfd_create_long_name": lambda s: rawmmap.memfd_create("x" * 299, 0),
    "memfd_create_bad_flags": lambda s: rawmmap.memfd_create("x", 0x10000000),
}

# What the kernel is documented to answer; the C program is the judge, this
# table only guards against C and rawmmap agreeing on "it worked".
EXPECTED = {
    "mmap_length_0": errno.EINVAL, "mmap_unaligned_offset": errno.EINVAL,
    "mmap_no_map_type": errno.EINVAL, "mmap_fixed_unaligned": errno.EINVAL,
    "mmap_bad_fd": errno.EBADF, "mmap_write_shared_readonly_fd": errno.EACCES,
    "mmap_pipe": errno.ENODEV, "mmap_fixed_noreplace_existing": errno.EEXIST,
    "munmap_unaligned": errno.EINVAL, "munmap_length_0": errno.EINVAL,
    "mprotect_unmapped": errno.ENOMEM, "mprotect_unaligned": errno.EINVAL,
    "msync_sync_and_async": errno.EINVAL, "msync_unmapped": errno.ENOMEM,
    "ftruncate_readonly_fd": errno.EINVAL, "ftruncate_bad_fd": errno.EBADF,
    "ftruncate_negative": errno.EINVAL, "madvise_invalid_advice": errno.EINVAL,
    "madvise_unmapped": errno.ENOMEM, "mincore_unaligned": errno.EINVAL,
    "mincore_unmapped": errno.ENOMEM, "mlock_unmapped": errno.ENOMEM,
    "munlock_unmapped": errno.ENOMEM, "mremap_unaligned": errno.EINVAL,
    "mremap_grow_into_neighbour": errno.ENOMEM, "memfd_create_long_name": errno.EINVAL,
    "memfd_create_bad_flags": errno.EINVAL,
}  # fmt: skip


@pytest.fixture(scope="module")
def c_errnos(
    c_program: Callable[[str], pathlib.Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, int]:
    out = subprocess.run(
        [str(c_program("errno_cases")), str(tmp_path_factory.mktemp("c-scratch"))],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {name: int(code) for name, code in (line.split() for line in out.splitlines())}


def test_c_program_covers_every_case(c_errnos: dict[str, int]) -> None:
    assert set(c_errnos) == set(CASES) == set(EXPECTED)


@pytest.mark.parametrize("case", sorted(CASES))
def test_errno_matches_c(case: str, scene: Scene, c_errnos: dict[str, int]) -> None:
    with pytest.raises(OSError) as info:
        CASES[case](scene)
    assert info.value.errno == c_errnos[case] == EXPECTED[case]
    func = "memfd_create" if case.startswith("memfd") else case.split("_")[0]
    assert str(info.value).startswith(func + "(")
    assert f"[Errno {info.value.errno}] {os.strerror(info.value.errno)}" in str(info.value)


def test_error_message_spells_the_call_as_c(scene: Scene) -> None:
    with pytest.raises(PermissionError) as info:
        rawmmap.mmap(0, 4096, RW, MAP_SHARED, scene.rofd, 0)
    assert str(info.value) == (
        f"mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, {scene.rofd}, 0): "
        "[Errno 13] Permission denied"
    )
    assert info.value.errno == errno.EACCES
    assert info.value.strerror == os.strerror(errno.EACCES)


def test_errno_picks_python_subclass(scene: Scene) -> None:
    with pytest.raises(FileExistsError):
        rawmmap.mmap(scene.area, PAGE, PROT_READ, ANON | MAP_FIXED_NOREPLACE, -1, 0)


def test_error_pickles_with_its_message(scene: Scene) -> None:
    import pickle

    with pytest.raises(OSError) as info:
        rawmmap.munmap(scene.area + 1, PAGE)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value)
    assert isinstance(again, OSError) and again.errno == errno.EINVAL


def test_mmap_write_msync_reaches_file(tmp_path: pathlib.Path) -> None:
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        rawmmap.ftruncate(fd, PAGE)
        assert os.fstat(fd).st_size == PAGE
        addr = rawmmap.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
        rawmmap.write(addr + 100, b"hello")
        rawmmap.msync(addr, PAGE, MS_SYNC)
        assert os.pread(fd, 5, 100) == b"hello"
        rawmmap.munmap(addr, PAGE)
    finally:
        os.close(fd)


def test_mmap_returns_usable_anonymous_zeroed_memory() -> None:
    addr = rawmmap.mmap(0, 2 * PAGE, RW, ANON, -1, 0)
    assert addr % PAGE == 0
    assert rawmmap.read(addr, 2 * PAGE) == bytes(2 * PAGE)
    rawmmap.munmap(addr, 2 * PAGE)


def test_mprotect_and_madvise_succeed() -> None:
    addr = rawmmap.mmap(0, PAGE, RW, ANON, -1, 0)
    rawmmap.write(addr, b"x")
    rawmmap.mprotect(addr, PAGE, PROT_READ)
    assert rawmmap.read(addr, 1) == b"x"
    rawmmap.madvise(addr, PAGE, rawmmap.MADV_DONTNEED)
    assert rawmmap.read(addr, 1) == b"\0"  # private anonymous: dropped pages read as zero
    rawmmap.mprotect(addr, PAGE, PROT_NONE)
    rawmmap.munmap(addr, PAGE)


def test_mincore_mlock_munlock() -> None:
    addr = rawmmap.mmap(0, 4 * PAGE, RW, ANON, -1, 0)
    assert rawmmap.mincore(addr, 4 * PAGE) == bytes(4)  # nothing touched yet
    rawmmap.write(addr + 2 * PAGE, b"x")
    assert [b & 1 for b in rawmmap.mincore(addr, 4 * PAGE)] == [0, 0, 1, 0]
    rawmmap.mlock(addr, 4 * PAGE)
    assert [b & 1 for b in rawmmap.mincore(addr, 4 * PAGE)] == [1, 1, 1, 1]
    rawmmap.munlock(addr, 4 * PAGE)
    rawmmap.munmap(addr, 4 * PAGE)


@pytest.mark.parametrize("new_pages", [1, 4])
def test_mremap_shrink_and_grow_keep_data(new_pages: int) -> None:
    addr = rawmmap.mmap(0, 2 * PAGE, RW, ANON, -1, 0)
    rawmmap.write(addr, b"first")
    rawmmap.write(addr + PAGE - 4, b"last")
    moved = rawmmap.mremap(addr, 2 * PAGE, new_pages * PAGE, MREMAP_MAYMOVE)
    assert rawmmap.read(moved, 5) == b"first"
    assert rawmmap.read(moved + PAGE - 4, 4) == b"last"
    if new_pages > 2:
        assert rawmmap.read(moved + 2 * PAGE, PAGE) == bytes(PAGE)
    rawmmap.munmap(moved, new_pages * PAGE)


def test_memfd_create_gives_a_file() -> None:
    fd = rawmmap.memfd_create("rawmmap-test", rawmmap.MFD_CLOEXEC)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == "/memfd:rawmmap-test (deleted)"
        rawmmap.ftruncate(fd, PAGE)
        assert os.fstat(fd).st_size == PAGE
    finally:
        os.close(fd)


def test_map_fixed_places_exactly_and_noreplace_refuses() -> None:
    reserve = rawmmap.mmap(0, 4 * PAGE, PROT_NONE, ANON, -1, 0)
    placed = rawmmap.mmap(reserve + PAGE, PAGE, RW, ANON | MAP_FIXED, -1, 0)
    assert placed == reserve + PAGE
    rawmmap.write(placed, b"x")
    with pytest.raises(FileExistsError):
        rawmmap.mmap(reserve + PAGE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0)
    rawmmap.munmap(reserve, 4 * PAGE)


# -- what C could not express: refused before any call -------------------------


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: rawmmap.mmap(0, -1, RW, ANON, -1, 0), ValueError, "length must be >= 0"),
        (lambda: rawmmap.mmap(0, 4096.0, RW, ANON, -1, 0), TypeError, "length must be an integer"),
        (lambda: rawmmap.mmap(0, "4096", RW, ANON, -1, 0), TypeError, "length must be an integer"),
        (lambda: rawmmap.mmap(None, 4096, RW, ANON, -1, 0), TypeError, "addr must be an integer"),
        (lambda: rawmmap.mmap(-4096, 4096, RW, ANON, -1, 0), ValueError, "addr must be >= 0"),
        (
            lambda: rawmmap.mmap(0, 2**64, RW, ANON, -1, 0),
            ValueError,
            "length must fit in a size_t",
        ),
        (lambda: rawmmap.mmap(0, 4096, 2**31, ANON, -1, 0), ValueError, "prot must fit in a C int"),
        (
            lambda: rawmmap.mmap(0, 4096, RW, ANON, -1, 2**63),
            ValueError,
            "offset must fit in an off_t",
        ),
        (lambda: rawmmap.munmap(0, float("nan")), TypeError, "length must be an integer"),
        (lambda: rawmmap.msync(0, -5, MS_SYNC), ValueError, "length must be >= 0"),
        (lambda: rawmmap.ftruncate("3", 0), TypeError, "fd must be an integer"),
        (lambda: rawmmap.ftruncate(0, 2**63), ValueError, "length must fit in an off_t"),
        (lambda: rawmmap.mremap(0, -1, 1, 0), ValueError, "old_size must be >= 0"),
        (lambda: rawmmap.memfd_create(3.0), TypeError, "name must be str, bytes or an int"),
        (lambda: rawmmap.memfd_create("a\0b"), ValueError, "NUL"),
        (lambda: rawmmap.memfd_create("a", -1), ValueError, "flags must be >= 0"),
    ],
)
def test_inexpressible_arguments_are_refused(
    call: Callable[[], object], exc: type[Exception], words: str
) -> None:
    before = pathlib.Path("/proc/self/maps").read_text().count("\n")
    with pytest.raises(exc, match=words):
        call()
    assert pathlib.Path("/proc/self/maps").read_text().count("\n") == before


def test_numpy_integers_and_enums_are_accepted() -> None:
    import numpy as np

    addr = rawmmap.mmap(0, np.int64(PAGE), rawmmap.Prot.READ | rawmmap.Prot.WRITE,
                        rawmmap.Map.PRIVATE | rawmmap.Map.ANONYMOUS, -1, 0)  # fmt: skip
    rawmmap.munmap(addr, np.uint32(PAGE))
