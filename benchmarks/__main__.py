"""``python -m benchmarks [--quick] [--json] [NAME ...]``: run benchmarks, print ratios to C."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys

from . import atomics, p1, p3
from ._harness import markdown

BENCHMARKS = {"p1": p1.run, "p3": p3.run, "atomics": atomics.run}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="which (default: all)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the work (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    scale = 0.1 if args.quick else 1.0
    rows = []
    for name in args.names or list(BENCHMARKS):
        rows += BENCHMARKS[name](scale)
    if args.json:
        json.dump([dataclasses.asdict(r) for r in rows], sys.stdout, indent=1)
        print()
    else:
        print(f"# {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, "
              f"Python {platform.python_version()}")  # fmt: skip
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
