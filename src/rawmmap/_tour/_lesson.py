"""What every lesson shares: the record of what it showed, its words, a few small tools.

A lesson module (see ``docs/design.md``, "How to add a lesson") has ``TITLE``,
``WHAT``, ``WHY`` and ``READ`` at the top and a ``run(lesson)`` that does the
thing and tells :class:`Lesson` what it saw and what it checked.  Every
sentence a learner reads is a plain string literal — a module constant, or the
first argument of :meth:`Lesson.saw`, :meth:`Lesson.check`,
:meth:`Lesson.not_applicable` or :meth:`Lesson.aside` — with ``{placeholders}``
for numbers, addresses and names, filled in by :func:`words`.  That one
function is where a translation would be looked up, so a lesson never builds a
sentence with an f-string.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import rawmmap

# The residency bar and the /proc/PID/status reader are not (yet) public API:
# the lessons get them from here, not from rawmmap's private modules.
from .._introspect import bar as bar
from .._introspect import status as vm_status
from .._svg import Picture

__all__ = [
    "PAGE", "Check", "Lesson", "bar", "make_file", "raised", "scratch", "vm_status", "words",
]  # fmt: skip

PAGE = rawmmap.PAGESIZE
E = TypeVar("E", bound=BaseException)


def words(text: str, **values: Any) -> str:
    """A lesson's sentence with its ``{placeholders}`` filled in (``{page}`` is always known)."""
    return text.format(page=PAGE, **values)


@dataclass
class Check:
    """One claim of a lesson and whether the kernel bore it out (None: not applicable here)."""

    claim: str
    ok: bool | None
    reason: str = ""  # why it does not apply, and what would make it apply

    def as_dict(self) -> dict[str, Any]:
        return {"claim": self.claim, "ok": self.ok, "reason": self.reason}


@dataclass
class Lesson:
    """What one lesson showed: the calls, what happened, the checks."""

    name: str
    title: str
    what: str
    why: str
    man: list[str]
    calls: list[str] = field(default_factory=list)
    happened: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)  # for `rawmmap tour --html`

    @property
    def ok(self) -> bool:
        """True when something was checked and nothing differed (not-applicable parts aside)."""
        return bool(self.checks) and all(c.ok is not False for c in self.checks)

    def saw(self, text: str, **values: Any) -> None:
        """Record one thing that happened."""
        self.happened.append(words(text, **values))

    def check(self, claim: str, ok: bool, **values: Any) -> bool:
        """Record one claim of the lesson and whether it held; returns ``ok``."""
        self.checks.append(Check(words(claim, **values), bool(ok)))
        return bool(ok)

    def not_applicable(self, claim: str, reason: str, **values: Any) -> None:
        """Record a claim this machine cannot show (a limit, a missing privilege), and why."""
        self.checks.append(Check(words(claim, **values), None, words(reason, **values)))

    def pages(
        self,
        caption: str,
        rows: list[tuple[str, list[rawmmap.PageInfo]]],
        *,
        labels: bool | None = None,
        **values: Any,
    ) -> None:
        """A picture of pages (``rawmmap.pages`` results, one labelled row each) at this moment.

        It is shown after the lines of "what happened" recorded so far; the text
        output leaves it out, the HTML page (``--html``) draws it.
        """
        named = [(words(label, **values), infos) for label, infos in rows]
        self.pictures.append(Picture(words(caption, **values), named, len(self.happened), labels))

    def address_space(
        self, caption: str, highlight: tuple[int, int] | None = None, **values: Any
    ) -> None:
        """A picture of this process's VMAs to scale, the ones overlapping ``highlight`` marked."""
        self.pictures.append(Picture(words(caption, **values), at=len(self.happened),
                                     areas=rawmmap.vmas(), highlight=highlight))  # fmt: skip

    def aside(self, text: str, **values: Any) -> None:
        """A line under "The calls:" for a call rawmmap did not make itself (glibc's, os's)."""
        self.calls.append(words(text, **values))

    def child_calls(self, stdout: str) -> None:
        """Show the calls a child traced to its stdout (``rawmmap.trace(file=sys.stdout)``)."""
        self.calls += [f"[child] {line}" for line in stdout.splitlines() if " = " in line]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "what": self.what, "why": self.why,
            "man": self.man, "calls": self.calls, "happened": self.happened,
            "checks": [c.as_dict() for c in self.checks], "ok": self.ok,
        }  # fmt: skip


@contextlib.contextmanager
def scratch() -> Iterator[str]:
    """A temporary directory for the lesson's files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="rawmmap-tour-") as d:
        yield d


def make_file(directory: str, name: str, content: bytes) -> str:
    """Create ``directory/name`` holding ``content``; returns its path."""
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def raised(kind: type[E], action: Callable[[], object]) -> E | None:
    """The exception of type ``kind`` that ``action`` raised, or None if it returned."""
    try:
        action()
    except kind as exc:
        return exc
    return None
