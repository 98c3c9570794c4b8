"""rawmmap.pages / clear_soft_dirty against the kernel and a C program reading its own pagemap."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import rawmmap
from rawmmap._pages import flag_names, soft_dirty_works

from .privilege import become_nobody, pr_set_dumpable

P = rawmmap.PAGESIZE
ROOT = os.geteuid() == 0
NEEDS_ROOT = pytest.mark.skipif(not ROOT, reason="PFNs and /proc/kpageflags need CAP_SYS_ADMIN")


@dataclass
class CPage:
    entry: int
    decoded: tuple[bool, bool, bool, bool, bool]  # present swapped file exclusive soft_dirty
    pfn: int


@dataclass
class CRun:
    proc: subprocess.Popen[str]
    ranges: dict[str, int]  # kind -> address
    pages: dict[str, list[CPage]]


@pytest.fixture
def c_pagemap(c_program: Callable[[str], pathlib.Path], tmp_path: pathlib.Path) -> Iterator[CRun]:
    """tests/c/pagemap_self.c after its access pattern, waiting for us to look."""
    proc = subprocess.Popen(
        [str(c_program("pagemap_self")), str(tmp_path / "file")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    run = CRun(proc, {}, {"anon": [], "file": []})
    for line in proc.stdout:
        fields = line.split()
        if fields == ["ready"]:
            break
        if len(fields) == 2:
            run.ranges[fields[0]] = int(fields[1])
        else:
            bits = tuple(f == "1" for f in fields[3:8])
            run.pages[fields[0]].append(CPage(int(fields[2], 16), bits, int(fields[8])))  # type: ignore[arg-type]
    else:
        pytest.fail(f"pagemap_self ended early with {proc.wait()}")
    try:
        yield run
    finally:
        proc.stdin.write("done\n")
        proc.stdin.close()
        proc.stdout.close()
        assert proc.wait(timeout=10) == 0


def decoded(p: rawmmap.PageInfo) -> tuple[bool, bool, bool, bool, bool]:
    return (p.present, p.swapped, p.file_or_shared, p.exclusive, p.soft_dirty)


def same_pattern_here(tmp_path: pathlib.Path) -> tuple[rawmmap.Mapping, rawmmap.Mapping]:
    """The access pattern of pagemap_self.c, done by this process through rawmmap."""
    anon = rawmmap.map_anonymous(8 * P)
    anon.advise(rawmmap.MADV_NOHUGEPAGE)
    fd = os.open(tmp_path / "here", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.ftruncate(fd, 4 * P)
        file = rawmmap.map_file(fd)
    finally:
        os.close(fd)
    anon[0] = 1
    anon[2 * P] = 1
    anon[4 * P]  # the read maps the shared zero page
    file[0] = 1
    rawmmap.clear_soft_dirty()
    anon[2 * P] = 2
    return anon, file


def test_reading_the_c_program_decodes_exactly_what_it_decoded(c_pagemap: CRun) -> None:
    for kind, count in (("anon", 8), ("file", 4)):
        ours = rawmmap.pages(c_pagemap.ranges[kind], count * P, pid=c_pagemap.proc.pid)
        assert [p.address for p in ours] == [c_pagemap.ranges[kind] + i * P for i in range(count)]
        for mine, theirs in zip(ours, c_pagemap.pages[kind], strict=True):
            assert mine.entry == theirs.entry
            assert decoded(mine) == theirs.decoded
            assert (mine.pfn or 0) == theirs.pfn


def test_the_same_pattern_here_looks_as_it_does_in_c(
    c_pagemap: CRun, tmp_path: pathlib.Path
) -> None:
    anon, file = same_pattern_here(tmp_path)
    with anon, file:
        for m, kind in ((anon, "anon"), (file, "file")):
            ours = m_pages = rawmmap.pages(m.address, m.length)
            assert len(m_pages) == len(c_pagemap.pages[kind])
            for mine, theirs in zip(ours, c_pagemap.pages[kind], strict=True):
                assert decoded(mine) == theirs.decoded
                assert (mine.pfn is None) == (theirs.pfn == 0)
        # and what that means, in words
        states = [p.state for p in rawmmap.pages(anon.address, anon.length)]
        zero = "zero" if ROOT else "shared"  # only kpageflags can name the zero page
        assert states == ["private", "absent", "private", "absent", zero, "absent", "absent",
                          "absent"]  # fmt: skip
        assert [p.state for p in rawmmap.pages(file.address, file.length)] == [
            "file", "absent", "absent", "absent"
        ]  # fmt: skip


@NEEDS_ROOT
def test_root_sees_frames_their_flags_and_counts() -> None:
    with rawmmap.map_anonymous(2 * P) as m:
        m[0] = 1
        m[P]  # a read: the zero page
        written, zero = rawmmap.pages(m.address, m.length)
    assert written.pfn and zero.pfn and written.pfn != zero.pfn
    assert {"MMAP", "ANON"} <= set(written.flags.split("|"))
    assert "ZERO_PAGE" in zero.flags.split("|") and zero.state == "zero"
    assert written.mapcount == 1
    with open("/proc/self/maps") as maps:  # a file page: the interpreter's own text
        start = int(next(line for line in maps if " r-xp " in line).split("-")[0], 16)
    text = rawmmap.pages(start, P)[0]
    if text.present:
        assert text.file_or_shared and "ANON" not in text.flags.split("|")


def test_flag_names_come_from_the_header_and_unknown_bits_are_numbered() -> None:
    from rawmmap._constants import VALUES

    if "KPF_LRU" not in VALUES:
        pytest.skip("the build machine lacks <linux/kernel-page-flags.h>")
    assert flag_names(1 << VALUES["KPF_LRU"] | 1 << VALUES["KPF_ANON"]) == "LRU|ANON"
    assert flag_names(1 << 63) == "bit63"
    assert flag_names(0) == ""


def test_unprivileged_reader_sees_no_pfn(tmp_path: pathlib.Path) -> None:
    def look() -> tuple[bool, bool, int | None, int | None]:
        with rawmmap.map_anonymous(P) as m:
            m[0] = 1
            p = rawmmap.pages(m.address, P)[0]
        return p.present, p.exclusive, p.pfn, p.kflags

    if not ROOT:
        assert look() == (True, True, None, None)
        return
    # a root child gives up its privileges (to nobody), then reads its own pagemap
    option = pr_set_dumpable(tmp_path)

    def as_nobody() -> tuple[bool, bool, int | None, int | None]:
        become_nobody(option)
        return look()

    outcome = rawmmap.run_isolated(as_nobody, timeout=30)
    assert outcome.exitcode == 0, outcome
    assert outcome.returned == (True, True, None, None)


def test_copy_on_write_splits_the_frame_after_the_childs_write() -> None:
    with rawmmap.map_anonymous(2 * P) as m:
        m[0] = 1
        m[P] = 1
        go_r, go_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                os.read(go_r, 1)
                m[0] = 2
                os.write(done_w, b"x")
                os.read(go_r, 1)
            finally:
                os._exit(0)
        try:
            before_parent = rawmmap.pages(m.address, m.length)
            before_child = rawmmap.pages(m.address, m.length, pid=pid)
            os.write(go_w, b"x")
            os.read(done_r, 1)
            after_parent = rawmmap.pages(m.address, m.length)
            after_child = rawmmap.pages(m.address, m.length, pid=pid)
        finally:
            os.write(go_w, b"x")
            os.waitpid(pid, 0)
            for fd in (go_r, go_w, done_r, done_w):
                os.close(fd)
    # after fork both pages are mapped twice: nobody is exclusive
    assert [p.exclusive for p in before_parent + before_child] == [False] * 4
    # the child's write gave it its own copy of page 0: both sides exclusive again
    assert [p.exclusive for p in after_parent] == [True, False]
    assert [p.exclusive for p in after_child] == [True, False]
    if ROOT:
        assert [p.pfn for p in before_parent] == [p.pfn for p in before_child]
        assert after_parent[0].pfn == before_parent[0].pfn != after_child[0].pfn
        assert after_parent[1].pfn == after_child[1].pfn
        assert before_parent[0].mapcount == 2 and after_parent[0].mapcount == 1


@pytest.mark.skipif(not soft_dirty_works(), reason="kernel built without CONFIG_MEM_SOFT_DIRTY")
def test_soft_dirty_marks_the_pages_written_since_clearing() -> None:
    with rawmmap.map_anonymous(4 * P) as m:
        m.advise(rawmmap.MADV_NOHUGEPAGE)
        for i in range(4):
            m[i * P] = 1
        assert all(p.soft_dirty for p in rawmmap.pages(m.address, m.length))
        rawmmap.clear_soft_dirty()
        m[P] = 2
        assert [p.soft_dirty for p in rawmmap.pages(m.address, m.length)] == [
            False, True, False, False
        ]  # fmt: skip


def test_clear_soft_dirty_writes_clear_refs_of_a_process() -> None:
    rawmmap.clear_soft_dirty()  # this process
    child = subprocess.Popen(["sleep", "30"])
    try:
        rawmmap.clear_soft_dirty(child.pid)
    finally:
        child.kill()
        child.wait()
    with pytest.raises(FileNotFoundError):
        rawmmap.clear_soft_dirty(child.pid)  # reaped: no such process


def test_unmapped_partial_and_empty_ranges() -> None:
    with rawmmap.map_anonymous(3 * P) as m:
        m[P] = 1
        addr = m.address
        # an unaligned range covers every page it overlaps
        assert [p.address for p in rawmmap.pages(addr + P - 1, 2)] == [addr, addr + P]
        assert rawmmap.pages(addr + 5, 0) == []
    # unmapped now: the kernel reports absent pages
    assert [p.state for p in rawmmap.pages(addr, 3 * P)] == ["absent"] * 3
    top = rawmmap.pages(2**64 - P, P)  # beyond the user address space: absent too
    assert len(top) == 1 and not top[0].present


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("0x1000", P), TypeError, r"pages\(\): addr must be an integer, got str"),
        ((4096.0, P), TypeError, r"pages\(\): addr must be an integer, got float"),
        ((0, None), TypeError, r"pages\(\): length must be an integer, got NoneType"),
        ((0, P, "self"), TypeError, r"pages\(\): pid must be an integer, got str"),
        ((-1, P), ValueError, r"pages\(\): addr must be in 0\.\.2\*\*64-1, got -1"),
        ((0, -1), ValueError, r"pages\(\): length must be >= 0, got -1"),
        ((2**64 - P, 2 * P), ValueError, r"pages\(\): addr \+ length must not pass 2\*\*64"),
        ((0, P, 0), ValueError, r"pages\(\): pid must be a positive process id or None, got 0"),
    ],
)
def test_bad_arguments_are_refused_before_reading(
    args: tuple[object, ...], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        rawmmap.pages(*args)  # type: ignore[arg-type]


def test_clear_soft_dirty_refuses_a_bad_pid() -> None:
    with pytest.raises(ValueError, match=r"clear_soft_dirty\(\): pid must be a positive"):
        rawmmap.clear_soft_dirty(-5)
    with pytest.raises(TypeError, match=r"clear_soft_dirty\(\): pid must be an integer"):
        rawmmap.clear_soft_dirty(True)


def test_exported() -> None:
    for name in ("pages", "clear_soft_dirty", "PageInfo"):
        assert name in rawmmap.__all__
    info = rawmmap.pages(0, P)[0]
    assert isinstance(info, rawmmap.PageInfo)
    assert set(info.as_dict()) >= {"present", "pfn", "flags", "state"}


# -- rawmmap pages (the CLI) ----------------------------------------------------------


def test_cli_json_reports_the_states_of_a_range(capsys: pytest.CaptureFixture[str]) -> None:
    from rawmmap._cli import main

    with rawmmap.map_anonymous(4 * P) as m:
        m.advise(rawmmap.MADV_NOHUGEPAGE)
        m[P] = 1
        assert main(["pages", "--json", f"{m.address:#x}-{m.address + m.length:#x}"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pid"] == os.getpid()
    (area,) = report["ranges"]
    assert (area["start"], area["end"], area["path"]) == (m.address, m.address + 4 * P, "")
    assert [p["state"] for p in area["pages"]] == ["absent", "private", "absent", "absent"]
    assert [p["address"] for p in area["pages"]] == [m.address + i * P for i in range(4)]


def test_cli_text_shows_another_process_by_mapping_name(tmp_path: pathlib.Path) -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        for _ in range(100):  # until exec has mapped sleep
            if any(v.path.endswith("/sleep") for v in rawmmap.vmas(child.pid)):
                break
            subprocess.run(["true"], check=True)
        proc = subprocess.run(
            [sys.executable, "-m", "rawmmap", "pages", str(child.pid), "--mapping", "sleep"],
            capture_output=True,
            text=True,
        )
    finally:
        child.kill()
        child.wait()
    assert proc.returncode == 0, proc.stderr
    headers = [line for line in proc.stdout.splitlines() if "/sleep:" in line]
    assert headers and all("pages (" in line for line in headers)
    assert "f file" in proc.stdout.splitlines()[0]  # the legend
    lines = proc.stdout.splitlines()
    text = next(i for i, line in enumerate(lines) if " r-xp /" in line and "/sleep:" in line)
    assert "f" in lines[text + 1]  # the code executing right now is present, a file page
    # a private file mapping: file pages, or private copies where written (relocations)
    rows = [line.strip() for line in lines if line.startswith("  ")]
    assert set("".join(rows)) <= {".", "f", "#"}


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["pages", "xyz"], 2, "neither a PID nor a hex"),
        (["pages", "0xzz-0x10"], 2, "bad address range"),
        (["pages", "--mapping", "/no/such/file"], 1, "no mapping '/no/such/file'"),
    ],
)
def test_cli_refuses_what_it_cannot_read(
    argv: list[str], status: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from rawmmap._cli import main

    assert main(argv) == status
    assert message in capsys.readouterr().err
