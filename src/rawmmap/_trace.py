"""``rawmmap.trace()``: one line per raw call, in strace's own format.

Each line is what ``strace -e trace=memory,ftruncate,memfd_create`` prints
for the same syscall — same flag names in the same order, same number
formats, same ``= -1 EINVAL (Invalid argument)`` tail — so a traced line can
be found verbatim in strace's output (strace's padding before ``=`` aside).
A call that libc refused without making the syscall (glibc's EINVAL for an
mmap offset that is not a multiple of 4096) is traced all the same, with
``/* refused by libc, no syscall */`` after the result: strace shows nothing.
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
from typing import TYPE_CHECKING, Any

from . import _raw

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["trace"]


class _Stderr:
    """The default ``file``: whatever ``sys.stderr`` is when a line is written (as print does)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def __repr__(self) -> str:
        return "sys.stderr"


STDERR = _Stderr()


def _chained(file: SupportsWrite[str] | None, lines: list[str] | None) -> Callable[..., None]:
    """A trace hook writing each line to ``file`` (once, however many traces share it)."""
    outer = _raw.trace_hook

    def hook(call: str, result: str, printed: tuple[int, ...] = ()) -> None:
        line = f"{call} = {result}"
        if lines is not None:
            lines.append(line)
        out: Any = sys.stderr if file is STDERR else file
        if out is not None and id(out) not in printed:
            print(line, file=out, flush=True)
            printed = (*printed, id(out))
        if outer is not None:
            if getattr(outer, "rawmmap_trace", False):
                outer(call, result, printed)  # type: ignore[call-arg]  # one of ours
            else:
                outer(call, result)

    hook.rawmmap_trace = True  # type: ignore[attr-defined]
    return hook


@contextmanager
def trace(file: SupportsWrite[str] | None = STDERR) -> Iterator[list[str]]:
    """Trace every raw call made in the block, as strace does: to stderr, one line per call.

    ``file`` redirects the lines (an open file, ``sys.stdout``); ``file=None``
    only collects them.  Either way the block gets the list of lines.  Traces
    nest: an inner trace sees the calls, and so does the outer; a line goes
    to each file once.
    """
    lines: list[str] = []
    outer = _raw.trace_hook
    _raw.trace_hook = _chained(file, lines)
    try:
        yield lines
    finally:
        _raw.trace_hook = outer


if os.environ.get("RAWMMAP_TRACE", "") not in ("", "0") and _raw.trace_hook is None:
    _raw.trace_hook = _chained(STDERR, None)
