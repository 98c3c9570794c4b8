"""The tour as one HTML page: built right, and opened in a real (headless) Chromium."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any

import rawmmap
from rawmmap._html import tour_html
from rawmmap._pages import STATES
from rawmmap._svg import COLOURS, Picture
from rawmmap._tour import demo_names, lesson_module, run_demo

from . import browser
from .privilege import become_nobody, pr_set_dumpable

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


# -- the real tour, as a person sees it ------------------------------------------------


def rawmmap_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rawmmap", *args], capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip


def test_the_tour_page_in_chromium(tmp_path: pathlib.Path) -> None:
    browser.chromium()  # skips, naming the package, where there is no browser
    page = tmp_path / "tour.html"
    proc = rawmmap_cli("tour", "--json", "--html", str(page))
    assert proc.returncode == 0, proc.stderr
    titles = [lesson["title"] for lesson in json.loads(proc.stdout)["lessons"]]
    assert len(titles) == len(demo_names())
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(?!#)", html)  # self-contained

    dom = browser.dump_dom(page.as_uri(), tmp_path / "profile")
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", dom)))
    for title in titles:
        assert title in text, title
    assert dom.count("<figure") >= 7 and dom.count('class="page"') > 300
    if os.geteuid() == 0:
        assert "PFN 0x" in dom  # the copy-on-write picture shows real frames

    pixels = browser.screenshot(page.as_uri(), tmp_path / "tour.png", tmp_path / "profile")
    differs, colours = browser.ink(pixels)
    assert pixels.shape[0] >= 1000 and differs > 0.05 and colours > 50, (differs, colours)


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_the_copy_on_write_picture_shows_both_states_in_chromium(tmp_path: pathlib.Path) -> None:
    browser.chromium()
    page = tmp_path / "cow.html"
    proc = rawmmap_cli("demo", "private-cow", "--html", str(page))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pixels = browser.screenshot(page.as_uri(), tmp_path / "cow.png", tmp_path / "profile")
    seen = {tuple(c) for c in pixels[:, :, :3].reshape(-1, 3)[::7]}
    # the cells are drawn: pages shared after fork (amber), private after the write (blue)
    assert rgb(COLOURS["shared"]) in seen and rgb(COLOURS["private"]) in seen


# -- the pictures the lessons take --------------------------------------------------------


def pictures(name: str) -> list[Picture]:
    lesson = run_demo(name)
    assert lesson.ok, lesson.as_dict()
    return lesson.pictures


def states(rows: list[tuple[str, list[rawmmap.PageInfo]]]) -> list[str]:
    return ["".join(STATES[p.state][0] for p in infos) for _, infos in rows]


def test_demand_paging_pictures_fill_then_empty_then_populate() -> None:
    fill, dontneed, populate = pictures("demand-paging")
    n = len(fill.rows[0][1])
    assert states(fill.rows) == ["." * n, "#" + "." * (n - 1),
                                 "#" * (n // 2) + "." * (n // 2), "#" * n]  # fmt: skip
    assert states(dontneed.rows) == ["#" * n, "." * n]
    assert states(populate.rows) == ["#" * n]


def test_copy_on_write_picture_splits_page_0_only() -> None:
    (cow,) = pictures("private-cow")
    assert [label for label, _ in cow.rows][:2] == ["parent, after fork", "child, after fork"]
    assert states(cow.rows) == ["++", "++", "#+", "#+"]
    parent0, child0, parent1, child1 = (infos for _, infos in cow.rows)
    if os.geteuid() == 0:
        assert [p.pfn for p in parent0] == [p.pfn for p in child0]
        assert child1[0].pfn != parent1[0].pfn == parent0[0].pfn
    assert cow.labels  # the PFNs are written in the cells


def test_past_eof_and_mlock_and_malloc_pictures() -> None:
    (eof,) = pictures("past-eof")
    (row,) = states(eof.rows)
    assert row.endswith("f.") and set(row[:-1]) == {"f"}
    (locked,) = pictures("mlock")
    plain, with_lock = states(locked.rows)
    assert set(plain) == {"."} and set(with_lock) == {"#"}
    # glibc's mmap threshold grows with the process's history: a fresh interpreter, as the CLI
    code = (
        "from rawmmap._tour import run_demo\n"
        "lesson = run_demo('malloc-uses-mmap')\n"
        "(space,) = lesson.pictures\n"
        "lo, hi = space.highlight\n"
        "print(lesson.ok, sum(v.start < hi and lo < v.end for v in space.areas))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "1"]


def test_without_root_the_exclusive_bits_tell_the_copy_on_write_story(
    tmp_path: pathlib.Path,
) -> None:
    if os.geteuid() != 0:
        lesson = run_demo("private-cow").as_dict()
    else:
        option = pr_set_dumpable(tmp_path)
        lesson_module("private-cow")  # imported while the files are surely readable

        def as_nobody() -> dict[str, Any]:
            become_nobody(option)
            return run_demo("private-cow").as_dict()

        lesson = rawmmap.run_isolated(as_nobody, timeout=120).returned
    assert lesson["ok"], lesson
    checks = {c["claim"]: c for c in lesson["checks"]}
    pfn = next(c for claim, c in checks.items() if claim.startswith("after fork parent and child"))
    assert pfn["ok"] is None and "root only" in pfn["reason"]
    assert all(c["ok"] for claim, c in checks.items() if "exclusive" in claim)
    assert any("frames hidden, hidden" in line for line in lesson["happened"])
