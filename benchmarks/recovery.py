"""The time to patch one page in recovery mode (``on_sigbus="zero"``), against plain page faults.

``python -m benchmarks.recovery [PAGES]``: one byte stored into every page
by numpy (``a[::page] = 1``, one C loop, no Python per page) over

- a fresh anonymous mapping (a demand-zero minor fault per page),
- a mapped file with its pages in the page cache (a minor fault per page),
- a recovery-mode mapping of a file truncated to 0 under it: per page a
  SIGBUS, rawmmap's handler (table lookup, log claim, one ``mmap`` with
  ``MAP_FIXED``), ``sigreturn``, and the fault of the zero page.

Each is the median of 7 runs; the time per page is printed.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import rawmmap

PAGE = rawmmap.PAGESIZE


def _touch(m: rawmmap.Mapping) -> float:
    a = np.frombuffer(m, dtype=np.uint8)
    t0 = time.perf_counter()
    a[::PAGE] = 1
    t1 = time.perf_counter()
    del a
    return t1 - t0


def measure(pages: int) -> dict[str, float]:
    results: dict[str, list[float]] = {"anonymous": [], "file": [], "patched": []}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "f")
        for _ in range(7):
            m = rawmmap.map_anonymous(pages * PAGE)
            results["anonymous"].append(_touch(m))
            m.close()

            with open(path, "wb") as f:
                f.write(b"\1" * pages * PAGE)
            m = rawmmap.map_file(path)
            results["file"].append(_touch(m))
            m.close()

            m = rawmmap.map_file(path, on_sigbus="zero")
            os.truncate(path, 0)
            results["patched"].append(_touch(m))
            assert len(m.patched) == pages
            with contextlib.suppress(rawmmap.MappingFault):
                m.check()
            m.close()
    return {k: statistics.median(v) / pages for k, v in results.items()}


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    per_page = measure(pages)
    for name, seconds in per_page.items():
        print(f"{name:10} {seconds * 1e6:8.2f} us per page")
    extra = per_page["patched"] - per_page["anonymous"]
    print(f"patching costs {extra * 1e6:.2f} us per page more than a demand-zero fault")


if __name__ == "__main__":
    main()
