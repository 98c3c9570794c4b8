"""The whole suite on one more CPython (CI runs the default Python plus this one).

scripts/test-all-pythons runs every CPython 3.10-3.13 found under pyenv; this
test runs it for one version other than the current one, preferring 3.12
(which exercises PEP 688's memoryview(mapping)).
"""

from __future__ import annotations

import os
import pathlib
import platform
import subprocess

import pytest

ROOT = pathlib.Path(__file__).parent.parent


def other_python() -> pathlib.Path | None:
    versions = (
        pathlib.Path(os.environ.get("PYENV_ROOT", pathlib.Path.home() / ".pyenv")) / "versions"
    )
    mine = ".".join(platform.python_version_tuple()[:2])
    found = sorted(versions.glob("3.1[0-3]*/bin/python3"))
    others = [p for p in found if not p.parent.parent.name.startswith(mine + ".")]
    preferred = [p for p in others if p.parent.parent.name.startswith("3.12.")]
    return (preferred or others or [None])[0]


@pytest.mark.skipif(other_python() is None, reason="needs a second CPython 3.10-3.13 under pyenv")
def test_suite_passes_on_another_python() -> None:
    python = other_python()
    assert python is not None
    proc = subprocess.run(
        [str(ROOT / "scripts" / "test-all-pythons"), str(python), "--", "-k", "not another_python"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout and "FAILED" not in proc.stdout
