"""Shared test helpers: compiling the C reference programs in tests/c/."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from collections.abc import Callable

import pytest

pytest_plugins = ["pytester"]

C_DIR = pathlib.Path(__file__).parent / "c"


def compile_c(source: pathlib.Path | str, out_dir: pathlib.Path, *extra: str) -> pathlib.Path:
    """Compile one C file (a path, or C text) with the system compiler; return the binary."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:  # gcc is on every machine this project supports
        pytest.fail("no C compiler (cc/gcc) on PATH: install gcc")
    if isinstance(source, str) and "\n" in source:
        path = out_dir / "prog.c"
        path.write_text(source)
    else:
        path = pathlib.Path(source)
    binary = out_dir / path.stem
    subprocess.run(
        [cc, "-O1", "-Wall", "-Werror", "-o", str(binary), str(path), *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    return binary


@pytest.fixture(scope="session")
def c_program(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], pathlib.Path]:
    """Compile tests/c/NAME.c once per session and return the binary's path."""
    built: dict[str, pathlib.Path] = {}

    def build(name: str) -> pathlib.Path:
        if name not in built:
            built[name] = compile_c(C_DIR / f"{name}.c", tmp_path_factory.mktemp(name))
        return built[name]

    return build


@pytest.fixture(autouse=True)
def _english_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's expected output is English: a Chinese locale on the test machine must not
    change it (tests of the language switch ask for Chinese explicitly)."""
    import os

    names = ("LC_ALL", "LC_MESSAGES", "LANG")
    if any(os.environ.get(name, "").lower().startswith("zh") for name in names):
        for name in names:
            monkeypatch.delenv(name, raising=False)
