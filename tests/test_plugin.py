"""The pytest plugin, used as a user would: through pytester, in a subprocess."""

from __future__ import annotations

import pathlib
import re
import subprocess
import textwrap

import pytest

from .conftest import compile_c


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=textwrap.dedent(source))
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_fixtures_work_with_no_conftest_and_clean_up(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import os, pathlib, signal, rawmmap, pytest

        SEEN = {}

        def maps():
            return open("/proc/self/maps").read()

        def test_use_everything(page_size, anon_mapping, mapped_file, memfd, shared_anon,
                                sigbus_mapping, guard_page_buffer, tmp_path):
            assert page_size == rawmmap.PAGESIZE
            a = anon_mapping(3 * page_size, flags=rawmmap.MAP_SHARED)
            a[0] = 1
            f = mapped_file(b"hello", size=page_size)
            assert f[0:5] == b"hello" and len(f) == page_size and f.path.name.endswith("0")
            assert isinstance(f.path, pathlib.Path) and f.path.parent == tmp_path
            assert open(f.path, "rb").read(5) == b"hello"
            assert os.readlink(memfd.path).startswith("/memfd:rawmmap-test_use_everything")
            shared_anon[0] = 7
            pid = os.fork()
            if pid == 0:
                shared_anon[1] = 9
                os._exit(0)
            os.waitpid(pid, 0)
            assert shared_anon[1] == 9
            s = sigbus_mapping()
            g = guard_page_buffer(b"abc")
            SEEN.update(addrs=[m.address for m in (a, f, shared_anon, s, g.mapping)],
                        fds=[f.fd, memfd.fd, s.fd])

        def test_nothing_left_behind():
            text = maps()
            for addr in SEEN["addrs"]:
                assert f"{addr:x}-" not in text
            for fd in SEEN["fds"]:
                with pytest.raises(OSError):
                    os.fstat(fd)
        """,
    )
    result.assert_outcomes(passed=2)


def test_sigbus_mapping_guarded_and_raw(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import signal, rawmmap, pytest

        def test_empty_backing_file(sigbus_mapping):
            m = sigbus_mapping()
            with pytest.raises(rawmmap.MappingFault) as info:
                m[0]
            assert info.value.code == "BUS_ADRERR"

        def test_truncated_under_the_mapping(sigbus_mapping, page_size):
            m = sigbus_mapping(3 * page_size, truncate_after=page_size)
            assert m[page_size - 1] == 0xA5
            with pytest.raises(rawmmap.MappingFault):
                m[page_size]

        def test_what_survives_a_truncation_inside_a_page(sigbus_mapping, page_size):
            n = page_size + 10
            m = sigbus_mapping(3 * page_size, truncate_after=n)
            assert m[0:n] == bytes([0xA5]) * n                      # the bytes before N: kept
            assert m[n : 2 * page_size] == bytes(page_size - 10)  # the rest of N's page: zeros
            with pytest.raises(rawmmap.MappingFault):
                m[2 * page_size]                                  # pages wholly past N: SIGBUS

        @pytest.mark.isolated(expect_signal=signal.SIGBUS)
        def test_raw_access_dies(sigbus_mapping):
            sigbus_mapping().view()[0] = 1

        @pytest.mark.isolated
        def test_raw_access_patched(sigbus_mapping, page_size):
            m = sigbus_mapping(2 * page_size, truncate_after=page_size, on_sigbus="zero")
            v = m.view()
            assert v[page_size] == 0 and v[0] == 0xA5
            v.release()
            assert [off for off, _ in m.patched] == [page_size]
            with pytest.raises(rawmmap.MappingFault, match="BUS_ADRERR"):
                m.check()

        @pytest.mark.isolated
        def test_unchecked_patch_warns_at_teardown(sigbus_mapping):
            m = sigbus_mapping(on_sigbus="zero")
            v = m.view()
            v[0]
            v.release()
            with pytest.warns(rawmmap.PatchedPagesWarning, match="offsets"):
                m.close()
        """,
    )
    result.assert_outcomes(passed=6)


def test_isolated_marker_reports(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import ctypes, os, signal, pytest

        @pytest.mark.isolated
        def test_crash_is_a_failure_with_details(anon_mapping):
            m = anon_mapping(4096, prot=0)
            ctypes.string_at(m.address, 1)

        @pytest.mark.isolated
        def test_assertion_shows_as_usual():
            print("child says hi")
            assert 1 + 1 == 3

        @pytest.mark.isolated(expect_signal=signal.SIGABRT)
        def test_expected_signal_passes():
            os.abort()

        @pytest.mark.isolated(expect_signal=signal.SIGSEGV)
        def test_expected_signal_missing_fails():
            pass

        @pytest.mark.isolated
        def test_passes_in_child():
            assert os.getpid() != int(os.environ.get("PARENT_PID", "0"))

        @pytest.mark.isolated(timeout=0.5)
        def test_hang_is_killed():
            import time
            time.sleep(30)
        """,
    )
    result.assert_outcomes(passed=2, failed=4)
    out = result.stdout.str()
    assert "killed by SIGSEGV (SEGV_ACCERR) at 0x" in out
    assert "assert (1 + 1) == 3" in out and "child says hi" in out
    assert "expected the isolated test to die of SIGSEGV, but it returned None" in out
    assert "did not finish within 0.5 s" in out


def test_isolated_failures_show_the_child_and_nothing_of_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
        import pytest

        @pytest.mark.isolated
        def test_assertion():
            x = 1
            assert x + 1 == 3

        @pytest.mark.isolated(timeout=0.3)
        def test_hang():
            import time
            time.sleep(30)

        class TestInAClass:
            @pytest.mark.isolated
            @pytest.mark.parametrize("n", [2])
            def test_method_with_parameter_and_fixture(self, n, tmp_path):
                assert n == 2 and tmp_path.is_dir()

        @pytest.mark.isolated
        def test_skip_in_the_child():
            pytest.skip("needs a kernel feature")
        """,
    )
    result.assert_outcomes(passed=1, failed=2, skipped=1)
    out = result.stdout.str()
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"_+ test_assertion _+", line))
    end = next(i for i, line in enumerate(lines) if re.fullmatch(r"_+ test_hang _+", line))
    assert lines[start + 1 : end] == [  # 6 lines, where there were 66
        "AssertionError: assert (1 + 1) == 3",
        "",
        "in the isolated child process:",
        "Traceback (most recent call last):",
        f'  File "{pytester.path / "test_user.py"}", line 6, in test_assertion',
        "    assert x + 1 == 3",
    ]
    assert lines[end + 1] == (
        "the isolated test did not finish within 0.3 s; its process was killed with SIGKILL"
    )
    for plugin_detail in ("_pytest_plugin.py", "pyfuncitem", "_isolate.py", "pickle",
                          "Traceback in"):  # fmt: skip
        assert plugin_detail not in out
    assert "FAILED test_user.py::test_assertion - Failed: AssertionError: assert" in out


def test_plugin_uses_no_private_pytest_attribute() -> None:
    import ast

    import rawmmap._pytest_plugin as plugin

    tree = ast.parse(pathlib.Path(plugin.__file__).read_text())
    private = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and node.attr.startswith("_") and not node.attr.startswith("__")]  # fmt: skip
    assert private == []


def test_guard_page_catches_an_off_by_one_that_bytearray_hides(
    pytester: pytest.Pytester, tmp_path: pathlib.Path
) -> None:
    buggy = compile_c(
        """
        #include <stddef.h>
        /* sums n bytes... and one more: the classic off-by-one over-read */
        int sum_bytes(const unsigned char *p, size_t n)
        {
            int s = 0;
            for (size_t i = 0; i <= n; i++)
                s += p[i];
            return s;
        }
        """,
        tmp_path,
        "-shared",
        "-fPIC",
    )
    so = buggy.with_suffix(".so")
    buggy.rename(so)
    result = run(
        pytester,
        f"""
        import ctypes, signal, numpy, pytest

        lib = ctypes.CDLL({str(so)!r})
        lib.sum_bytes.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

        def test_bytearray_hides_the_bug():
            data = bytearray(b"\\x01" * 100)
            buf = (ctypes.c_char * 100).from_buffer(data)
            assert lib.sum_bytes(ctypes.addressof(buf), 100) >= 100  # read a neighbour: no crash

        @pytest.mark.isolated(expect_signal=signal.SIGSEGV)
        def test_guard_page_catches_it(guard_page_buffer):
            b = guard_page_buffer(b"\\x01" * 100)
            assert len(b) == 100 and bytes(b) == b"\\x01" * 100
            assert numpy.frombuffer(b.view(), dtype=numpy.uint8).sum() == 100
            lib.sum_bytes(b.address, 100)

        def test_guard_before(guard_page_buffer, page_size):
            import rawmmap
            b = guard_page_buffer(10, side="before")
            assert b.address % page_size == 0
            with pytest.raises(rawmmap.MappingFault):
                rawmmap.read(b.address - 1, 1)
        """,
    )
    result.assert_outcomes(passed=3)


def test_view_left_alive_fails_teardown(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        KEEP = []

        def test_leaks_a_view(anon_mapping):
            KEEP.append(anon_mapping(4096).view())
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    assert "is still alive" in result.stdout.str()


def test_marker_and_option_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    assert "@pytest.mark.isolated(expect_signal=None, timeout=None)" in result.stdout.str()
    result = pytester.runpytest_subprocess("--help")
    assert "--rawmmap-isolated-timeout" in result.stdout.str()


def test_importing_the_plugin_has_no_side_effects() -> None:
    import subprocess
    import sys

    code = (
        "import faulthandler, signal, sys\n"
        "before = (signal.getsignal(signal.SIGSEGV), signal.getsignal(signal.SIGBUS),"
        " faulthandler.enable, sorted(sys.modules))\n"
        "import rawmmap._pytest_plugin\n"
        "after = (signal.getsignal(signal.SIGSEGV), signal.getsignal(signal.SIGBUS),"
        " faulthandler.enable)\n"
        "assert before[:3] == after, (before[:3], after)\n"
        "import ctypes, rawmmap\n"
        "assert 'rawmmap_on_signal' not in repr(after)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_readme_example_as_written(pytester: pytest.Pytester) -> None:
    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    section = readme[readme.index("## Using rawmmap in your tests") :]
    c_source = re.search(r"```c\n(.*?)```", section, re.S)
    python_source = re.search(r"```python\n(.*?)```", section, re.S)
    build = re.search(r"built with `(gcc [^`]*)`", section)
    assert c_source and python_source and build
    (pytester.path / "buggy.c").write_text(c_source.group(1))
    subprocess.run(build.group(1).split(), cwd=pytester.path, check=True)
    result = run(pytester, python_source.group(1))
    result.assert_outcomes(passed=2)
