"""The benchmarks compute what they claim to (nothing here is timed or compared)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from benchmarks import atomics, compat, p1, p2, p3, p4, small
from benchmarks.__main__ import main as bench_main

N = 1000


@pytest.mark.parametrize("index", range(7))
def test_every_p2_contender_increments_every_integer_once(
    tmp_path: pathlib.Path, index: int
) -> None:
    path = p2.make_file(str(tmp_path), N)
    contenders = p2.contenders_for(path, N)
    assert len(contenders) == 7
    name, run = contenders[index]
    assert run(1) >= 0
    assert np.array_equal(
        np.fromfile(path, dtype=np.uint32), np.arange(1, N + 1, dtype=np.uint32)
    ), name


@pytest.mark.parametrize(
    "bench",
    [
        lambda: p1.run(0.001),
        lambda: p2.run(sizes=[N]),
        lambda: p3.run(0.001),
        lambda: p4.run(0.1),
        lambda: atomics.run(0.001),
        lambda: compat.run(0.0001, rounds=1),
        lambda: small.run(0.001),
    ],
    ids=["p1", "p2", "p3", "p4", "atomics", "compat", "small"],
)
def test_each_benchmark_runs_at_its_smallest_size(bench: object) -> None:
    rows = bench()  # type: ignore[operator]
    assert rows and all(r.seconds > 0 for r in rows)
    assert any(r.ratio == 1.0 for r in rows)  # the baseline (C; compat: the stdlib) is in each


def test_small_pairs_each_guarded_access_with_its_stdlib_equivalent() -> None:
    rows = small.run(0.001)  # run() also checks both contenders wrote the same bytes
    assert len(rows) == 12
    for base, ours in zip(rows[::2], rows[1::2], strict=True):
        assert base.benchmark == ours.benchmark
        assert base.contender.startswith("stdlib ") and base.ratio == 1.0
        assert not ours.contender.startswith("stdlib ")
    assert {r.contender for r in rows[1::2]} >= {"rawmmap.read(addr, 8)", "rawmmap.write(addr, b)"}


def test_atomics_rows_against_c_and_against_a_stdlib_call() -> None:
    rows = atomics.run(0.001)
    against_c = [r for r in rows if r.benchmark == "atomic increment"]
    against_call = [r for r in rows if r.benchmark == "atomic increment vs a C call"]
    assert [r.contender for r in against_c if r.ratio == 1.0] == ["C __atomic_fetch_add"]
    assert [r.contender.startswith("stdlib s[i]") for r in against_call if r.ratio == 1.0] == [
        True
    ]
    assert any(r.contender == "rawmmap.atomic_add(addr, 1)" for r in against_call)


def test_runner_json_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["atomics", "--quick", "--json"]) == 0
    assert '"contender": "C __atomic_fetch_add"' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench_main(["nope"])
