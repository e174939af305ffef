"""The SVG primitives the report's charts share: sizes, ticks, labels, legends.

Text widths are estimated (``text_width``: a generous average glyph width for a
sans-serif font), so labels can be placed without a browser to measure them; the
browser test (``tests/labels/test_report_browser.py``) checks the estimate holds: no
label outside its chart, no two labels on top of each other.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence

__all__ = [
    "COLOURS",
    "MARK_COLOURS",
    "day_label",
    "esc",
    "fmt_tick",
    "label_rows",
    "legend",
    "legend_height",
    "nice_ticks",
    "runs",
    "text_width",
]

COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d")
MARK_COLOURS = {"changepoint": "#d62728", "alert": "#ff7f0e", "config": "#7f7f7f"}
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def text_width(text: str, size: float) -> float:
    """A generous estimate of a label's width in pixels (sans-serif, ``size`` px)."""
    return len(text) * size * 0.62 + 2


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def day_label(day: dt.date) -> str:
    """``Nov 24``: short enough for a small chart's axis."""
    return f"{_MONTHS[day.month - 1]} {day.day}"


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values inside [lo, hi], at most ``count`` + 1 of them: the finest
    1-2-2.5-5 step that gives no more."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    magnitude = 10 ** math.floor(math.log10((hi - lo) / count))
    step = next(
        m * magnitude for m in (1, 2, 2.5, 5, 10, 20) if (hi - lo) / (m * magnitude) <= count
    )
    ticks = []
    i = math.ceil(lo / step - 1e-9)
    while i * step <= hi + 1e-9 * step:
        ticks.append(float(f"{i * step:.12g}"))
        i += 1
    return ticks


def fmt_tick(value: float, step: float) -> str:
    """A tick value with as many decimals as the step between ticks needs."""
    if 0 < step < 1e-4:
        return f"{value:.2g}"
    scaled = [step * 10**d for d in range(6)]
    decimals = next((d for d, x in enumerate(scaled) if abs(x - round(x)) < 1e-6 * x), 5)
    return f"{value:.{decimals}f}"


def runs(indices: Sequence[int]) -> list[list[int]]:
    """Consecutive runs of sorted indices: [1, 2, 3, 7, 8] -> [[1, 2, 3], [7, 8]]."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def label_rows(items: Sequence[tuple[float, float]], right: float) -> list[int]:
    """Greedy rows for labels at (x, width): a label goes to the first row it fits in."""
    ends: list[float] = []
    rows = []
    for x, width in items:
        start = min(x, right - width)
        for row, end in enumerate(ends):
            if start > end + 6:
                ends[row] = start + width
                rows.append(row)
                break
        else:
            ends.append(start + width)
            rows.append(len(ends) - 1)
    return rows


def legend(items: Sequence[tuple[str, str]], left: float, right: float, top: float) -> list[str]:
    """Legend entries (colour swatch and label) in rows above the plot."""
    parts, x, y = [], left, top
    for label, colour in items:
        width = 16 + text_width(label, 11)
        if x > left and x + width > right:
            x, y = left, y + 15
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14:.1f}" y="{y:.1f}" font-size="11">{esc(label)}</text>'
        )
        x += width + 10
    return parts


def legend_height(items: Sequence[tuple[str, str]], left: float, right: float) -> float:
    rows, x = 1, left
    for label, _ in items:
        width = 16 + text_width(label, 11)
        if x > left and x + width > right:
            rows, x = rows + 1, left
        x += width + 10
    return rows * 15 if items else 0
