"""The benchmarks compute what they claim to (nothing here is timed or compared)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from benchmarks import atomics, compat, p1, p2, p3, p4
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
    ],
    ids=["p1", "p2", "p3", "p4", "atomics", "compat"],
)
def test_each_benchmark_runs_at_its_smallest_size(bench: object) -> None:
    rows = bench()  # type: ignore[operator]
    assert rows and all(r.seconds > 0 for r in rows)
    assert any(r.ratio == 1.0 for r in rows)  # the baseline (C; compat: the stdlib) is in each


def test_runner_json_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["atomics", "--quick", "--json"]) == 0
    assert '"contender": "C __atomic_fetch_add"' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench_main(["nope"])
