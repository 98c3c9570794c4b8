"""``rawmmap.trace()``: one line per raw call, in strace's own format.

Each line is what ``strace -e trace=memory,ftruncate,memfd_create`` prints
for the same syscall — same flag names in the same order, same number
formats, same ``= -1 EINVAL (Invalid argument)`` tail — so a traced line can
be found verbatim in strace's output (strace's padding before ``=`` aside).
The spelling lives in ``_constants`` and is shared with the error messages.

Tracing is a hook in the raw layer (``_raw.trace_hook``); when no trace is
active it costs one comparison per call.  ``RAWMMAP_TRACE=1`` in the
environment turns tracing to stderr on at import.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from . import _raw

__all__ = ["trace"]


@contextmanager
def trace(file: TextIO | None = None) -> Iterator[list[str]]:
    """Trace every raw call made in the block; yields the list of lines.

    Lines are also written to ``file`` (one per call) when it is given.
    Traces nest: an inner trace sees the calls, and so does the outer.
    """
    lines: list[str] = []
    outer = _raw.trace_hook

    def hook(call: str, result: str) -> None:
        line = f"{call} = {result}"
        lines.append(line)
        if file is not None:
            print(line, file=file, flush=True)
        if outer is not None:
            outer(call, result)

    _raw.trace_hook = hook
    try:
        yield lines
    finally:
        _raw.trace_hook = outer


def _to_stderr() -> Callable[[str, str], None]:
    def hook(call: str, result: str) -> None:
        print(f"{call} = {result}", file=sys.stderr, flush=True)

    return hook


if os.environ.get("RAWMMAP_TRACE", "") not in ("", "0") and _raw.trace_hook is None:
    _raw.trace_hook = _to_stderr()
