"""The tour's lessons as files: their form, their words, and the lessons an environment limits.

Every lesson passing its own check is tested in test_cli.py (``rawmmap demo NAME --json``).
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import re
import resource
import subprocess
import sys

import pytest

import rawmmap
from rawmmap._cli import main
from rawmmap._tour import LESSONS, demo_names, find, lesson_module, source
from rawmmap._tour.read_write_vs_mmap import compared

TOUR = pathlib.Path(rawmmap.__file__).parent / "_tour"
WORD_METHODS = {"saw", "check", "not_applicable", "aside"}


def lesson_tree(name: str) -> ast.Module:
    return ast.parse(source(name))


def test_every_lesson_module_has_its_words_and_its_code() -> None:
    assert sorted(p.stem for p in TOUR.glob("*.py") if not p.stem.startswith("_")) == sorted(
        LESSONS
    )
    for name in demo_names():
        module = lesson_module(name)
        assert isinstance(module.TITLE, str) and isinstance(module.WHAT, str)
        assert isinstance(module.WHY, str) and module.READ and callable(module.run)
        assert module.__doc__ and module.TITLE in module.__doc__


def is_sentence(node: ast.expr, constants: set[str]) -> bool:
    """A literal string, or a module constant in capitals holding one (WHY, LIMITED, ...)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return isinstance(node, ast.Name) and node.id in constants


@pytest.mark.parametrize("name", demo_names())
def test_sentences_are_literals_with_placeholders(name: str) -> None:
    # one obvious place per sentence, ready to be marked for translation: what the learner
    # reads is a plain string (never an f-string or one built at run time) with {placeholders}
    tree = lesson_tree(name)
    module = lesson_module(name)
    constants = {n for n in vars(module) if n.isupper() and isinstance(getattr(module, n), str)}
    assert {"TITLE", "WHAT", "WHY"} <= constants
    calls = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr in WORD_METHODS
    ]  # fmt: skip
    assert calls
    for call in calls:
        assert isinstance(call.func, ast.Attribute)
        sentences = call.args[:2] if call.func.attr == "not_applicable" else call.args[:1]
        assert all(is_sentence(arg, constants) for arg in sentences), (
            f"{name}, line {call.lineno}: {call.func.attr}() needs a literal sentence"
        )


@pytest.mark.parametrize("name", demo_names())
def test_lessons_use_only_the_public_api(name: str) -> None:
    tree = lesson_tree(name)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert (node.level == 1 and node.module == "_lesson") or node.level == 0, (
                f"{name}: imports {'.' * node.level}{node.module}"
            )
            assert not (node.module or "").startswith("rawmmap"), f"{name}: from {node.module}"
        if isinstance(node, ast.Attribute) and ast.unparse(node) != "os._exit":
            assert not (node.attr.startswith("_") and not node.attr.startswith("__")), (
                f"{name}, line {node.lineno}: reaches into .{node.attr}"
            )
            if isinstance(node.value, ast.Name) and node.value.id == "rawmmap":
                assert node.attr in rawmmap.__all__, f"{name}: rawmmap.{node.attr} is not public"


@pytest.mark.parametrize("name", demo_names())
def test_no_page_size_typed_in(name: str) -> None:
    numbers = {n.value for n in ast.walk(lesson_tree(name)) if isinstance(n, ast.Constant)}
    assert 4096 not in numbers and not any("4096" in str(v) for v in numbers)


def test_find_takes_numbers_and_names() -> None:
    assert find("1") == "sigbus-empty-file" == find("sigbus-empty-file")
    assert find(str(len(LESSONS))) == demo_names()[-1]
    assert find("0") is None and find(str(len(LESSONS) + 1)) is None and find("nope") is None


def test_source_is_the_lesson_file() -> None:
    text = source("map-fixed")
    assert text == (TOUR / "map_fixed.py").read_text()
    assert "def run(lesson" in text and "MAP_FIXED_NOREPLACE" in text


def test_ratios_read_as_faster_or_slower() -> None:
    assert compared(1.0, 0.3) == ("{ratio:.1f}× as fast as pread+pwrite", pytest.approx(3.33, 0.01))
    assert compared(1.0, 3.3) == ("{ratio:.1f}× slower than pread+pwrite", pytest.approx(3.3))
    assert compared(1.0, 1.02)[0] == "about as fast as pread+pwrite"


def run_cli(*args: str, prelude: str = "", **kwargs: object) -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nimport sys\nfrom rawmmap._cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300, **kwargs)  # type: ignore[call-overload]  # fmt: skip


def test_lesson_11_without_numpy_says_so() -> None:
    proc = run_cli("demo", "read-write-vs-mmap", "--json",
                   prelude="import sys; sys.modules['numpy'] = None")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (lesson,) = json.loads(proc.stdout)["lessons"]
    assert lesson["ok"] and "numpy is not installed" in lesson["happened"][0]
    # a ratio below 1 is said the other way round: "3.3 times slower", never "0.3 times as fast"
    mmap_lines = [line for line in lesson["happened"] if line.startswith("mmap")]
    assert mmap_lines and not any(re.search(r"\b0\.\d× as fast as", x) for x in mmap_lines)
    assert all(re.search(r"\d× (as fast as|slower than)|about as fast", x) for x in mmap_lines)


def lesson_8_limited(argv: list[str]) -> int:
    """In a forked child: no privilege, no lockable memory, then the CLI on lesson 8."""
    if os.geteuid() == 0:  # root's CAP_IPC_LOCK ignores the limit: become nobody
        os.setgid(65534)
        os.setuid(65534)
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (0, 0))
    return main(argv)


def test_lesson_8_under_a_low_memlock_limit_is_not_applicable_not_differed() -> None:
    lesson_module("mlock")  # imported here: the child may not read the files any more
    out = rawmmap.run_isolated(lesson_8_limited, ["demo", "mlock", "--json"])
    assert out.returned == 0, out.stdout + out.stderr
    (lesson,) = json.loads(out.stdout)["lessons"]
    na = [c for c in lesson["checks"] if c["ok"] is None]
    assert len(na) == 2 and all("RLIMIT_MEMLOCK is 0 bytes" in c["reason"] for c in na)
    assert all("ulimit -l" in c["reason"] for c in na)
    assert any("MAP_LOCKED" in call and "= -1 E" in call for call in lesson["calls"])
    assert any(c.startswith("[child] mlock(") and "= -1 E" in c for c in lesson["calls"])
    assert lesson["ok"] is True  # the over-the-limit part still ran and was checked
    text = rawmmap.run_isolated(lesson_8_limited, ["demo", "8", "--no-color"]).stdout
    assert "– not applicable here: MAP_LOCKED pages are resident at once" in text
    assert "DIFFERED" not in text and "The lesson behaved as taught" in text
    assert text.rstrip().endswith(
        "(2 claims could not be shown on this machine: see “not applicable here” above.)"
    )


def test_locking_on_fault_under_a_low_memlock_limit_is_not_applicable_not_differed() -> None:
    lesson_module("locking-on-fault")  # imported here: the child may not read the files any more
    out = rawmmap.run_isolated(lesson_8_limited, ["demo", "locking-on-fault", "--json"])
    assert out.returned == 0, out.stdout + out.stderr
    (lesson,) = json.loads(out.stdout)["lessons"]
    assert [c["ok"] for c in lesson["checks"]] == [None] * 4
    assert all("RLIMIT_MEMLOCK is 0 bytes" in c["reason"] for c in lesson["checks"])
    assert any(call.startswith("mlock(") and "= -1 EPERM" in call for call in lesson["calls"])
    assert lesson["ok"] is True


def pkeys_work() -> bool:
    """In a child (the kernel remembers keys): can this machine allocate a protection key?"""
    try:
        rawmmap.pkey_free(rawmmap.pkey_alloc())
    except OSError:
        return False
    return True


def test_protection_keys_lesson_shows_them_or_says_why_not() -> None:
    out = rawmmap.run_isolated(lambda: main(["demo", "protection-keys", "--json"]))
    assert out.returned == 0, out.stdout + out.stderr
    (lesson,) = json.loads(out.stdout)["lessons"]
    assert lesson["ok"] is True and len(lesson["checks"]) == 4
    if rawmmap.run_isolated(pkeys_work).returned:
        assert all(c["ok"] is True for c in lesson["checks"])  # keys: every claim shown
        assert any("pkey_set(" in c for c in lesson["calls"])
    else:
        assert all(c["ok"] is None and "no memory protection keys" in c["reason"]
                   for c in lesson["checks"])  # fmt: skip
        assert any(c.startswith("[child] pkey_alloc(0, 0) = -1 E") for c in lesson["calls"])


def test_docs_design_describes_every_lesson_and_the_readme_points_there() -> None:
    root = pathlib.Path(__file__).parent.parent  # the checkout (rawmmap may be installed)
    design = (root / "docs" / "design.md").read_text()
    for module in LESSONS:
        assert f"(`{module}.py`)" in design, f"docs/design.md does not describe {module}.py"
    assert "## The fault guard and the safety clauses" in design
    assert all(f"**S{n} " in design for n in range(1, 9))
    readme = (root / "README.md").read_text()
    assert "docs/design.md" in readme and "DESIGN.md" not in readme
    for path in TOUR.parent.rglob("*.py"):
        assert "DESIGN.md" not in path.read_text(), path
