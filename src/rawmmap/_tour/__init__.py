"""The teaching tour: one lesson per behaviour of docs/design.md, each checked against the kernel.

Each lesson is one module of this package holding its code and its words
(``rawmmap demo NAME --source`` prints it).  A lesson does the thing, records
the exact calls (``rawmmap.trace``), what happened and why, and *checks* that
the kernel behaved as it says: the tour doubles as a self-check of the machine.
The framework they share is ``_lesson``; how to add a lesson is in
docs/design.md.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

from ._lesson import Check, Lesson, words

__all__ = ["Check", "Lesson", "demo_names", "find", "lesson_module", "run_demo", "source"]

#: The lessons in the order of the tour: module names in this package.
LESSONS = (
    "sigbus_empty_file",
    "past_eof",
    "private_cow",
    "shared_between_processes",
    "when_data_reaches_the_file",
    "mprotect",
    "map_fixed",
    "mlock",
    "demand_paging",
    "malloc_uses_mmap",
    "read_write_vs_mmap",
    "concurrent_writers",
    "locking_on_fault",
    "protection_keys",
    "survives_truncation",
)


def demo_names() -> list[str]:
    """The lessons' names in tour order (``sigbus-empty-file``, …)."""
    return [module.replace("_", "-") for module in LESSONS]


def find(key: str) -> str | None:
    """The lesson named ``key``, or numbered ``key`` (1-based, as ``demo --list`` shows)."""
    names = demo_names()
    if key.isdigit() and 1 <= int(key) <= len(names):
        return names[int(key) - 1]
    return key if key in names else None


def lesson_module(name: str) -> ModuleType:
    """The module holding the lesson ``name``; KeyError for an unknown name."""
    if name not in demo_names():
        raise KeyError(name)
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


def source(name: str) -> str:
    """The lesson's source code, as a student reads it."""
    return inspect.getsource(lesson_module(name))


def run_demo(name: str) -> Lesson:
    """Run one lesson by name; a lesson that raises is reported as failing, with the error."""
    module = lesson_module(name)
    values = getattr(module, "VALUES", {})
    lesson = Lesson(name, words(module.TITLE, **values), words(module.WHAT, **values),
                    words(module.WHY, **values), list(module.READ))  # fmt: skip
    try:
        module.run(lesson)
    except Exception as exc:
        lesson.check(
            "the demo ran to the end (it raised {kind}: {error})", False,
            kind=type(exc).__name__, error=exc,
        )  # fmt: skip
    return lesson
