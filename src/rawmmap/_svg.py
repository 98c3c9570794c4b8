"""Pictures of memory as SVG text: page grids, before/after rows, the address space to scale.

Dependency-free: each function returns one self-contained ``<svg>`` element as
a string (inline attributes, no stylesheet, no external reference), so it can
be written to a file, embedded in an HTML page, or shown by Jupyter.  Every
drawn page is a ``<rect class="page">`` carrying ``data-state`` (see
``rawmmap._pages.STATES``), ``data-index`` and ``data-address``, with a
``<title>`` tooltip giving the PFN and the kernel's flags; a grid too long to
draw page by page draws ``<rect class="bucket">`` cells of ``data-count``
pages each instead, coloured by their commonest state.  Tests parse these
attributes, and a reader can too.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from ._introspect import VMA
from ._pages import STATES, PageInfo, pages

if TYPE_CHECKING:  # _mapping imports nothing of ours; only its type is needed here
    from ._mapping import Mapping

__all__ = [
    "COLOURS", "Picture", "address_space", "before_after", "mapping_html", "page_grid",
    "page_rows",
]  # fmt: skip

#: state -> fill colour
COLOURS: dict[str, str] = {
    "absent": "#eef0f3",
    "private": "#2563eb",
    "shared": "#f59e0b",
    "zero": "#5eead4",
    "file": "#16a34a",
    "swapped": "#6b7280",
}
_STROKE = "#c4c8cf"
_FONT = 'font-family="ui-sans-serif,system-ui,sans-serif"'
_CELL, _GAP = 16, 3  # a plain cell and the space between cells
_LABELLED = (104, 34)  # a cell that shows its PFN: width, height
_LINE = 18  # one line of text
_THIN = 'stroke="#fff" stroke-width=".5"'


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label={quoteattr(label)} '
        f'{_FONT} font-size="13">' + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f" {k.rstrip('_').replace('_', '-')}={quoteattr(v)}" for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{escape(text)}</text>'


def _tooltip(i: int, p: PageInfo) -> str:
    parts = [f"page {i} at {p.address:#x}: {p.state}"]
    if p.pfn is not None:
        parts.append(f"PFN {p.pfn:#x}")
    if p.mapcount is not None:
        parts.append(f"mapped {p.mapcount} times")
    if p.soft_dirty:
        parts.append("soft-dirty")
    if p.flags:
        parts.append(p.flags)
    return ", ".join(parts)


def _legend(
    counts: Counter[str], x: float, y: float, show_counts: bool = True
) -> tuple[list[str], float]:
    """The states that occur, each with its colour and meaning; returns (body, height).

    ``data-count`` always holds the count; the text shows it for a single grid
    only (a sum over several rows would mean nothing to a reader).
    """
    body = []
    for state in STATES:
        if not counts[state]:
            continue
        tail = f": {counts[state]}" if show_counts else ""
        body.append(
            f'<g class="legend" data-state="{state}" data-count="{counts[state]}">'
            f'<rect x="{x:.1f}" y="{y + 3:.1f}" width="12" height="12" rx="2" '
            f'fill="{COLOURS[state]}" stroke="{_STROKE}"/>'
            + _text(x + 18, y + 13, f"{state} — {STATES[state][1]}{tail}")
            + "</g>"
        )
        y += _LINE
    return body, _LINE * len(body)


def _grid(
    infos: Sequence[PageInfo], x: float, y: float, columns: int, max_cells: int, labels: bool
) -> tuple[list[str], float, float]:
    """The cells of one grid at (x, y); returns (body, width, height)."""
    body: list[str] = []
    n = len(infos)
    per = max(1, math.ceil(n / max_cells))
    cw, ch = _LABELLED if labels and per == 1 else (_CELL, _CELL)
    cells = math.ceil(n / per)
    cols = max(1, min(columns, cells))
    for c in range(cells):
        cx = x + (c % cols) * (cw + _GAP)
        cy = y + (c // cols) * (ch + _GAP)
        group = infos[c * per : (c + 1) * per]
        if per == 1:
            p = group[0]
            body.append(
                f'<rect class="page" data-index="{c}" data-address="{p.address:#x}" '
                f'data-state="{p.state}" data-pfn="{"" if p.pfn is None else p.pfn}" '
                f'x="{cx:.1f}" y="{cy:.1f}" width="{cw}" height="{ch}" rx="2" '
                f'fill="{COLOURS[p.state]}" stroke="{_STROKE}">'
                f"<title>{escape(_tooltip(c, p))}</title></rect>"
            )
            if p.soft_dirty:
                body.append(
                    f'<circle class="soft-dirty" cx="{cx + cw - 4:.1f}" cy="{cy + 4:.1f}" '
                    f'r="2.5" fill="#dc2626"/>'
                )
            if labels:
                ink = "#111827" if p.state in ("absent", "zero") else "#ffffff"
                body.append(_text(cx + cw / 2, cy + 14, f"page {c}", text_anchor="middle",
                                  fill=ink, font_size="11"))  # fmt: skip
                pfn = "no frame" if not p.present else (
                    "PFN hidden" if p.pfn is None else f"PFN {p.pfn:#x}")  # fmt: skip
                body.append(_text(cx + cw / 2, cy + 28, pfn, text_anchor="middle", fill=ink,
                                  font_size="11", class_="pfn"))  # fmt: skip
            continue
        counts = Counter(p.state for p in group)
        state = counts.most_common(1)[0][0]
        summary = ", ".join(f"{k} {v}" for k, v in counts.most_common())
        first = group[0]
        body.append(
            f'<rect class="bucket" data-index="{c}" data-address="{first.address:#x}" '
            f'data-state="{state}" data-count="{len(group)}" '
            f'data-counts={quoteattr(summary)} x="{cx:.1f}" y="{cy:.1f}" width="{cw}" '
            f'height="{ch}" rx="2" fill="{COLOURS[state]}" stroke="{_STROKE}">'
            f"<title>pages {c * per}-{c * per + len(group) - 1} at {first.address:#x}: "
            f"{escape(summary)}</title></rect>"
        )
    rows = math.ceil(cells / cols)
    return body, cols * (cw + _GAP) - _GAP, rows * (ch + _GAP) - _GAP


def page_rows(
    rows: Sequence[tuple[str, Sequence[PageInfo]]],
    *,
    title: str = "",
    columns: int = 32,
    max_cells: int = 1024,
    labels: bool | None = None,
) -> str:
    """Several labelled page grids in one picture, one shared legend (e.g. parent and child).

    ``labels`` writes each page's PFN in its cell (default: when every row has
    at most 8 pages); a row longer than ``max_cells`` pages is drawn in buckets
    of ``ceil(n / max_cells)`` pages, and the picture says so.
    """
    if labels is None:
        labels = all(len(r) <= 8 for _, r in rows)
    if labels:
        columns = min(columns, 8)
    body: list[str] = []
    y = 8.0
    width = 0.0
    if title:
        body.append(_text(8, y + 14, title, font_weight="bold", font_size="15", class_="title"))
        y += _LINE + 8
    counts: Counter[str] = Counter()
    for label, infos in rows:
        counts.update(p.state for p in infos)
        per = max(1, math.ceil(len(infos) / max_cells))
        note = f" — each cell is {per} pages" if per > 1 else ""
        count = f"{sum(p.present for p in infos)} of {len(infos)} present"
        at = 8 + 6.6 * len(label + note) + 14  # after the label (an estimate: no font metrics)
        body.append(_text(8, y + 13, f"{label}{note}", class_="row-label"))
        body.append(_text(at, y + 13, count, fill="#6b7280", class_="row-count"))
        width = max(width, at + 6.6 * len(count) + 8)
        y += _LINE + 2
        body.append(f'<g class="grid" data-label={quoteattr(label)} data-pages="{len(infos)}">')
        cells, w, h = _grid(infos, 8, y, columns, max_cells, labels)
        body.extend(cells)
        body.append("</g>")
        width = max(width, w + 16)
        y += (h if infos else 0) + 14
    legend, h = _legend(counts, 8, y, show_counts=len(rows) == 1)
    body.extend(legend)
    y += h + 8
    width = max(width, 8 + 7.2 * max((len(STATES[s][1]) + len(s) + 12 for s in counts), default=0))
    return _svg(width, y, body, title or "pages")


def page_grid(
    infos: Sequence[PageInfo],
    *,
    title: str = "",
    columns: int = 32,
    max_cells: int = 1024,
    labels: bool | None = None,
) -> str:
    """One grid, one cell per page (wrapping at ``columns``), coloured by state, with a legend."""
    label = f"{len(infos)} pages" + (f" from {infos[0].address:#x}" if infos else "")
    return page_rows([(label, infos)], title=title, columns=columns, max_cells=max_cells,
                     labels=labels)  # fmt: skip


def before_after(
    before: Sequence[PageInfo],
    after: Sequence[PageInfo],
    *,
    title: str = "",
    names: tuple[str, str] = ("before", "after"),
    labels: bool | None = None,
) -> str:
    """The same pages twice, before and after something happened."""
    return page_rows([(names[0], before), (names[1], after)], title=title, labels=labels)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.0f} {unit}" if unit == "B" or n == int(n) else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return ""  # pragma: no cover


def _vma_colour(v: VMA) -> str:
    if v.path.startswith("["):
        return {"[heap]": "#f59e0b", "[stack]": "#a855f7"}.get(v.path, "#9ca3af")
    if v.path:
        return "#16a34a" if v.inode else "#0d9488"  # a file, or memfd/shmem without inode
    return "#2563eb"


def address_space(
    areas: Sequence[VMA],
    *,
    highlight: tuple[int, int] | None = None,
    title: str = "",
    width: int = 900,
    split: int = 1 << 26,
) -> str:
    """A process's VMAs as bands, to scale.

    The user address space is mostly empty (128 TiB with a few hundred MiB in
    use), so it is cut where a gap is wider than ``split`` bytes: each run of
    VMAs gets a row of its own, drawn to that row's scale (printed), and the
    cut gap is written between rows.  Every VMA is a ``<rect class="vma">``
    with ``data-start``, ``data-end`` and ``data-path`` (at least 1 px wide);
    the VMAs overlapping ``highlight`` are outlined in red and labelled.
    """
    ordered = sorted(areas, key=lambda v: v.start)
    runs: list[list[VMA]] = []
    for v in ordered:
        if runs and v.start - runs[-1][-1].end <= split:
            runs[-1].append(v)
        else:
            runs.append([v])
    body: list[str] = []
    y = 8.0
    if title:
        body.append(_text(8, y + 14, title, font_weight="bold", font_size="15", class_="title"))
        y += _LINE + 8
    band = 26
    for r, run in enumerate(runs):
        lo, hi = run[0].start, run[-1].end
        scale = (width - 16) / (hi - lo)
        body.append(_text(8, y + 13, f"{lo:#x}-{hi:#x} ({_size(hi - lo)}, "
                                     f"1 px ≈ {_size(int((hi - lo) / (width - 16)))})",
                          class_="run-label"))  # fmt: skip
        y += _LINE
        body.append(f'<g class="run" data-start="{lo:#x}" data-end="{hi:#x}">')
        marks: list[tuple[float, VMA]] = []
        for v in run:
            x = 8 + (v.start - lo) * scale
            w = max(1.0, v.size * scale)
            hot = highlight is not None and v.start < highlight[1] and highlight[0] < v.end
            stroke = 'stroke="#dc2626" stroke-width="2"' if hot else _THIN
            name = v.kind if v.path else "anonymous"
            body.append(
                f'<rect class="vma" data-start="{v.start:#x}" data-end="{v.end:#x}" '
                f"data-path={quoteattr(v.path)} data-perms={quoteattr(v.perms)} "
                f'data-highlight="{int(hot)}" x="{x:.2f}" y="{y:.1f}" width="{w:.2f}" '
                f'height="{band}" fill="{_vma_colour(v)}" {stroke}>'
                f"<title>{escape(f'{v.start:#x}-{v.end:#x} {v.perms} {_size(v.size)} {name}')}"
                f"</title></rect>"
            )
            if w > 7.5 * len(name) + 8:
                body.append(_text(x + 4, y + 17, name, fill="#ffffff", font_size="11"))
            if hot:
                marks.append((x + w / 2, v))
        body.append("</g>")
        y += band + 4
        for mx, v in marks:
            body.append(
                f'<line x1="{mx:.1f}" y1="{y - 4:.1f}" x2="{mx:.1f}" y2="{y + 8:.1f}" '
                f'stroke="#dc2626" stroke-width="2"/>'
            )
            anchor = "start" if mx < width / 2 else "end"
            body.append(_text(mx, y + 22, f"{v.kind if v.path else 'anonymous'} "
                                          f"{v.perms} {_size(v.size)}", fill="#dc2626",
                              text_anchor=anchor, class_="highlight"))  # fmt: skip
            y += 26
        if r + 1 < len(runs):
            gap = runs[r + 1][0].start - hi
            body.append(_text(width / 2, y + 14, f"⋮ {_size(gap)} not mapped ⋮",
                              text_anchor="middle", fill="#6b7280", class_="gap"))  # fmt: skip
            y += _LINE + 6
    legend = [("file", "#16a34a"), ("anonymous", "#2563eb"), ("[heap]", "#f59e0b"),
              ("[stack]", "#a855f7"), ("memfd / shmem", "#0d9488"), ("kernel ([vdso] …)",
                                                                      "#9ca3af")]  # fmt: skip
    x = 8.0
    for name, colour in legend:
        body.append(f'<rect x="{x:.1f}" y="{y + 4:.1f}" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 16, y + 14, name, font_size="12"))
        x += 30 + 7.5 * len(name)
    y += _LINE + 8
    return _svg(width, y, body, title or "address space")


def mapping_html(m: Mapping) -> str:
    """What ``Mapping._repr_html_`` shows in Jupyter: its pages as a grid, read from pagemap.

    A closed mapping has no pages to read (its addresses may belong to
    someone else now): it says so instead.
    """
    head = (
        f"Mapping of {m.length} bytes at {m.address:#x}, prot={m.prot!r}, flags={m.flags!r}"
        if not m.closed
        else "closed Mapping"
    )
    if m.closed:
        return f'<div class="rawmmap-mapping"><p>{escape(head)}</p></div>'
    grid = page_grid(pages(m.address, m.length), title=head)
    return f'<div class="rawmmap-mapping">{grid}</div>'


@dataclass
class Picture:
    """Memory seen at one moment of an experiment, drawn when needed (the tour's pictures).

    Either ``rows`` of labelled page lists (``rawmmap.pages`` results, drawn by
    :func:`page_rows`) or ``areas``, a process's VMAs (drawn by
    :func:`address_space`, the ones overlapping ``highlight`` marked).  ``at``
    is how many lines of the lesson's "what happened" precede it, so the page
    shows the picture right after the sentence that describes it.
    """

    caption: str
    rows: list[tuple[str, list[PageInfo]]] = field(default_factory=list)
    at: int = 0
    labels: bool | None = None
    areas: list[VMA] | None = None
    highlight: tuple[int, int] | None = None

    def svg(self) -> str:
        """The picture as one SVG element."""
        if self.areas is not None:
            return address_space(self.areas, highlight=self.highlight)
        return page_rows(self.rows, labels=self.labels)
