"""``python -m benchmarks``: run rawmmap's benchmarks; print medians and ratios to a baseline.

The baseline (ratio 1.00) is C for p1-p4 and atomics, the standard library's
``mmap.mmap`` for ``small`` and ``compat``; ``atomics`` also shows its rows against
stdlib ``s[i]``.

Usage: ``python -m benchmarks [NAME ...] [--quick] [--full] [--json] [--plot FILE.png]``.
NAME is one of p1, p2, p3, p4, atomics, compat, small (default: all).  ``--quick`` does a
tenth of the work (a smoke run), ``--full`` adds P2's N=10^8 (a 400 MB file),
``--plot`` draws P2's time per integer against N (needs matplotlib:
``pip install '.[plot]'``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
from collections.abc import Callable

from . import atomics, compat, p1, p2, p3, p4, small
from ._harness import Row, markdown


def _benchmarks(full: bool) -> dict[str, Callable[[float], list[Row]]]:
    return {
        "p1": p1.run,
        "p2": lambda scale: p2.run(scale, full=full),
        "p3": p3.run,
        "p4": p4.run,
        "atomics": atomics.run,
        "compat": compat.run,
        "small": small.run,
    }


def plot(rows: list[Row], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install '.[plot]'") from None
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if r.benchmark.startswith("P2"):
            n = int(float(r.benchmark.split("N=")[1].split()[0]))
            series.setdefault(r.contender, []).append((n, r.seconds * 1e9))
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, points in series.items():
        xs, ys = zip(*sorted(points), strict=True)
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (32-bit integers in the file)")
    ax.set_ylabel("ns per integer (median)")
    ax.set_title("P2: increment every integer of a file")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="p1 p2 p3 p4 atomics compat small"
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the work")
    parser.add_argument("--full", action="store_true", help="P2 up to N=10^8")
    parser.add_argument("--json", action="store_true", help="JSON rows instead of a table")
    parser.add_argument("--plot", metavar="FILE.png", help="chart of P2 (needs matplotlib)")
    args = parser.parse_args(argv)
    benchmarks = _benchmarks(args.full)
    unknown = [n for n in args.names if n not in benchmarks]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(benchmarks)}")
    scale = 0.1 if args.quick else 1.0
    rows: list[Row] = []
    for name in args.names or list(benchmarks):
        rows += benchmarks[name](scale)
        if not args.json:
            print(f"... {name} done", file=sys.stderr, flush=True)
    if args.json:
        json.dump([dataclasses.asdict(r) for r in rows], sys.stdout, indent=1)
        print()
    else:
        print(f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, "
              f"Python {platform.python_version()}; page cache warm\n")  # fmt: skip
        print(markdown(rows))
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
