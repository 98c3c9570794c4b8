"""Introspection against the kernel's own reports: /proc maps and status, mincore, getrusage."""

from __future__ import annotations

import os
import pathlib

import rawmmap
from rawmmap import MAP_SHARED, PROT_READ
from rawmmap._introspect import bar, status

P = rawmmap.PAGESIZE


def test_vmas_parse_every_line_of_proc_maps() -> None:
    areas = rawmmap.vmas()
    lines = pathlib.Path("/proc/self/maps").read_text().splitlines()
    assert abs(len(areas) - len(lines)) <= 2  # reading the file may itself allocate
    assert any(v.path == "[stack]" for v in areas)
    assert all(v.start < v.end and len(v.perms) == 4 for v in areas)


def test_shared_anonymous_memory_is_dev_zero_deleted_verbatim() -> None:
    with rawmmap.map_anonymous(3 * P, flags=MAP_SHARED, prot=PROT_READ) as m:
        vma = rawmmap.vma_for(m.address)
        assert vma is not None
        assert vma.path == "/dev/zero (deleted)" and vma.perms == "r--s"
        assert (vma.start, vma.size) == (m.address, 3 * P)
        assert m.address + 3 * P - 1 in vma and m.address + 3 * P not in vma
        assert vma.line().startswith(f"{m.address:08x}-{m.address + 3 * P:08x} r--s ")


def test_memfd_and_file_paths(tmp_path: pathlib.Path) -> None:
    fd = rawmmap.memfd_create("introspect")
    try:
        rawmmap.ftruncate(fd, P)
        with rawmmap.map_file(fd) as m:
            vma = rawmmap.vma_for(m.address)
            assert vma is not None and vma.path == "/memfd:introspect (deleted)"
            assert vma.inode == os.fstat(fd).st_ino
    finally:
        os.close(fd)
    path = tmp_path / "data"
    path.write_bytes(bytes(2 * P))
    with rawmmap.map_file(path, offset=P, length=P) as m:
        vma = rawmmap.vma_for(m.address)
        assert vma is not None and vma.path == str(path) and vma.offset == P
        assert vma.inode == path.stat().st_ino


def test_vmas_of_another_pid_and_nothing_mapped() -> None:
    assert rawmmap.vmas(os.getpid())[0].start == rawmmap.vmas()[0].start
    assert rawmmap.vma_for(0) is None


def test_fault_counts_see_first_touches() -> None:
    with rawmmap.map_anonymous(32 * P) as m:
        m.advise(rawmmap.MADV_NOHUGEPAGE)
        with rawmmap.fault_counts() as faults:
            rawmmap.touch(m.address, 32 * P, write=True)
        assert faults.minor >= 32 and faults.major == 0
        with rawmmap.fault_counts() as again:
            rawmmap.touch(m.address, 32 * P, write=True)
        assert again.minor < 4  # already resident: no new faults


def test_file_residency_and_status(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(4 * P))
    with rawmmap.map_file(path) as m:
        m.advise(rawmmap.MADV_WILLNEED)
        m[0 : 4 * P] = b"x" * (4 * P)  # dirty, so cached
        r = rawmmap.file_residency(path)
        assert (r.size, r.total, r.resident) == (4 * P, 4, 4)
    assert rawmmap.file_residency(tmp_path / "f").total == 4
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert rawmmap.file_residency(empty).pages == []
    vm = status()
    assert vm["VmRSS"] > 0 and "VmLck" in vm
    assert bar([True, False, True, True], width=4) == "#.##"
    assert bar([True, False] * 40, width=40) == "+" * 40


def test_vma_repr_shows_addresses_in_hex() -> None:
    # shared anonymous memory is a VMA of its own (private rw-p ones may merge with neighbours)
    with rawmmap.map_anonymous(P, flags=MAP_SHARED, prot=PROT_READ) as m:
        vma = rawmmap.vma_for(m.address)
        assert vma is not None
        assert repr(vma).startswith(
            f"VMA(start={m.address:#x}, end={m.address + P:#x}, perms='r--s', offset=0x0, "
        )
        assert eval(repr(vma), {"VMA": rawmmap.VMA}) == vma


def test_fault_counts_and_residency_are_public_types(tmp_path: pathlib.Path) -> None:
    with rawmmap.fault_counts() as counts:
        pass
    assert type(counts) is rawmmap.FaultCounts
    f = tmp_path / "f"
    f.write_bytes(b"x")
    assert type(rawmmap.file_residency(f)) is rawmmap.Residency
