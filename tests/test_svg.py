"""The SVG pictures, parsed back: one cell per page, in the state the kernel reports."""

from __future__ import annotations

import os
import pathlib
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

import rawmmap
from rawmmap._svg import address_space, before_after, mapping_html, page_grid, page_rows

P = rawmmap.PAGESIZE
NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "http" not in svg.replace("http://www.w3.org/2000/svg", "")  # nothing external
    return root


def cells(root: ET.Element, cls: str = "page") -> list[ET.Element]:
    return root.findall(f".//svg:rect[@class='{cls}']", NS)


def legend(root: ET.Element) -> dict[str, int]:
    return {g.get("data-state", ""): int(g.get("data-count", "0"))
            for g in root.findall(".//svg:g[@class='legend']", NS)}  # fmt: skip


def span(band: ET.Element) -> int:
    return int(band.get("data-end", ""), 16) - int(band.get("data-start", ""), 16)


def test_one_cell_per_page_in_the_state_the_kernel_reports() -> None:
    with rawmmap.map_anonymous(40 * P) as m:
        m.advise(rawmmap.MADV_NOHUGEPAGE)
        for i in range(0, 40, 3):
            m[i * P] = 1
        infos = rawmmap.pages(m.address, m.length)
        root = parse(page_grid(infos, title="every third page written"))
    drawn = cells(root)
    assert len(drawn) == 40
    assert [c.get("data-state") for c in drawn] == [
        "private" if i % 3 == 0 else "absent" for i in range(40)
    ]
    assert [int(c.get("data-address", ""), 16) for c in drawn] == [p.address for p in infos]
    assert [c.get("data-index") for c in drawn] == [str(i) for i in range(40)]
    assert legend(root) == {"private": 14, "absent": 26}
    title = root.find(".//svg:text[@class='title']", NS)
    assert title is not None and title.text == "every third page written"
    # wrapped at 32 columns: the 33rd cell starts a second row
    assert drawn[32].get("x") == drawn[0].get("x") and drawn[32].get("y") != drawn[0].get("y")


def test_a_long_mapping_is_drawn_in_buckets_with_counts() -> None:
    with rawmmap.map_anonymous(5000 * P) as m:
        m.advise(rawmmap.MADV_NOHUGEPAGE)
        rawmmap.touch(m.address, 2000 * P, write=True)
        root = parse(page_grid(rawmmap.pages(m.address, m.length), max_cells=1024))
    assert cells(root) == []
    buckets = cells(root, "bucket")
    assert len(buckets) == 1000  # ceil(5000 / 1024) = 5 pages per cell
    assert {b.get("data-count") for b in buckets} == {"5"}
    assert [b.get("data-state") for b in buckets] == ["private"] * 400 + ["absent"] * 600
    assert legend(root) == {"private": 2000, "absent": 3000}
    label = root.find(".//svg:text[@class='row-label']", NS)
    assert label is not None and "each cell is 5 pages" in (label.text or "")


def test_before_after_madv_dontneed_empties_the_cells_and_pfns_are_written() -> None:
    with rawmmap.map_anonymous(4 * P) as m:
        m.advise(rawmmap.MADV_NOHUGEPAGE)
        m[0] = m[2 * P] = 1
        before = rawmmap.pages(m.address, m.length)
        m.advise(rawmmap.MADV_DONTNEED)
        after = rawmmap.pages(m.address, m.length)
    root = parse(before_after(before, after, title="MADV_DONTNEED"))
    grids = root.findall(".//svg:g[@class='grid']", NS)
    assert [g.get("data-label") for g in grids] == ["before", "after"]
    states = [[c.get("data-state") for c in cells(g)] for g in grids]
    assert states == [["private", "absent", "private", "absent"], ["absent"] * 4]
    pfn_texts = [t.text for t in grids[0].findall(".//svg:text[@class='pfn']", NS)]
    expect = [
        "no frame" if not p.present else "PFN hidden" if p.pfn is None else f"PFN {p.pfn:#x}"
        for p in before
    ]
    assert pfn_texts == expect
    if os.geteuid() == 0:
        assert pfn_texts[0].startswith("PFN 0x")  # type: ignore[union-attr]


def test_rows_share_one_legend_and_soft_dirty_pages_carry_a_dot() -> None:
    with rawmmap.map_anonymous(2 * P) as m, rawmmap.map_anonymous(2 * P) as n:
        m[0] = 1
        n[0] = n[P] = 1
        a, b = rawmmap.pages(m.address, m.length), rawmmap.pages(n.address, n.length)
    root = parse(page_rows([("m", a), ("n", b)]))
    assert legend(root) == {"private": 3, "absent": 1}
    dots = root.findall(".//svg:circle[@class='soft-dirty']", NS)
    assert len(dots) == sum(p.soft_dirty for p in a + b)


def test_address_space_draws_every_vma_to_scale_and_marks_the_mapping(
    tmp_path: pathlib.Path,
) -> None:
    odd = tmp_path / "a <b> & c"  # names are escaped, not markup
    odd.write_bytes(b"x" * P)
    with rawmmap.map_anonymous(64 * P) as m, rawmmap.map_file(odd):
        areas = rawmmap.vmas()
        root = parse(address_space(areas, highlight=(m.address, m.address + m.length)))
    bands = cells(root, "vma")
    assert [(int(b.get("data-start", ""), 16), int(b.get("data-end", ""), 16)) for b in bands] == [
        (v.start, v.end) for v in sorted(areas, key=lambda v: v.start)
    ]
    assert str(odd) in {b.get("data-path") for b in bands}
    hot = [b for b in bands if b.get("data-highlight") == "1"]
    assert len(hot) == 1 and int(hot[0].get("data-start", ""), 16) <= m.address
    # to scale inside a run: every band wider than 1 px is size * (the run's px per byte)
    for run in root.findall(".//svg:g[@class='run']", NS):
        drawn = [(float(b.get("width", "")), span(b)) for b in run.findall("svg:rect", NS)]
        width, size = max(drawn, key=lambda d: d[1])
        for w, s in drawn:
            assert w == pytest.approx(max(1.0, s * width / size), abs=0.02)
    runs = root.findall(".//svg:g[@class='run']", NS)
    assert len(root.findall(".//svg:text[@class='gap']", NS)) == len(runs) - 1


def test_mapping_html_shows_the_grid_and_a_closed_mapping_says_so() -> None:
    m = rawmmap.map_anonymous(3 * P)
    m[P] = 1
    html = mapping_html(m)
    div = ET.fromstring(html)
    assert div.tag == "div"
    svg = div.find("svg:svg", NS)
    assert svg is not None
    assert [c.get("data-state") for c in cells(svg)] == ["absent", "private", "absent"]
    assert f"{m.address:#x}" in html
    m.close()
    closed = mapping_html(m)
    assert "closed" in closed and "<svg" not in closed


def test_legend_counts_match_states() -> None:
    with rawmmap.map_anonymous(8 * P) as m:
        for i in (0, 1, 5):
            m[i * P] = 1
        infos = rawmmap.pages(m.address, m.length)
    assert legend(parse(page_grid(infos))) == dict(Counter(p.state for p in infos))
