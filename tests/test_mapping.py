"""The Mapping object: one mmap, guarded access, tracked views, idempotent close."""

from __future__ import annotations

import gc
import os
import pathlib
import sys

import numpy as np
import pytest

import rawmmap
from rawmmap import MADV_DONTNEED, MAP_SHARED, MS_ASYNC, MS_SYNC, PROT_READ, PROT_WRITE

PAGE = rawmmap.PAGESIZE


def maps_lines() -> int:
    return pathlib.Path("/proc/self/maps").read_text().count("\n")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_mapping_records_its_call_and_reads_back_zero() -> None:
    with rawmmap.Mapping(PAGE) as m:
        assert (m.length, m.prot, m.flags, m.fd, m.offset) == (
            PAGE, PROT_READ | PROT_WRITE, rawmmap.MAP_PRIVATE | rawmmap.MAP_ANONYMOUS, -1, 0,
        )  # fmt: skip
        assert m.address % PAGE == 0 and len(m) == PAGE and not m.closed
        assert m[0:16] == bytes(16)
        assert "MAP_PRIVATE|MAP_ANONYMOUS" in repr(m)
    assert m.closed


def test_indexing_slicing_and_assignment() -> None:
    with rawmmap.map_anonymous(100) as m:
        m[0] = 65
        m[-1] = 66
        assert m[0] == 65 and m[99] == 66 and m[-1] == 66
        m[10:15] = b"hello"
        assert m[10:15] == b"hello"
        assert m[10:15:2] == b"hlo"
        assert m[14:9:-1] == b"olleh"
        m[20:26:2] = b"abc"
        assert m[20:26] == b"a\0b\0c\0"
        m.write(50, bytearray(b"xyz"))
        assert m.read(50, 3) == b"xyz"
        with pytest.raises(IndexError):
            m[100]
        with pytest.raises(IndexError):
            m[0:3] = b"toolong"
        with pytest.raises(IndexError):
            m.write(98, b"abc")
        with pytest.raises(IndexError):
            m.read(-1, 2)
        with pytest.raises(ValueError, match="range"):
            m[0] = 256
        with pytest.raises(TypeError):
            m[0] = b"a"  # type: ignore[call-overload]
        with pytest.raises(TypeError):
            m["a"]  # type: ignore[call-overload]


def test_view_is_zero_copy_and_blocks_close() -> None:
    m = rawmmap.map_anonymous(PAGE)
    view = m.view()
    view[0:3] = b"abc"
    assert m[0:3] == b"abc"  # same memory
    m[3] = ord("d")
    assert bytes(view[0:4]) == b"abcd"
    part = view[1:3]
    del view
    with pytest.raises(BufferError):
        m.close()  # a slice of the view still uses the memory
    assert not m.closed and m[0] == ord("a")
    part.release()
    m.close()
    assert m.closed


def test_numpy_array_from_a_view_blocks_close() -> None:
    m = rawmmap.map_anonymous(PAGE)
    arr = np.frombuffer(m.view(), dtype=np.uint32)
    arr[0] = 0xDEADBEEF
    assert m[0:4] == (0xDEADBEEF).to_bytes(4, sys.byteorder)
    with pytest.raises(BufferError):
        m.close()
    del arr
    gc.collect()
    m.close()


def test_dropped_mapping_stays_mapped_while_a_view_lives() -> None:
    view = rawmmap.map_anonymous(PAGE).view()
    gc.collect()
    view[0] = 1  # the Mapping is kept alive by its exporter: no crash
    assert view[0] == 1
    view.release()


def test_read_only_mapping_gives_read_only_view(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"data".ljust(PAGE, b"."))
    with rawmmap.map_file(path, prot=PROT_READ) as m:
        view = m.view()
        assert view.readonly and bytes(view[:4]) == b"data"
        view.release()


def test_memoryview_of_mapping_on_every_python() -> None:
    m = rawmmap.map_anonymous(PAGE)  # a C buffer exporter: no PEP 688 needed
    view = memoryview(m)
    view[0] = 9
    assert m[0] == 9
    with pytest.raises(BufferError):
        m.close()
    view.release()
    m.close()


def test_closed_mapping_refuses_everything_and_close_is_idempotent() -> None:
    m = rawmmap.map_anonymous(PAGE)
    m.close()
    m.close()
    for op in (lambda: m[0], lambda: m.read(0, 1), lambda: m.write(0, b"x"), m.view,
               m.sync, lambda: m.protect(PROT_READ), lambda: m.advise(MADV_DONTNEED),
               m.lock, m.unlock, m.residency, lambda: len(m)):  # fmt: skip
        with pytest.raises(ValueError, match="closed"):
            op()


def test_sync_protect_advise_lock_residency(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(4 * PAGE))
    with rawmmap.map_file(path) as m:
        assert m.flags == MAP_SHARED and m.path == str(path)
        m[PAGE + 5 : PAGE + 10] = b"hello"
        m.sync(MS_ASYNC, offset=PAGE + 5, length=5)
        m.sync()
        assert os.pread(m.fd, 5, PAGE + 5) == b"hello"
        with pytest.raises(OSError) as info:
            m.sync(MS_SYNC | MS_ASYNC)
        assert "MS_SYNC|MS_ASYNC" in str(info.value)
        m.protect(PROT_READ)
        assert m.prot == PROT_READ
        with pytest.raises(rawmmap.MappingFault):
            m[0] = 1
        m.advise(rawmmap.MADV_WILLNEED)
        m.lock()
        assert m.residency() == [True] * 4
        m.unlock()


def test_residency_follows_touches() -> None:
    with rawmmap.map_anonymous(4 * PAGE) as m:
        assert m.residency() == [False] * 4
        m[2 * PAGE] = 1
        assert m.residency() == [False, False, True, False]


def test_map_file_owns_a_path_fd_but_not_a_given_fd(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    before = open_fds()
    m = rawmmap.map_file(path)
    assert len(m) == 3 and m[0:3] == b"abc" and open_fds() == before + 1
    m.close()
    assert open_fds() == before

    fd = os.open(path, os.O_RDWR)
    with rawmmap.map_file(fd) as m:
        assert m.fd == fd and m.path is None
    os.fstat(fd)  # still open
    os.close(fd)


def test_map_file_maps_an_empty_file_and_past_eof(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with rawmmap.map_file(path) as m:
        assert len(m) == PAGE  # length=None on an empty file maps one page
        with pytest.raises(rawmmap.MappingFault):
            m[0]
    with rawmmap.map_file(path, 3 * PAGE) as m:
        assert len(m) == 3 * PAGE


def test_map_file_failure_closes_what_it_opened(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    before = open_fds()
    with pytest.raises(OSError):
        rawmmap.map_file(path, offset=1)  # unaligned offset: EINVAL
    assert open_fds() == before


def test_no_leak_after_many_cycles(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(PAGE))
    lines, fds = maps_lines(), open_fds()
    for _ in range(300):
        with rawmmap.map_anonymous(PAGE) as m:
            m[0] = 1
        with rawmmap.map_file(path) as m:
            m[0] = 1
            m.view().release()
    assert (maps_lines(), open_fds()) == (lines, fds)


def test_failed_mapping_raises_oserror_and_leaves_nothing() -> None:
    lines = maps_lines()
    with pytest.raises(OSError) as info:
        rawmmap.Mapping(0)
    assert info.value.errno == 22
    assert maps_lines() == lines


def test_remap_grows_and_shrinks_keeping_data() -> None:
    with rawmmap.map_anonymous(PAGE) as m:
        m[0:5] = b"hello"
        m.remap(4 * PAGE)
        assert len(m) == 4 * PAGE and m[0:5] == b"hello" and m[3 * PAGE] == 0
        m[4 * PAGE - 1] = 1
        m.remap(PAGE, may_move=False)
        assert len(m) == PAGE and m[0:5] == b"hello"
        view = m.view()
        with pytest.raises(BufferError):
            m.remap(2 * PAGE)
        view.release()


def test_pages_and_html_of_a_mapping() -> None:
    with rawmmap.map_anonymous(4 * PAGE) as m:
        m[PAGE] = 1  # touch the second page only
        states = [p.present for p in m.pages()]
        assert states == [False, True, False, False]
        html = m._repr_html_()
        assert html.count("data-state=") >= 4 and "<svg" in html
    with pytest.raises(ValueError, match="closed"):
        m.pages()
