"""The tour as one HTML page: built right, and opened in a real (headless) Chromium."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import rawmmap
from rawmmap._html import tour_html
from rawmmap._svg import Picture

P = rawmmap.PAGESIZE


@dataclass
class FakeLesson:
    """A lesson's record, as the page needs it (the real ones are tested below, in Chromium)."""

    name: str
    title: str
    happened: list[str]
    pictures: list[Picture] = field(default_factory=list)
    ok: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "title": self.title, "what": "what <it> does", "why": "why & how",
            "man": ["mmap(2)"], "calls": ["mmap(NULL, 4096, ...) = 0x7f00"],
            "happened": self.happened, "ok": self.ok,
            "checks": [{"claim": "it held", "ok": self.ok, "reason": ""},
                       {"claim": "needs root", "ok": None, "reason": "run as root"}],
        }  # fmt: skip


class Outline(HTMLParser):
    """The sequence of interesting elements: h2 titles, happened lines, figures, checks."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("src", "href", "xlink:href"):
            if a.get(key):
                self.urls.append(a[key] or "")
        if tag == "figure":
            self.events.append(("figure", ""))
        if tag in ("h2", "li", "figcaption"):
            self._in = tag

    def handle_data(self, data: str) -> None:
        if self._in and data.strip():
            self.events.append((self._in, data.strip()))
            self._in = None


def test_pictures_follow_the_line_they_illustrate_and_nothing_is_external() -> None:
    with rawmmap.map_anonymous(4 * P) as m:
        before = rawmmap.pages(m.address, m.length)
        m[0] = 1
        after = rawmmap.pages(m.address, m.length)
    lesson = FakeLesson(
        "demo-one", "One <lesson>", ["first line", "second line", "third line"],
        [Picture("fresh: nothing", [("fresh", before)], at=1),
         Picture("after a write", [("before", before), ("after", after)], at=2)],
    )  # fmt: skip
    page = tour_html([(3, lesson), (4, FakeLesson("demo-two", "Two", ["only"], ok=False))])
    outline = Outline()
    outline.feed(page)
    events = outline.events
    at = events.index(("h2", "3. One <lesson>"))
    assert events[at + 1 : at + 8] == [
        ("li", "first line"), ("figure", ""), ("figcaption", "fresh: nothing"),
        ("li", "second line"), ("figure", ""), ("figcaption", "after a write"),
        ("li", "third line"),
    ]  # fmt: skip
    assert ("h2", "4. Two") in events
    assert all(u.startswith("#") for u in outline.urls), outline.urls  # in-page links only
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)
    assert "<script" not in page and "&lt;it&gt;" in page and "why &amp; how" in page
    assert page.count("<svg") == 2
    assert '<ol start="3">' in page  # numbered as in the tour
    assert "✘ DIFFERED:" in page and "— not shown here:" in page and "run as root" in page
    assert "1 of 2 lessons behaved as taught" in page
