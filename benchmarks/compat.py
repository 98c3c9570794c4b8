"""compat: ``rawmmap.compat.mmap`` against the standard library's ``mmap.mmap``, same run.

Both map the same file; each operation runs interleaved, round after round.
The ratio column is compat's time over the stdlib's (the stdlib is the
baseline here, not C).  Targets (issue 12): each <= 1.3x.
"""

from __future__ import annotations

import mmap as stdlib_mmap
import os
import tempfile
from collections.abc import Callable
from typing import Any

import rawmmap.compat as compat

from ._harness import Contender, Row, interleave, rows_for, timed

MIB = 1 << 20
LOG_SIZE = 10 * MIB


def _file(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _ops(m: Any) -> dict[str, tuple[Callable[[int], None], int]]:
    """name -> (loop body doing n operations on mmap m of a 1 MiB file, n per round)."""
    size = len(m)

    def item(n: int) -> None:
        for i in range(n):
            m[(i * 4093) % size]

    def slice8(n: int) -> None:
        for i in range(n):
            j = (i * 4093) % (size - 8)
            m[j : j + 8]

    def store(n: int) -> None:
        for i in range(n):
            m[8 + (i * 4093) % (size - 16)] = i & 0xFF  # never the needles at either end

    def find(n: int) -> None:
        for _ in range(n):
            assert m.find(b"needle", 0) == size - 6

    def rfind(n: int) -> None:
        for _ in range(n):
            assert m.rfind(b"eldeen", 0) == 0

    def read_all(n: int) -> None:
        for _ in range(n):
            m.seek(0)
            m.read()

    return {
        "m[i]": (item, 100_000),
        "m[i:i+8]": (slice8, 100_000),
        "m[i] = x": (store, 100_000),
        "find over 1 MiB": (find, 20),
        "rfind over 1 MiB": (rfind, 20),
        "read() of 1 MiB": (read_all, 50),
    }


def _readline_loop(m: Any) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            m.seek(0)
            readline = m.readline
            while readline():
                pass

    return run


def run(scale: float = 1.0, rounds: int = 7) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = b"eldeen" + bytes(MIB - 12) + b"needle"
        path = _file(tmp, "data", data)
        line = b"2026-12-01 12:00:00 INFO request served in 3 ms from 10.0.0.1 to /index.html\n"
        log_size = max(int(LOG_SIZE * min(scale, 1.0)), 100 * len(line))  # --quick: 1 MB
        log = _file(tmp, "log", line * (log_size // len(line)))
        fd = os.open(path, os.O_RDWR)
        log_fd = os.open(log, os.O_RDONLY)
        maps = {
            "stdlib mmap": stdlib_mmap.mmap(fd, 0),
            "rawmmap.compat": compat.mmap(fd, 0),
        }
        logs = {
            "stdlib mmap": stdlib_mmap.mmap(log_fd, 0, access=stdlib_mmap.ACCESS_READ),
            "rawmmap.compat": compat.mmap(log_fd, 0, access=compat.ACCESS_READ),
        }
        try:
            ops = {name: _ops(m) for name, m in maps.items()}
            for op in ops["stdlib mmap"]:
                per_round = max(int(ops["stdlib mmap"][op][1] * scale), 1)
                contenders = [Contender(name, timed(ops[name][op][0])) for name in maps]
                interleave(contenders, per_round, rounds)
                rows += rows_for(f"compat: {op}", contenders, "stdlib mmap")
            contenders = [Contender(name, timed(_readline_loop(m))) for name, m in logs.items()]
            interleave(contenders, 1, max(int(rounds * scale), 3), warmup=1)
            rows += rows_for(f"compat: readline loop over {log_size / 1e6:.3g} MB", contenders,
                             "stdlib mmap", unit="file")  # fmt: skip
        finally:
            for m in (*maps.values(), *logs.values()):
                m.close()
            os.close(fd)
            os.close(log_fd)
    return rows
