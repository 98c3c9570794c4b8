"""The tour as one self-contained HTML page: every lesson with its calls, outcome, checks, pictures.

Self-contained means one file that opens anywhere, offline: the CSS is in a
``<style>`` element, the pictures are inline SVG (``rawmmap._svg``), there is
no script and no external URL.  A lesson is rendered from its ``as_dict()``
and its ``pictures`` (``rawmmap._svg.Picture``), each placed after the line of
"what happened" it illustrates.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from html import escape
from typing import Any, Protocol

from ._i18n import gettext_ as _
from ._i18n import language
from ._raw import page_size
from ._svg import Picture

__all__ = ["tour_html", "write_html"]


class Shown(Protocol):
    """What the page needs of a lesson."""

    pictures: list[Picture]

    def as_dict(self) -> dict[str, Any]: ...


_CSS = """
:root { --ink: #111827; --muted: #4b5563; --line: #e5e7eb; --ok: #15803d; --bad: #b91c1c; }
body { font: 16px/1.5 ui-sans-serif, system-ui, sans-serif; color: var(--ink); margin: 0;
       background: #f9fafb; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 22px; margin: 48px 0 8px; padding-top: 16px; border-top: 2px solid var(--line); }
h3 { font-size: 15px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
     margin: 18px 0 6px; }
.machine { color: var(--muted); margin: 0 0 16px; }
.what { font-size: 17px; }
pre { background: #0f172a; color: #e2e8f0; padding: 12px 14px; border-radius: 6px;
      overflow-x: auto; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
ul.happened li { margin: 4px 0; }
figure { margin: 12px 0 18px; padding: 12px; border: 1px solid var(--line); border-radius: 8px;
         background: #fff; overflow-x: auto; }
figcaption { color: var(--muted); font-size: 14px; margin-top: 6px; }
ul.checks { list-style: none; padding-left: 0; }
ul.checks li { margin: 3px 0; }
.ok { color: var(--ok); font-weight: 600; }
.bad { color: var(--bad); font-weight: 600; }
.na { color: var(--muted); font-weight: 600; }
.reason { color: var(--muted); font-size: 14px; }
nav ol { columns: 2; padding-left: 22px; }
.read { color: var(--muted); }
"""


def _check(check: dict[str, Any]) -> str:
    if check["ok"] is None:
        mark, cls = _("— not shown here:"), "na"
    elif check["ok"]:
        mark, cls = "✔", "ok"
    else:
        mark, cls = _("✘ DIFFERED:"), "bad"
    why = check.get("reason")
    reason = f' <span class="reason">{escape(why)}</span>' if why else ""
    return f'<li><span class="{cls}">{mark}</span> {escape(check["claim"])}{reason}</li>'


def _figure(picture: Picture) -> str:
    return f"<figure>{picture.svg()}<figcaption>{escape(picture.caption)}</figcaption></figure>"


def _lesson(number: int, lesson: Shown) -> str:
    d = lesson.as_dict()
    out = [f'<section class="lesson" id="{escape(d["name"])}">',
           f"<h2>{number}. {escape(d['title'])}</h2>",
           f'<p class="what">{escape(d["what"])}</p>']  # fmt: skip
    if d["calls"]:
        out.append(f"<h3>{_('The calls')}</h3><pre><code>")
        out.append(escape("\n".join(d["calls"])))
        out.append("</code></pre>")
    out.append(f"<h3>{_('What happened')}</h3>")
    happened: list[str] = d["happened"]
    items: list[str] = []  # the open list of lines; a picture closes it
    for i in range(len(happened) + 1):
        here = [p for p in lesson.pictures if min(p.at, len(happened)) == i]
        if here and items:
            out.append('<ul class="happened">' + "".join(items) + "</ul>")
            items = []
        out.extend(_figure(p) for p in here)
        if i < len(happened):
            items.append(f"<li>{escape(happened[i])}</li>")
    if items:
        out.append('<ul class="happened">' + "".join(items) + "</ul>")
    out.append(f"<h3>{_('Why')}</h3><p>{escape(d['why'])}</p>")
    out.append(f'<p class="read">{_("Read:")} {escape(", ".join(d["man"]))}</p>')
    out.append(f'<h3>{_("Checked")}</h3><ul class="checks">')
    out.extend(_check(c) for c in d["checks"])
    out.append("</ul></section>")
    return "\n".join(out)


def tour_html(lessons: Sequence[tuple[int, Shown]], *, title: str = "The rawmmap tour") -> str:
    """The whole page for ``(number, lesson)`` pairs, in order."""
    root = os.geteuid() == 0
    seen = (
        _("run as root: physical frame numbers (PFNs) and the kernel's page flags are shown")
        if root
        else _("run without root: the kernel hides frame numbers (PFNs); the exclusive bit "
               "tells who shares a page")
    )
    machine = _("Linux {release} on {machine}, {page}-byte pages, {seen}").format(
        release=platform.release(), machine=platform.machine(), page=page_size(), seen=seen
    )
    passed = sum(lesson.as_dict()["ok"] for _number, lesson in lessons)
    nav = "".join(
        f'<li><a href="#{escape(lesson.as_dict()["name"])}">'
        f"{escape(lesson.as_dict()['title'])}</a> "
        f'<span class="{"ok" if lesson.as_dict()["ok"] else "bad"}">'
        f"{'✔' if lesson.as_dict()['ok'] else '✘'}</span></li>"
        for _number, lesson in lessons
    )
    start = lessons[0][0] if lessons else 1
    body = "\n".join(_lesson(n, lesson) for n, lesson in lessons)
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if language() == "zh" else "en"}"><head>'
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="machine">{escape(machine)}. '
        + _("{passed} of {total} lessons behaved as taught.").format(passed=passed,
                                                                     total=len(lessons))
        + "</p>"
        f'<nav><ol start="{start}">{nav}</ol></nav>\n{body}\n</main></body></html>\n'
    )


def write_html(path: str | os.PathLike[str], lessons: Sequence[tuple[int, Shown]],
               *, title: str = "The rawmmap tour") -> None:  # fmt: skip
    """Write :func:`tour_html` to ``path`` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(tour_html(lessons, title=title))
