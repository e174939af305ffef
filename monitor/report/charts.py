"""The report's charts, as hand-written inline SVG.

Why not a plotting library: the charts the report needs are few and plain (a daily line
with its CI band, a reference line, day markers, dots with error bars, grouped bars),
and inline SVG keeps the page what it has to be — one small file that opens offline, in
a mail client or a ticket, with scripts disabled, and prints. Plotly's self-contained
HTML embeds ~3.5 MB of JavaScript per file and draws nothing without it; Vega-Lite needs
three libraries inlined (~0.8 MB) and a script to render. Their gain, interactivity,
matters little for a page read once a morning; each point here still has a tooltip
(``<title>``). The cost is this module: the axes and labels are laid out by hand, so it
places every label itself — the last x label anchored at its end (never cut), legends
and annotation labels in rows of their own above the plot (never over a label), the x
range from the first day with data.

Text widths are estimated (``svg.text_width``), which the browser test
(``tests/labels/test_report_browser.py``) checks against the real rendering: no label
outside its chart, no two labels overlapping.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from monitor.report.svg import (
    COLOURS,
    MARK_COLOURS,
    day_label,
    esc,
    fmt_tick,
    label_rows,
    legend_height,
    nice_ticks,
    runs,
    text_width,
)
from monitor.report.svg import legend as draw_legend

__all__ = ["COLOURS", "Line", "Mark", "bars_svg", "change_chart", "line_chart"]


@dataclass(frozen=True, slots=True)
class Line:
    """One series: a value per day (None: a gap), optionally with its CI as a band."""

    label: str
    values: Sequence[float | None]
    lows: Sequence[float | None] | None = None
    highs: Sequence[float | None] | None = None
    colour: str = COLOURS[0]


@dataclass(frozen=True, slots=True)
class Mark:
    """A day marked by a vertical line: ``kind`` is changepoint, alert or config."""

    day: dt.date
    kind: str
    label: str


def line_chart(
    days: Sequence[dt.date],
    lines: Sequence[Line],
    *,
    width: int = 640,
    height: int = 220,
    lo: float | None = None,
    hi: float | None = None,
    baseline: float | None = None,
    reference: Collection[dt.date] = (),
    marks: Sequence[Mark] = (),
    mark_labels: bool = True,
    legend: bool = False,
    title: str = "",
) -> str:
    """Daily lines with CI bands over ``days`` (oldest first), a dashed baseline, its
    reference days shaded, and vertical day marks, each label placed so none is cut."""
    n = len(days)
    seen = [
        v
        for ln in lines
        for seq in (ln.values, ln.lows or (), ln.highs or ())
        for v in seq
        if v is not None and math.isfinite(v)
    ]
    if baseline is not None:
        seen.append(baseline)
    lo = lo if lo is not None else (min(seen) if seen else 0.0)
    hi = hi if hi is not None else (max(seen) if seen else 1.0)
    hi = max(hi, *seen) if seen else hi
    if hi - lo < 1e-9:
        hi = lo + max(abs(lo) * 0.1, 0.05)
    ticks = nice_ticks(lo, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    labels = [fmt_tick(t, step) for t in ticks]
    left = 8 + max(text_width(s, 10) for s in labels)
    right = width - 10
    legend_items = [(ln.label, ln.colour) for ln in lines] if legend else []
    top = 8 + legend_height(legend_items, left, right)
    in_range = [m for m in marks if days and days[0] <= m.day <= days[-1]]

    def x_of(i: float) -> float:
        return left + (right - left) * (i / (n - 1) if n > 1 else 0.5)

    index = {d: i for i, d in enumerate(days)}
    mark_rows: list[int] = []
    if mark_labels and in_range:
        mark_rows = label_rows(
            [(x_of(index[m.day]) + 3, text_width(m.label, 10)) for m in in_range], right
        )
        top += 13 * (max(mark_rows) + 1)
    bottom = height - 22
    span = hi - lo

    def y_of(v: float) -> float:
        return bottom - (v - lo) / span * (bottom - top)

    aria = f' aria-label="{esc(title)}"' if title else ""
    parts = [
        f'<svg role="img"{aria} width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    if title:
        parts.append(f"<title>{esc(title)}</title>")
    half = (right - left) / (2 * (n - 1)) if n > 1 else (right - left) / 2
    for run in runs([i for i, d in enumerate(days) if d in reference]):
        xa, xb = max(x_of(run[0]) - half, left), min(x_of(run[-1]) + half, right)
        parts.append(
            f'<rect x="{xa:.1f}" y="{top:.1f}" width="{xb - xa:.1f}" '
            f'height="{bottom - top:.1f}" fill="#f3f3f3"><title>baseline days '
            f"{days[run[0]]} … {days[run[-1]]}</title></rect>"
        )
    for tick, text in zip(ticks, labels, strict=True):
        y = y_of(tick)
        parts.append(
            f'<line x1="{left:.1f}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 4:.1f}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" '
            f'fill="#555">{text}</text>'
        )
    if baseline is not None:
        y = y_of(baseline)
        parts.append(
            f'<line x1="{left:.1f}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#333" '
            f'stroke-dasharray="5 3" stroke-width="1.2"><title>baseline '
            f"{baseline:.3f}</title></line>"
        )
    for m, row in zip(in_range, mark_rows or [0] * len(in_range), strict=True):
        x = x_of(index[m.day])
        colour = MARK_COLOURS.get(m.kind, "#7f7f7f")
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{bottom}" stroke="{colour}" '
            f'stroke-dasharray="3 2" stroke-width="1.4"><title>{m.day}: {esc(m.label)}'
            "</title></line>"
        )
        if mark_labels:
            w = text_width(m.label, 10)
            tx = min(x + 3, right - w)
            ty = top - 4 - 13 * (max(mark_rows) - row)
            parts.append(
                f'<text x="{tx:.1f}" y="{ty:.1f}" font-size="10" fill="{colour}">'
                f"{esc(m.label)}</text>"
            )
    for ln in lines:
        parts.extend(_series(ln, days, x_of, y_of))
    parts.extend(_x_labels(days, x_of, left, right, height))
    parts.extend(draw_legend(legend_items, left, right, 19))
    parts.append("</svg>")
    return "".join(parts)


def _series(
    ln: Line,
    days: Sequence[dt.date],
    x_of: Callable[[float], float],
    y_of: Callable[[float], float],
) -> list[str]:
    """A line's CI band, line and points; a day without a value breaks the line."""
    values = {i: v for i, v in enumerate(ln.values) if v is not None and math.isfinite(v)}
    bands: dict[int, tuple[float, float]] = {}
    if ln.lows is not None and ln.highs is not None:
        bands = {
            i: (low, high)
            for i, (low, high) in enumerate(zip(ln.lows, ln.highs, strict=True))
            if low is not None and high is not None and i in values
        }
    parts = []
    for run in runs(sorted(values)):
        band = [i for i in run if i in bands]
        if len(band) > 1:
            up = [f"{x_of(i):.1f},{y_of(bands[i][1]):.1f}" for i in band]
            down = [f"{x_of(i):.1f},{y_of(bands[i][0]):.1f}" for i in reversed(band)]
            parts.append(
                f'<polygon points="{" ".join(up + down)}" fill="{ln.colour}" fill-opacity="0.25"/>'
            )
        path = " ".join(f"{x_of(i):.1f},{y_of(values[i]):.1f}" for i in run)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{ln.colour}" stroke-width="2"/>'
        )
        for i in run:
            ci = " [{:.3f}, {:.3f}]".format(*bands[i]) if i in bands else ""
            parts.append(
                f'<circle cx="{x_of(i):.1f}" cy="{y_of(values[i]):.1f}" r="2.4" '
                f'fill="{ln.colour}"><title>{days[i]} {esc(ln.label)}: '
                f"{values[i]:.3f}{ci}</title></circle>"
            )
    return parts


def _x_labels(
    days: Sequence[dt.date],
    x_of: Callable[[float], float],
    left: float,
    right: float,
    height: int,
) -> list[str]:
    """The first and last day, and days between them at least a label's width apart."""
    n = len(days)
    if not n:
        return []
    width = text_width("Nov 30", 10) + 12
    fit = max(int((right - left) // width), 1)
    stride = max(1, math.ceil((n - 1) / fit)) if n > 1 else 1
    chosen = list(range(0, n, stride))
    if n - 1 not in chosen:
        if chosen and x_of(n - 1) - x_of(chosen[-1]) < width:
            chosen.pop()
        chosen.append(n - 1)
    parts = []
    for i in chosen:
        anchor = "middle"
        if i == 0 and n > 1:
            anchor = "start"
        elif i == n - 1 and n > 1:
            anchor = "end"
        x = x_of(i)
        x = max(x, left) if anchor == "start" else x
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="{anchor}" '
            f'fill="#555">{day_label(days[i])}</text>'
        )
    return parts


def change_chart(
    rows: Sequence[tuple[str, float, float | None, float | None, bool]],
    *,
    width: int = 640,
    label: str = "nDCG@10 − baseline",
) -> str:
    """Dots with 95% CI whiskers, one row per (name, change, low, high, clear): how far
    each segment is from its baseline; red when the whole CI lies below it."""
    row_h = 22
    left = 10 + max((text_width(r[0], 11) for r in rows), default=40)
    right = width - 12
    top, bottom = 8, 8 + row_h * max(len(rows), 1)
    height = bottom + 34
    values = [v for r in rows for v in r[1:4] if isinstance(v, float) and math.isfinite(v)]
    lo, hi = min([0.0, *values]), max([0.0, *values])
    pad = (hi - lo) * 0.06 or 0.05
    lo, hi = lo - pad, hi + pad
    ticks = nice_ticks(lo, hi, 5)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0

    def x_of(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    parts = [
        f'<svg role="img" aria-label="{esc(label)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for t in ticks:
        x = x_of(t)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{bottom + 13}" font-size="10" text-anchor="middle" '
            f'fill="#555">{fmt_tick(t, step)}</text>'
        )
    zero = x_of(0.0)
    parts.append(
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{top}" y2="{bottom}" stroke="#333" '
        'stroke-dasharray="5 3"/>'
    )
    for i, (name, change, low, high, clear) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        colour = "#d62728" if clear else "#4c78a8"
        parts.append(
            f'<text x="{left - 8:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{esc(name)}</text>"
        )
        if low is not None and high is not None:
            parts.append(
                f'<line x1="{x_of(low):.1f}" x2="{x_of(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        ci = f" [{low:+.3f}, {high:+.3f}]" if low is not None and high is not None else ""
        parts.append(
            f'<circle cx="{x_of(change):.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
            f"<title>{esc(name)}: {change:+.3f}{ci}</title></circle>"
        )
    parts.append(
        f'<text x="{(left + right) / 2:.1f}" y="{height - 4}" font-size="10" '
        f'text-anchor="middle" fill="#555">{esc(label)} (dashed: the baseline)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 640,
    height: int = 200,
) -> str:
    """Grouped vertical bars of shares (0–1): one group per label, one bar per series,
    the legend in a row above the bars."""
    left, right = 40, width - 10
    items = [(name, COLOURS[s % len(COLOURS)]) for s, (name, _) in enumerate(series)]
    top = 14 + legend_height(items, left, right)
    bottom = height - 22
    hi = max([v for _, values in series for v in values] + [0.0]) * 1.15 or 1.0
    hi = min(1.0, hi)
    ticks = nice_ticks(0.0, hi)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0

    def y_of(v: float) -> float:
        return bottom - v / hi * (bottom - top)

    group_w = (right - left) / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    parts = [f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for t in ticks:
        y = y_of(t)
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" '
            f'fill="#555">{fmt_tick(t, step)}</text>'
        )
    for s, (name, values) in enumerate(series):
        colour = COLOURS[s % len(COLOURS)]
        for g, value in enumerate(values):
            x = left + g * group_w + group_w * 0.1 + s * bar_w
            y = y_of(value)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" '
                f'height="{bottom - y:.1f}" fill="{colour}"><title>{esc(groups[g])} '
                f"{esc(name)}: {value:.3f}</title></rect>"
                f'<text x="{x + bar_w / 2 - 1:.1f}" y="{y - 3:.1f}" font-size="9" '
                f'text-anchor="middle">{value:.2f}</text>'
            )
    for g, label in enumerate(groups):
        x = left + g * group_w + group_w / 2
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle">'
            f"{esc(label)}</text>"
        )
    parts.extend(draw_legend(items, left, right, 12))
    parts.append("</svg>")
    return "".join(parts)
