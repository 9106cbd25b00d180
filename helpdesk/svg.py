"""Small server-side SVG charts, without dependencies: a vertical bar chart (stacked or grouped series, with an
optional percentage line) and a horizontal bar chart.

The output is an ``<svg>`` element to put inline in a page (no script, no style attribute, no external
reference: it passes a strict Content-Security-Policy and prints). It is deterministic — the same figures give
the same bytes — and well-formed XML, so tests parse it.

- **Accessible**: ``role="img"`` with an ``aria-label`` (the title) and ``aria-describedby`` pointing at
  ``<desc>``; every bar carries a ``<title>`` naming its category, series and value; values and axis labels are
  printed as text (the page also shows the figures as a table).
- **Survives black-and-white printing**: each series has a grey level *and* a texture of its own (solid,
  hatching, dots, grid, lines), outlined in black, repeated in the legend; values are printed on or next to the
  bars; the percentage line is black with white markers, its values printed in a row under the axis.
- **Safe**: every piece of text goes through ``markupsafe.escape``; numbers are formatted here.

Sizes are in user units of a ``viewBox`` 800 wide, scaled to the width of the page: on A4 portrait (about 180 mm
of text width) a 13-unit font prints at about 8 pt.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

SVG_NS: Final = "http://www.w3.org/2000/svg"
FONT: Final = "DejaVu Sans, Arial, Helvetica, sans-serif"
FONT_SIZE: Final = 13
SMALL: Final = 11
MUTED_FILL: Final = "#e6e6e6"
GRID: Final = "#b3b3b3"
CHART_ID = re.compile(r"[a-z][a-z0-9-]{0,40}")


@dataclass(frozen=True)
class Fill:
    """A series' look: a base colour with a texture drawn in ``ink``. Fills differ by grey level and texture."""

    base: str
    ink: str
    texture: str  # solid, diagonal, cross, dots, horizontal, backslash


# In order of use. On a black-and-white page: very dark; light with dark hatching; mid grey with a white grid;
# white with dots; light with dark lines; dark with white back-hatching.
FILLS: Final[tuple[Fill, ...]] = (
    Fill("#1f4e79", "#1f4e79", "solid"),
    Fill("#f2c14e", "#5c4300", "diagonal"),
    Fill("#c0392b", "#ffffff", "cross"),
    Fill("#ffffff", "#222222", "dots"),
    Fill("#9ecae1", "#08306b", "horizontal"),
    Fill("#5e5e5e", "#ffffff", "backslash"),
)
TILE: Final = 8
TEXTURES: Final[dict[str, str]] = {
    "diagonal": '<path d="M-2,2 L2,-2 M0,8 L8,0 M6,10 L10,6" stroke="{ink}" stroke-width="1.6"/>',
    "backslash": '<path d="M-2,6 L2,10 M0,0 L8,8 M6,-2 L10,2" stroke="{ink}" stroke-width="1.6"/>',
    "cross": '<path d="M0,4 H8 M4,0 V8" stroke="{ink}" stroke-width="1.3"/>',
    "horizontal": '<path d="M0,4 H8" stroke="{ink}" stroke-width="1.6"/>',
    "dots": '<circle cx="2" cy="2" r="1.3" fill="{ink}"/><circle cx="6" cy="6" r="1.3" fill="{ink}"/>',
}


@dataclass(frozen=True)
class Series:
    """A named row of values, one per category; ``fill`` indexes FILLS (default: the series' position)."""

    label: str
    values: Sequence[float]
    fill: int | None = None


@dataclass(frozen=True)
class PercentSeries:
    """Shares (0..1, or None where there is nothing to share) drawn as a line on a 0-100 % axis at the right."""

    label: str
    values: Sequence[float | None]
    short_label: str = "%"  # heads the row of values printed under the axis


@dataclass(frozen=True)
class Category:
    """One position on the x axis: its label, an optional second line (a month name), and whether it is muted
    (a non-working day, shaded behind the bars)."""

    label: str
    sublabel: str = ""
    muted: bool = False


# -- the charts -----------------------------------------------------------------------------------------------

def bar_chart(*, chart_id: str, title: str, description: str, categories: Sequence[Category],
              series: Sequence[Series], stacked: bool = True, percent: PercentSeries | None = None,
              y_label: str = "", x_label: str = "", muted_label: str = "", width: int = 800,
              plot_height: int = 220) -> Markup:
    """A vertical bar chart: ``series`` stacked (totals printed above the bars, each segment's value inside it
    when there is room) or grouped side by side (each value above its bar); with ``percent``, a line on a
    0-100 % axis at the right whose values are also printed in a row under the categories. Muted categories
    are shaded and named ``muted_label`` in the legend."""
    cid = _check_id(chart_id)
    n = len(categories)
    if any(len(s.values) != n for s in series) or (percent is not None and len(percent.values) != n):
        raise ValueError("every series needs one value per category")
    fills = [_fill_index(s, position) for position, s in enumerate(series)]
    legend: list[tuple[str, str]] = [(s.label, f"fill:{index}") for s, index in zip(series, fills)]
    if percent is not None:
        legend.append((percent.label, "line"))
    if muted_label and any(c.muted for c in categories):
        legend.append((muted_label, "muted"))

    left, right = 64, (52 if percent is not None else 16)
    plot_w = width - left - right
    legend_svg, legend_h = _legend(cid, legend, x=left, y=4, max_width=plot_w)
    top = legend_h + 26  # room for the value printed above the tallest bar
    bottom_y = top + plot_height
    has_sub = any(c.sublabel for c in categories)
    label_y = bottom_y + 17
    sub_y = label_y + 15
    strip_y = (sub_y if has_sub else label_y) + (19 if percent is not None else 0)
    x_label_y = strip_y + (22 if x_label else 0)
    height = x_label_y + 8

    if stacked:
        peak = max((sum(s.values[i] for s in series) for i in range(n)), default=0)
    else:
        peak = max((v for s in series for v in s.values), default=0)
    ticks = nice_ticks(peak)
    y_max = ticks[-1]

    def y_of(value: float) -> float:
        return bottom_y - value / y_max * plot_height

    band = plot_w / max(n, 1)
    bar_w = band * 0.72
    out = [_head(cid, title, description, width, height), _defs(cid, fills), legend_svg]

    for i, category in enumerate(categories):  # shading first, under the grid and the bars
        if category.muted:
            out.append(_rect(left + i * band, top, band, plot_height, fill=MUTED_FILL))
    for tick in ticks:
        y = y_of(tick)
        if tick:
            out.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(left + plot_w)}" y2="{_n(y)}" stroke="{GRID}" '
                       f'stroke-width="0.8" stroke-dasharray="3 3"/>')
        out.append(_text(left - 6, y + 4, _num(tick), anchor="end", size=12))
    if y_label:
        out.append(f'<text transform="rotate(-90)" x="{_n(-(top + plot_height / 2))}" y="16" '
                   f'text-anchor="middle" font-size="12">{escape(y_label)}</text>')

    for i, category in enumerate(categories):
        x0 = left + i * band + (band - bar_w) / 2
        name = category.label + (f" {category.sublabel}" if category.sublabel else "")
        if stacked:
            base = 0.0
            nonzero = sum(1 for s in series if s.values[i])
            for s, index in zip(series, fills):
                value = s.values[i]
                if not value:
                    continue
                y1, y2 = y_of(base + value), y_of(base)
                out.append(_bar(cid, index, x0, y1, bar_w, y2 - y1, f"{name} — {s.label}: {_num(value)}"))
                if nonzero > 1 and y2 - y1 >= 14 and _text_width(_num(value), SMALL) <= bar_w + 4:
                    out.append(_text(x0 + bar_w / 2, (y1 + y2) / 2 + 4, _num(value), size=SMALL, halo=True))
                base += value
            if base:
                out.append(_text(x0 + bar_w / 2, y_of(base) - 4, _num(base), size=12, bold=True))
        else:
            inner = bar_w / max(len(series), 1)
            for position, (s, index) in enumerate(zip(series, fills)):
                value = s.values[i]
                if not value:
                    continue
                x = x0 + position * inner
                out.append(_bar(cid, index, x, y_of(value), inner, y_of(0) - y_of(value),
                                f"{name} — {s.label}: {_num(value)}"))
                out.append(_text(x + inner / 2, y_of(value) - 4, _num(value), size=12, bold=True))
        centre = left + i * band + band / 2
        if category.label:
            out.append(_text(centre, label_y, category.label, size=12))
        if category.sublabel:
            out.append(_text(centre, sub_y, category.sublabel, size=SMALL))
    out.append(f'<line x1="{_n(left)}" y1="{_n(bottom_y)}" x2="{_n(left + plot_w)}" y2="{_n(bottom_y)}" '
               f'stroke="#000" stroke-width="1.2"/>')

    if percent is not None:
        out.extend(_percent_line(percent, left=left, band=band, plot_w=plot_w, top=top, bottom_y=bottom_y,
                                 plot_height=plot_height, strip_y=strip_y, categories=categories))
    if x_label:
        out.append(_text(left + plot_w / 2, x_label_y, x_label, size=12))
    out.append("</svg>")
    return Markup("".join(out))


def hbar_chart(*, chart_id: str, title: str, description: str, labels: Sequence[str], values: Sequence[float],
               fills: Sequence[int] | None = None, x_label: str = "", width: int = 800) -> Markup:
    """A horizontal bar chart: one bar per label, its value printed at the end of the bar (0 included);
    ``fills`` picks each bar's fill (default: all the first)."""
    cid = _check_id(chart_id)
    if len(values) != len(labels) or (fills is not None and len(fills) != len(labels)):
        raise ValueError("every label needs one value (and one fill)")
    fill_of = list(fills) if fills is not None else [0] * len(labels)
    label_w = min(max((_text_width(label, FONT_SIZE) for label in labels), default=0) + 16, width * 0.4)
    label_w = max(label_w, 100)
    left, right, row, bar_h, top = label_w, 56, 32, 20, 8
    plot_w = width - left - right
    bottom_y = top + row * len(labels)
    height = bottom_y + 22 + (22 if x_label else 0) + 6
    ticks = nice_ticks(max(values, default=0))
    x_max = ticks[-1]

    def x_of(value: float) -> float:
        return left + value / x_max * plot_w

    out = [_head(cid, title, description, width, height), _defs(cid, sorted(set(fill_of)))]
    for tick in ticks:
        x = x_of(tick)
        if tick:
            out.append(f'<line x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(bottom_y)}" stroke="{GRID}" '
                       f'stroke-width="0.8" stroke-dasharray="3 3"/>')
        out.append(_text(x, bottom_y + 17, _num(tick), size=12))
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + i * row + (row - bar_h) / 2
        out.append(_text(left - 8, y + bar_h / 2 + 5, label, anchor="end"))
        if value:
            out.append(_bar(cid, fill_of[i], left, y, x_of(value) - left, bar_h, f"{label}: {_num(value)}"))
        out.append(_text(x_of(value) + 6, y + bar_h / 2 + 5, _num(value), anchor="start", bold=True))
    out.append(f'<line x1="{_n(left)}" y1="{_n(top)}" x2="{_n(left)}" y2="{_n(bottom_y)}" stroke="#000" '
               f'stroke-width="1.2"/>')
    if x_label:
        out.append(_text(left + plot_w / 2, bottom_y + 39, x_label, size=12))
    out.append("</svg>")
    return Markup("".join(out))


def nice_ticks(peak: float, *, count: int = 4) -> list[float]:
    """Axis ticks from 0 to a round number at or above ``peak``, in steps of 1, 2 or 5 times a power of ten
    (never below 1: the charts count things); [0, 1] when there is nothing."""
    if peak <= 0:
        return [0, 1]
    raw = peak / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1)
    return [step * k for k in range(math.ceil(peak / step - 1e-9) + 1)]


# -- pieces ---------------------------------------------------------------------------------------------------

def _percent_line(percent: PercentSeries, *, left: float, band: float, plot_w: float, top: float, bottom_y: float,
                  plot_height: float, strip_y: float, categories: Sequence[Category]) -> list[str]:
    out: list[str] = []
    right_x = left + plot_w
    for share in (0, 25, 50, 75, 100):
        y = bottom_y - share / 100 * plot_height
        out.append(_text(right_x + 6, y + 4, f"{share} %", anchor="start", size=SMALL))
    out.append(f'<line x1="{_n(right_x)}" y1="{_n(top)}" x2="{_n(right_x)}" y2="{_n(bottom_y)}" stroke="#000" '
               f'stroke-width="0.8"/>')
    points: list[tuple[float, float, int]] = []
    runs: list[list[tuple[float, float, int]]] = []
    for i, value in enumerate(percent.values):
        if value is None:
            if points:
                runs.append(points)
            points = []
            continue
        points.append((left + i * band + band / 2, bottom_y - max(0.0, min(1.0, value)) * plot_height, i))
    if points:
        runs.append(points)
    for run in runs:
        if len(run) > 1:
            coords = " ".join(f"{_n(x)},{_n(y)}" for x, y, _ in run)
            out.append(f'<polyline points="{coords}" fill="none" stroke="#000" stroke-width="2" '
                       f'stroke-linejoin="round"/>')
    for run in runs:
        for x, y, i in run:
            value = percent.values[i]
            label = f"{categories[i].label} {categories[i].sublabel}".strip()
            out.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3.5" fill="#fff" stroke="#000" stroke-width="1.5">'
                       f'<title>{escape(label)} — {escape(percent.label)}: {_percent(value)}</title></circle>')
    out.append(_text(left - 6, strip_y, percent.short_label, anchor="end", size=SMALL, bold=True))
    for i, value in enumerate(percent.values):
        out.append(_text(left + i * band + band / 2, strip_y, "–" if value is None else str(round(value * 100)),
                         size=SMALL))
    return out


def _legend(cid: str, items: Sequence[tuple[str, str]], *, x: float, y: float,
            max_width: float) -> tuple[str, float]:
    """The legend in rows across the top: (svg, height)."""
    if not items:
        return "", 0
    out, cx, cy, row_h = [], x, y, 20
    for label, kind in items:
        item_w = 22 + _text_width(label, 12) + 18
        if cx > x and cx + item_w > x + max_width:
            cx, cy = x, cy + row_h
        if kind == "line":
            out.append(f'<line x1="{_n(cx)}" y1="{_n(cy + 8)}" x2="{_n(cx + 16)}" y2="{_n(cy + 8)}" stroke="#000" '
                       f'stroke-width="2"/><circle cx="{_n(cx + 8)}" cy="{_n(cy + 8)}" r="3.5" fill="#fff" '
                       f'stroke="#000" stroke-width="1.5"/>')
        elif kind == "muted":
            out.append(_rect(cx, cy + 1, 16, 14, fill=MUTED_FILL, stroke="#999"))
        else:
            out.append(_rect(cx, cy + 1, 16, 14, fill=_fill_ref(cid, int(kind.split(":")[1])), stroke="#222"))
        out.append(_text(cx + 22, cy + 13, label, anchor="start", size=12))
        cx += item_w
    return f'<g class="legend">{"".join(out)}</g>', cy - y + row_h


def _head(cid: str, title: str, description: str, width: float, height: float) -> str:
    return (f'<svg xmlns="{SVG_NS}" id="{cid}" class="chart" viewBox="0 0 {_n(width)} {_n(height)}" width="100%" '
            f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(title)}" '
            f'aria-describedby="{cid}-desc" font-family="{FONT}" font-size="{FONT_SIZE}" fill="#000">'
            f'<title id="{cid}-title">{escape(title)}</title><desc id="{cid}-desc">{escape(description)}</desc>')


def _defs(cid: str, fills: Sequence[int]) -> str:
    """The patterns of the textured fills this chart uses (ids prefixed with the chart's, unique in a page)."""
    patterns = []
    for index in sorted(set(fills)):
        fill = FILLS[index % len(FILLS)]
        if fill.texture == "solid":
            continue
        patterns.append(
            f'<pattern id="{cid}-fill{index}" patternUnits="userSpaceOnUse" width="{TILE}" height="{TILE}">'
            f'<rect width="{TILE}" height="{TILE}" fill="{fill.base}"/>{TEXTURES[fill.texture].format(ink=fill.ink)}'
            f'</pattern>')
    return f"<defs>{''.join(patterns)}</defs>" if patterns else ""


def _fill_ref(cid: str, index: int) -> str:
    fill = FILLS[index % len(FILLS)]
    return fill.base if fill.texture == "solid" else f"url(#{cid}-fill{index})"


def _fill_index(series: Series, position: int) -> int:
    return (series.fill if series.fill is not None else position) % len(FILLS)


def _bar(cid: str, index: int, x: float, y: float, w: float, h: float, tip: str) -> str:
    return (f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{_fill_ref(cid, index)}" '
            f'stroke="#222" stroke-width="0.7"><title>{escape(tip)}</title></rect>')


def _rect(x: float, y: float, w: float, h: float, *, fill: str, stroke: str | None = None) -> str:
    outline = f' stroke="{stroke}" stroke-width="0.7"' if stroke else ""
    return f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{fill}"{outline}/>'


def _text(x: float, y: float, content: str, *, anchor: str = "middle", size: int = FONT_SIZE, bold: bool = False,
          halo: bool = False) -> str:
    extra = ' font-weight="bold"' if bold else ""
    if halo:  # a white outline under the glyphs keeps a label readable on a hatched bar
        extra += ' stroke="#fff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'
    return (f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" font-size="{size}"{extra}>'
            f"{escape(content)}</text>")


def _text_width(content: str, size: float) -> float:
    """A deterministic estimate of a text's width (no font metrics on the server)."""
    return len(content) * size * 0.6


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)} %"


def _n(value: float) -> str:
    """A coordinate with at most one decimal, the same text for the same number."""
    if abs(value) < 0.05:
        return "0"  # never "-0"
    return f"{value:.1f}".removesuffix(".0")


def _check_id(chart_id: str) -> str:
    if not CHART_ID.fullmatch(chart_id):
        raise ValueError(f"chart ids are lower-case letters, digits and hyphens: {chart_id!r}")
    return chart_id
