"""The CLI: every lesson passes its own check; --json; maps and residency against /proc."""

from __future__ import annotations

import importlib.metadata
import json
import pathlib
import subprocess
import sys

import pytest

import rawmmap
from rawmmap._cli import main
from rawmmap._tour import demo_names

RAWMMAP = [sys.executable, "-m", "rawmmap"]
PAGE = rawmmap.PAGESIZE


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RAWMMAP, *args], capture_output=True, text=True, timeout=300)


def test_fifteen_lessons() -> None:
    assert len(demo_names()) == 15


@pytest.mark.parametrize("name", demo_names())
def test_each_lesson_passes_its_own_check(name: str) -> None:
    proc = run("demo", name, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    (lesson,) = report["lessons"]
    assert report["ok"] is lesson["ok"] is True
    assert lesson["name"] == name and lesson["checks"] and lesson["happened"]
    assert all(check["ok"] is not False for check in lesson["checks"])


def test_text_output_of_a_lesson_shows_calls_happened_why() -> None:
    proc = run("demo", "sigbus-empty-file", "--no-color")
    assert proc.returncode == 0
    out = proc.stdout
    assert "━━ 1. SIGBUS on an empty file ━━" in out
    assert "mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_SHARED, " in out
    assert "killed by SIGBUS (BUS_ADRERR)" in out
    assert "Why:" in out and "Read: mmap(2)" in out
    assert out.rstrip().endswith("The lesson behaved as taught.")
    assert "\033[" not in out


def test_demo_list_and_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == demo_names()
    assert main(["demo", "no-such-lesson"]) == 2
    assert "no demo 'no-such-lesson'" in capsys.readouterr().err
    assert main(["demo", "0"]) == 2 and main(["demo", str(len(demo_names()) + 1)]) == 2


def test_demo_takes_the_number_list_shows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--list", "--no-color"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[1].split()[:3] == ["2.", "past-eof", "Past"]
    assert main(["demo", "--list", "past-eof"]) == 0  # the name is not ignored
    assert capsys.readouterr().out.split() == ["2.", "past-eof", "Past", "EOF", "inside", "the",
                                               "last", "page"]  # fmt: skip
    assert main(["demo", "--list", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == ["past-eof"]
    proc = run("demo", "2", "--no-color")
    assert proc.returncode == 0 and "━━ 2. Past EOF inside the last page ━━" in proc.stdout


def test_demo_source_prints_the_lesson_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "sigbus-empty-file", "--source"]) == 0
    text = capsys.readouterr().out
    assert text.startswith('"""Lesson 1') and "def run(lesson: Lesson) -> None:" in text
    compile(text, "sigbus_empty_file.py", "exec")
    assert main(["demo", "7", "--source"]) == 0
    assert "MAP_FIXED_NOREPLACE" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["--json", "demo", "--list"], ["demo", "--json", "--list"], ["demo", "--list", "--json"]],
)
def test_global_options_work_before_and_after_the_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == demo_names()


def test_no_color_before_the_command() -> None:
    proc = subprocess.run(
        ["script", "-qec", " ".join([*RAWMMAP, "--no-color", "demo", "2"]), "/dev/null"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # through a terminal (script(1)), so colour would be on but for the option
    assert "━━ 2. Past EOF" in proc.stdout and "\033[" not in proc.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rawmmap {rawmmap.__version__}"
    assert importlib.metadata.version("rawmmap") == rawmmap.__version__


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "tour" in capsys.readouterr().out


MAPPER = r"""
import sys, rawmmap
m = rawmmap.map_file(sys.argv[1], 5 * rawmmap.PAGESIZE, prot=rawmmap.PROT_READ,
                     flags=rawmmap.MAP_SHARED)
print(m.address, flush=True)
sys.stdin.read()
"""


def test_maps_matches_proc_maps_of_another_process(tmp_path: pathlib.Path) -> None:
    data = tmp_path / "known-mapping.bin"
    data.write_bytes(bytes(5 * PAGE))
    child = subprocess.Popen([sys.executable, "-c", MAPPER, str(data)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout is not None
        address = int(child.stdout.readline())
        proc = run("maps", str(child.pid), "--json")
        expected = pathlib.Path(f"/proc/{child.pid}/maps").read_text().splitlines()
    finally:
        child.communicate("")
    assert proc.returncode == 0
    areas = json.loads(proc.stdout)
    assert len(areas) == len(expected)
    for area, line in zip(areas, expected, strict=False):
        fields = line.split(maxsplit=5)
        assert f"{area['start']:x}-{area['end']:x}" == fields[0]
        assert area["perms"] == fields[1] and area["dev"] == fields[3]
        assert area["path"] == (fields[5] if len(fields) > 5 else "")
    (ours,) = [a for a in areas if a["start"] == address]
    assert ours["path"] == str(data) and ours["perms"] == "r--s"
    assert ours["size"] == 5 * PAGE


def test_maps_of_a_missing_or_negative_pid(capsys: pytest.CaptureFixture[str]) -> None:
    pid_max = int(pathlib.Path("/proc/sys/kernel/pid_max").read_text())
    assert main(["maps", str(pid_max + 1)]) == 1  # no process can have it
    assert capsys.readouterr().err.strip() == f"rawmmap maps: no process {pid_max + 1}"
    for bad in ("-5", "0"):
        with pytest.raises(SystemExit) as exit_:
            main(["maps", bad])
        assert exit_.value.code == 2
        assert f"a process id is > 0, got {bad}" in capsys.readouterr().err


def test_maps_text_has_a_total() -> None:
    proc = run("maps", "--no-color")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0].split()[:2] == ["Address", "Kbytes"]
    assert proc.stdout.splitlines()[-1].lstrip().startswith("total")


def test_residency_counts_pages(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(bytes(3 * PAGE + 1))
    proc = run("residency", str(f), "--json")
    assert proc.returncode == 0
    (entry,) = json.loads(proc.stdout)
    assert entry["total"] == 4 and entry["size"] == 3 * PAGE + 1
    assert entry["resident"] == sum(entry["pages"])
    text = run("residency", str(f), str(tmp_path / "missing"))
    assert text.returncode == 1 and "pages resident" in text.stdout and "missing" in text.stderr


def test_residency_of_an_empty_file_and_a_directory(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert main(["residency", str(empty)]) == 0
    assert capsys.readouterr().out.strip() == f"empty file: no pages  {empty}"
    assert main(["residency", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"rawmmap residency: {tmp_path}: is a directory"
    assert main(["--json", "residency", str(tmp_path), str(empty)]) == 1
    directory, empty_entry = json.loads(capsys.readouterr().out)
    assert directory == {"path": str(tmp_path), "error": "is a directory", "errno": "ENODEV"}
    assert empty_entry["total"] == 0 and empty_entry["pages"] == []
