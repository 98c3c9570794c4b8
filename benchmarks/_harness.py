"""What every benchmark shares: building its C baseline, interleaved timing, the table.

Contenders of one benchmark run interleaved, round after round, in one
process, so that a noisy machine slows them alike; each reports the median of
its rounds.  C baselines are compiled here with the system compiler into a
shared library and called through ctypes, their loops timed inside C with
``clock_gettime(CLOCK_MONOTONIC)`` (so the ctypes call is not counted).
"""

from __future__ import annotations

import ctypes
import hashlib
import pathlib
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

C_DIR = pathlib.Path(__file__).parent / "c"


def build_c(name: str) -> ctypes.CDLL:
    """Compile benchmarks/c/NAME.c into a shared library (cached by content) and load it."""
    source = C_DIR / f"{name}.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    out = pathlib.Path(tempfile.gettempdir()) / f"rawmmap-bench-{name}-{digest}.so"
    if not out.exists():
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            raise SystemExit("benchmarks need a C compiler (cc/gcc) for their baselines")
        tmp = out.with_suffix(".tmp.so")
        subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(tmp), str(source)], check=True)
        tmp.replace(out)
    return ctypes.CDLL(str(out))


@dataclass
class Contender:
    name: str
    #: runs one round of `per_round` operations, returns seconds taken
    run: Callable[[int], float]
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def timed(fn: Callable[[int], None]) -> Callable[[int], float]:
    """Wrap a Python loop body `fn(n)` so that it returns the seconds it took."""

    def run(n: int) -> float:
        start = time.perf_counter_ns()
        fn(n)
        return (time.perf_counter_ns() - start) / 1e9

    return run


def interleave(contenders: list[Contender], per_round: int, rounds: int, warmup: int = 1) -> None:
    """Run every contender `rounds` times, interleaved; record seconds per operation."""
    for _ in range(warmup):
        for c in contenders:
            c.run(max(per_round // 10, 1))
    for _ in range(rounds):
        for c in contenders:
            c.samples.append(c.run(per_round) / per_round)


@dataclass
class Row:
    benchmark: str
    contender: str
    seconds: float  # per operation (median)
    ratio: float | None  # to the C baseline
    unit: str = "op"


def rows_for(
    benchmark: str, contenders: list[Contender], baseline: str, unit: str = "op"
) -> list[Row]:
    base = next(c for c in contenders if c.name == baseline).median
    return [Row(benchmark, c.name, c.median, c.median / base, unit) for c in contenders]


def human(seconds: float) -> str:
    for scale, suffix in ((1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms")):
        if seconds < scale * 1000:
            return f"{seconds / scale:.1f} {suffix}"
    return f"{seconds:.2f} s"


def markdown(rows: list[Row]) -> str:
    lines = ["| benchmark | contender | median per op | ratio to baseline |", "|---|---|---:|---:|"]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
        lines.append(f"| {r.benchmark} | {r.contender} | {human(r.seconds)} / {r.unit} | {ratio} |")
    return "\n".join(lines)
