"""The compiled extension: present, loadable, and its constants equal C's."""

from __future__ import annotations

import enum
import importlib.machinery
import pathlib
import re
import subprocess
import sys
import tarfile
import zipfile

import pytest

import rawmmap
from rawmmap import _native
from rawmmap._build import ALL_CONSTANTS, INCLUDES

from .conftest import compile_c


def test_native_is_a_compiled_extension_inside_the_package() -> None:
    path = pathlib.Path(_native.__file__)
    assert path.suffix in importlib.machinery.EXTENSION_SUFFIXES or any(
        path.name.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES
    )
    assert path.parent == pathlib.Path(rawmmap.__file__).parent
    assert _native.lib.rawmmap_page_size() == rawmmap.PAGESIZE  # one real call


def test_constants_equal_what_c_prints(tmp_path: pathlib.Path) -> None:
    body = "\n".join(
        f'#ifdef {n}\n    printf("{n} %lld\\n", (long long)({n}));\n#endif' for n in ALL_CONSTANTS
    )
    source = f"{INCLUDES}\n#include <stdio.h>\nint main(void)\n{{\n{body}\n    return 0;\n}}\n"
    binary = compile_c(source, tmp_path)
    out = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    from_c = {name: int(value) for name, value in (line.split() for line in out.splitlines())}
    from rawmmap._constants import VALUES

    assert from_c == VALUES
    for name, value in from_c.items():
        if not name.startswith(("SI_", "BUS_", "SEGV_", "ILL_", "FPE_", "TRAP_", "KPF_")):
            assert getattr(rawmmap, name) == value
    # the names the issue insists on, all present on Linux
    for name in ("MAP_FIXED", "MAP_FIXED_NOREPLACE", "MAP_ANONYMOUS", "MAP_LOCKED",
                 "MAP_POPULATE", "MAP_NORESERVE", "MAP_HUGETLB", "MAP_SHARED_VALIDATE",
                 "MAP_SYNC", "MAP_STACK", "MAP_GROWSDOWN", "MAP_NONBLOCK"):  # fmt: skip
        assert name in from_c


def test_absent_constant_is_absent_not_invented() -> None:
    from rawmmap._constants import VALUES

    missing = [n for n in ALL_CONSTANTS if n not in VALUES]
    for name in missing:
        assert not hasattr(rawmmap, name)
    with pytest.raises(AttributeError, match="headers"):
        rawmmap.MAP_NO_SUCH_FLAG  # noqa: B018 - the attribute access is the test


def test_enums_carry_header_values_and_read_like_c() -> None:
    assert issubclass(rawmmap.Prot, enum.IntFlag) and issubclass(rawmmap.Madv, enum.IntEnum)
    assert rawmmap.Map.SHARED == rawmmap.MAP_SHARED
    assert repr(rawmmap.Map.SHARED | rawmmap.Map.FIXED) == "Map.SHARED|Map.FIXED"
    assert repr(rawmmap.Prot.READ | rawmmap.Prot.WRITE) == "Prot.READ|Prot.WRITE"
    assert repr(rawmmap.Prot(0)) == "Prot.NONE"
    assert repr(rawmmap.Map.SHARED_VALIDATE) == "Map.SHARED_VALIDATE"
    assert repr(rawmmap.Madv.DONTNEED) == "Madv.DONTNEED"
    assert rawmmap.MS.SYNC == rawmmap.MS_SYNC


def test_public_api_is_exactly_the_export_list() -> None:
    # (pytest's assertion rewriting adds "@py_builtins" to plugin packages)
    # documented public submodules (rawmmap.compat) appear in vars() once imported
    names = {n for n in vars(rawmmap) if n.isidentifier() and not n.startswith("_")}
    assert set(rawmmap.__all__) == names - {"annotations"} - SUBMODULES


SUBMODULES = {"compat"}  # imported on demand: `import rawmmap.compat as mmap`


def test_documented_submodules_import() -> None:
    import importlib

    for name in SUBMODULES:
        assert importlib.import_module(f"rawmmap.{name}").__name__ == f"rawmmap.{name}"


def test_sdist_and_the_wheel_built_from_it(tmp_path: pathlib.Path) -> None:
    # `python -m build` makes the sdist, then the wheel from the unpacked sdist: the sdist
    # alone must be enough to build the extension
    root = pathlib.Path(__file__).parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "build", "-o", str(tmp_path), str(root)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip  (cwd: an in-tree build/ folder must not shadow the `build` package)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    output = proc.stdout + proc.stderr
    assert "no files found matching" not in output  # e.g. '*.h' under _csrc
    assert "deprecated" not in output  # e.g. `project.license` as a TOML table
    (sdist,) = tmp_path.glob("rawmmap-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        pkg_info = tar.extractfile(f"{sdist.name[: -len('.tar.gz')]}/PKG-INFO")
        assert pkg_info is not None
        metadata = pkg_info.read().decode()
    for needed in ("LICENSE", "README.md", "docs/design.md", "scripts/test-all-pythons",
                   "src/rawmmap/_csrc/rawmmap.c", "src/rawmmap/_csrc/core.c",
                   "src/rawmmap/_build.py", "setup.py"):  # fmt: skip
        assert needed in names, needed
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata
    (wheel,) = tmp_path.glob("rawmmap-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert any(n.startswith("rawmmap/_native") and n.endswith(".so") for n in names), names
    assert any(n.startswith("rawmmap/_core") and n.endswith(".so") for n in names), names
    assert {"rawmmap/py.typed", "rawmmap/_csrc/rawmmap.c", "rawmmap/_tour/past_eof.py"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_public_classes_are_named_as_rawmmap_exports_them() -> None:
    exported = [getattr(rawmmap, n) for n in rawmmap.__all__]
    classes = [obj for obj in exported if isinstance(obj, type)]
    assert rawmmap.MappingFault in classes and rawmmap.VMA in classes
    assert [c for c in classes if c.__module__ != "rawmmap"] == []
    proc = subprocess.run(
        [sys.executable, "-c", "import rawmmap; rawmmap.read(0, 1)"], capture_output=True, text=True
    )
    assert "\nrawmmap.MappingFault: " in proc.stderr  # not rawmmap._errors.MappingFault


def test_quick_start_commands_make_their_own_venv_and_ci_runs_the_second() -> None:
    root = pathlib.Path(__file__).parent.parent
    readme = (root / "README.md").read_text()
    start = re.search(r"^#+ .*quick ?start.*$", readme, re.I | re.M)
    assert start is not None
    block = re.search(r"```sh\n(.*?)```", readme[start.end() :], re.S)
    assert block is not None
    first, second = block.group(1).strip().splitlines()
    for command in (first, second):
        # a distribution's Python refuses `pip install` outside a venv: each makes and uses one
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install ")
        outside = command.replace(".venv/bin/pip", "")
        assert " pip " not in outside and "python3 -m pip" not in outside
    assert first.endswith("&& .venv/bin/rawmmap tour")
    assert second.endswith("&& .venv/bin/python -m pytest")
    # .ci/run finds the same command in the README and runs it
    ci = (root / ".ci" / "run").read_text()
    finder = ci[ci.index("<<'PY'\n") + len("<<'PY'\n") : ci.index("\nPY\n")]
    found = subprocess.run([sys.executable, "-c", finder], cwd=root, capture_output=True,
                           text=True, check=True).stdout.strip()  # fmt: skip
    assert found == second and 'bash -c "$cmd"' in ci
