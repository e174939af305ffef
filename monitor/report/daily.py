"""The daily report: one day's metrics next to their baseline, as data and as HTML.

Each figure of the day is set against the mean of the same figure (same metric, segment,
judge and k) over the previous ``baseline_days`` days, and gets an arrow: ↑ or ↓ when it
moved by more than a tolerance, → when it did not. Whether a move is good depends on
the metric (nDCG up is good, invalid-answer rate up is bad), so each line also says
"better" or "worse" where that is known.

The HTML report is one self-contained file (inline CSS and SVG, no script, no external
asset) so it can be mailed or attached to a ticket and still open years later.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from monitor.errors import InputError
from monitor.metrics.catalog import METRICS, SECTIONS, spec_of
from monitor.metrics.daily import MetricRow
from monitor.store import reads
from monitor.store.db import Database
from monitor.types import GRADE_LABELS, MAX_GRADE

__all__ = [
    "AGREEMENT_METRICS",
    "SECTIONS",
    "DailyReport",
    "ReportLine",
    "TrendPoint",
    "bars_svg",
    "compare_to_baseline",
    "format_ci",
    "format_value",
    "grade_shares",
    "load_report",
    "render_html",
    "section_of",
    "trend_arrow",
    "trend_svg",
]

#: Order within a section: the catalogue's; unknown metrics follow alphabetically.
_RANK = {spec.metric: i for i, spec in enumerate(METRICS)}

#: The judge-agreement figures the HTML report draws.
AGREEMENT_METRICS: tuple[str, ...] = ("krippendorff_alpha", "cohen_kappa", "human_kappa")

TREND_DAYS = 30


@dataclass(frozen=True, slots=True)
class ReportLine:
    """A figure of the day against its baseline (``baseline`` None: no earlier value)."""

    section: str
    current: MetricRow
    baseline: float | None
    baseline_n_days: int
    arrow: str
    assessment: str  # "better" | "worse" | "same" | "" (direction unknown or no baseline)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    day: dt.date
    value: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True, slots=True)
class DailyReport:
    """Everything the table and the HTML report show for one day."""

    day: dt.date
    baseline_start: dt.date
    baseline_end: dt.date
    lines: tuple[ReportLine, ...]
    trend_k: int
    trend: tuple[TrendPoint, ...]
    grades_today: Mapping[int, int]
    grades_baseline: Mapping[int, int]


def section_of(metric: str, segment: str) -> str:
    """Which part of the report a metric belongs to (the catalogue's section)."""
    spec = spec_of(metric)
    if spec is None:
        return "other"
    if spec.section == "quality" and segment != "all":
        return "quality by segment"
    return spec.section


def trend_arrow(
    value: float | None, baseline: float | None, *, tolerance: float = 0.02, floor: float = 1e-3
) -> str:
    """↑, ↓ or → for a value against its baseline; "" when either is missing.

    A move counts when it exceeds ``tolerance`` times the baseline's magnitude (2% by
    default) and at least ``floor`` in absolute terms, so a rate going from 0 to 0.0001
    is not an alarm.
    """
    if value is None or baseline is None:
        return ""
    if abs(value - baseline) <= max(tolerance * abs(baseline), floor):
        return "→"
    return "↑" if value > baseline else "↓"


def _assess(metric: str, arrow: str) -> str:
    if arrow == "→":
        return "same"
    if arrow not in {"↑", "↓"}:
        return ""
    spec = spec_of(metric)
    if spec is None or spec.better is None:
        return ""
    rose_is_good = spec.better == "higher"
    return "better" if (arrow == "↑") == rose_is_good else "worse"


def compare_to_baseline(
    today: Sequence[MetricRow],
    history: Sequence[MetricRow],
    *,
    tolerance: float = 0.02,
) -> list[ReportLine]:
    """Report lines in report order, each against the mean of its non-null history values.

    ``history`` holds the baseline window's rows (one per figure and day).
    """
    past: dict[tuple[str, str, str, int], list[float]] = defaultdict(list)
    for row in history:
        if row.value is not None and math.isfinite(row.value):
            past[row.key].append(row.value)
    lines = []
    for row in today:
        values = past.get(row.key, [])
        baseline = sum(values) / len(values) if values else None
        arrow = trend_arrow(row.value, baseline, tolerance=tolerance)
        lines.append(
            ReportLine(
                section=section_of(row.metric, row.segment),
                current=row,
                baseline=baseline,
                baseline_n_days=len(values),
                arrow=arrow,
                assessment=_assess(row.metric, arrow),
            )
        )
    order = {name: i for i, name in enumerate(SECTIONS)}
    lines.sort(
        key=lambda ln: (
            order[ln.section],
            ln.current.segment if ln.section == "quality by segment" else "",
            _RANK.get(ln.current.metric, len(_RANK)),
            ln.current.metric,
            ln.current.k,
            ln.current.judge,
            ln.current.segment,
        )
    )
    return lines


def grade_shares(counts: Mapping[int, int]) -> dict[int, float]:
    """Share of each grade 0–3 (all zero when there is nothing)."""
    total = sum(counts.values())
    return {g: (counts.get(g, 0) / total if total else 0.0) for g in range(MAX_GRADE + 1)}


def _metrics(conn: Connection, start: dt.date, end: dt.date) -> list[MetricRow]:
    return [
        MetricRow(f.metric, f.segment, f.judge, f.k, f.value, f.ci_low, f.ci_high, f.n, f.reason)
        for f in reads.figures_between(conn, first=start, last=end)
    ]


def _trend(conn: Connection, day: dt.date) -> tuple[int, tuple[TrendPoint, ...]]:
    start = day - dt.timedelta(days=TREND_DAYS - 1)
    rows = reads.daily_series(
        conn, metric="ndcg", segment="all", judge="ensemble", first=start, last=day
    )
    ks = {r.k for r in rows}
    k = 10 if 10 in ks or not ks else max(ks)
    by_day = {r.day: r for r in rows if r.k == k}
    points = []
    for i in range(TREND_DAYS):
        d = start + dt.timedelta(days=i)
        r = by_day.get(d)
        points.append(
            TrendPoint(d, r.value, r.ci_low, r.ci_high) if r else TrendPoint(d, None, None, None)
        )
    return k, tuple(points)


def load_report(
    database: Database, *, day: dt.date, baseline_days: int, tolerance: float = 0.02
) -> DailyReport:
    """Read a day's metrics, its baseline window, the nDCG trend and grade distributions.

    A day without metrics is an ``InputError`` naming the nearest days that have some.
    """
    if baseline_days <= 0:
        raise InputError(f"baseline_days must be positive, got {baseline_days}")
    base_start = day - dt.timedelta(days=baseline_days)
    base_end = day - dt.timedelta(days=1)
    with database.engine.connect() as conn:
        today = _metrics(conn, day, day)
        if not today:
            near = reads.nearest_metric_days(conn, day=day)
            if not near:
                raise InputError(
                    f"no metrics for {day}: none are stored at all yet (run the daily flow first)"
                )
            listed = ", ".join(d.isoformat() for d in near)
            raise InputError(f"no metrics for {day}; nearest days with metrics: {listed}")
        history = _metrics(conn, base_start, base_end)
        trend_k, trend = _trend(conn, day)
        grades_today = reads.ensemble_grade_counts(conn, first=day, last=day, top=MAX_GRADE)
        grades_base = reads.ensemble_grade_counts(
            conn, first=base_start, last=base_end, top=MAX_GRADE
        )
    return DailyReport(
        day=day,
        baseline_start=base_start,
        baseline_end=base_end,
        lines=tuple(compare_to_baseline(today, history, tolerance=tolerance)),
        trend_k=trend_k,
        trend=trend,
        grades_today=grades_today,
        grades_baseline=grades_base,
    )


# --- HTML -----------------------------------------------------------------------------

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1000px}
table{border-collapse:collapse;margin:1em 0}td,th{padding:3px 8px;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#1a7f37}.worse{color:#cf222e}.null{color:#888;font-style:italic}
h2{margin-top:1.6em}svg{background:#fcfcfc;border:1px solid #eee}
"""


def format_value(value: float | None) -> str:
    """Three decimals, or three significant digits for very large or small magnitudes."""
    if value is None:
        return ""
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.3f}"


def format_ci(low: float | None, high: float | None) -> str:
    """``[low, high]`` (brackets keep negative bounds readable), or "" without a CI."""
    if low is None or high is None:
        return ""
    return f"[{format_value(low)}, {format_value(high)}]"


def _scale(lo: float, hi: float, a: float, b: float) -> tuple[float, float]:
    """Slope and offset mapping [lo, hi] onto pixels [a, b]."""
    span = hi - lo or 1.0
    slope = (b - a) / span
    return slope, a - lo * slope


def trend_svg(points: Sequence[TrendPoint], *, width: int = 640, height: int = 220) -> str:
    """A line for the value and a shaded band for its CI; days without a value are gaps."""
    left, right, top, bottom = 44, width - 12, 12, height - 28
    seen = [v for p in points for v in (p.value, p.ci_low, p.ci_high) if v is not None]
    lo, hi = (min(seen), max(seen)) if seen else (0.0, 1.0)
    pad = (hi - lo) * 0.1 or 0.05
    lo, hi = lo - pad, hi + pad
    ys, yo = _scale(lo, hi, bottom, top)
    xs, xo = _scale(0, max(len(points) - 1, 1), left, right)
    parts = [f'<svg role="img" width="{width}" height="{height}">']
    for tick in (lo + pad, (lo + hi) / 2, hi - pad):
        y = ys * tick + yo
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{tick:.3f}</text>"
        )
    runs: list[list[tuple[int, TrendPoint]]] = [[]]
    for i, p in enumerate(points):
        if p.value is None:
            runs.append([])
        else:
            runs[-1].append((i, p))
    for run in (r for r in runs if r):
        band = [(i, p) for i, p in run if p.ci_low is not None and p.ci_high is not None]
        if len(band) > 1:
            upper = [f"{xs * i + xo:.1f},{ys * (p.ci_high or 0) + yo:.1f}" for i, p in band]
            lower = [f"{xs * i + xo:.1f},{ys * (p.ci_low or 0) + yo:.1f}" for i, p in band]
            poly = " ".join(upper + lower[::-1])
            parts.append(f'<polygon points="{poly}" fill="#4c78a8" fill-opacity="0.2"/>')
        line = " ".join(f"{xs * i + xo:.1f},{ys * (p.value or 0) + yo:.1f}" for i, p in run)
        parts.append(f'<polyline points="{line}" fill="none" stroke="#4c78a8" stroke-width="2"/>')
        for i, p in run:
            parts.append(
                f'<circle cx="{xs * i + xo:.1f}" cy="{ys * (p.value or 0) + yo:.1f}" r="2.5" '
                f'fill="#4c78a8"><title>{p.day}: {format_value(p.value)}</title></circle>'
            )
    for i in (0, len(points) // 2, len(points) - 1) if points else ():
        parts.append(
            f'<text x="{xs * i + xo:.1f}" y="{height - 8}" font-size="10" text-anchor="middle">'
            f"{points[i].day.isoformat()}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(
    groups: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    lo: float = 0.0,
    hi: float = 1.0,
    width: int = 640,
    height: int = 200,
) -> str:
    """Grouped vertical bars: one group per label, one bar per series, with a legend."""
    colours = ("#4c78a8", "#f58518", "#54a24b", "#b279a2")
    width = max(width, 56 + 120 * len(groups))  # room for each group's label
    left, right, top, bottom = 44, width - 12, 24, height - 28
    ys, yo = _scale(lo, hi, bottom, top)
    group_w = (right - left) / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    zero = ys * max(lo, min(0.0, hi)) + yo
    parts = [f'<svg role="img" width="{width}" height="{height}">']
    for tick in sorted({lo, max(lo, min(0.0, hi)), (lo + hi) / 2, hi}):
        y = ys * tick + yo
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
            f"{tick:.2f}</text>"
        )
    parts.append(f'<line x1="{left}" x2="{right}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#999"/>')
    for s, (name, values) in enumerate(series.items()):
        colour = colours[s % len(colours)]
        parts.append(
            f'<rect x="{left + s * 110}" y="6" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + s * 110 + 14}" y="15" font-size="11">{html.escape(name)}</text>'
        )
        for g, value in enumerate(values):
            x = left + g * group_w + group_w * 0.1 + s * bar_w
            y = ys * value + yo
            parts.append(
                f'<rect x="{x:.1f}" y="{min(y, zero):.1f}" width="{bar_w:.1f}" '
                f'height="{abs(zero - y):.1f}" fill="{colour}"><title>{html.escape(groups[g])}'
                f" {html.escape(name)}: {format_value(value)}</title></rect>"
                f'<text x="{x + bar_w / 2:.1f}" y="{min(y, zero) - 3:.1f}" font-size="9" '
                f'text-anchor="middle">{value:.2f}</text>'
            )
    for g, label in enumerate(groups):
        x = left + g * group_w + group_w / 2
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" font-size="10" text-anchor="middle">'
            f"{html.escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(lines: Sequence[ReportLine]) -> str:
    out = [
        "<table><tr><th>section</th><th>metric</th><th>segment</th><th>judge</th>"
        "<th>value</th><th>95% CI</th><th>n</th><th>baseline</th><th></th></tr>"
    ]
    for ln in lines:
        c = ln.current
        if c.value is None:
            value = f'<span class="null">— {html.escape(c.reason or "no value")}</span>'
        else:
            value = format_value(c.value)
        ci = format_ci(c.ci_low, c.ci_high)
        out.append(
            f"<tr><td>{html.escape(ln.section)}</td><td>{html.escape(c.label)}</td>"
            f"<td>{html.escape(c.segment)}</td><td>{html.escape(c.judge)}</td>"
            f'<td class="num">{value}</td><td class="num">{ci}</td><td class="num">{c.n}</td>'
            f'<td class="num">{format_value(ln.baseline)}</td>'
            f'<td class="{ln.assessment}">{ln.arrow}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def render_html(report: DailyReport) -> str:
    """The day's report as one self-contained HTML page (inline CSS and SVG only)."""
    agreement = [
        ln.current
        for ln in report.lines
        if ln.current.metric in AGREEMENT_METRICS and ln.current.value is not None
    ]
    today = grade_shares(report.grades_today)
    base = grade_shares(report.grades_baseline)
    grade_chart = bars_svg(
        [f"{g} {GRADE_LABELS[g]}" for g in range(MAX_GRADE + 1)],
        {
            f"{report.day} (n={sum(report.grades_today.values())})": list(today.values()),
            f"baseline (n={sum(report.grades_baseline.values())})": list(base.values()),
        },
    )
    if agreement:
        agreement_chart = bars_svg(
            [f"{m.label} {m.judge}" for m in agreement],
            {"agreement": [m.value or 0.0 for m in agreement]},
            lo=min(0.0, *(m.value or 0.0 for m in agreement)),
        )
    else:
        agreement_chart = '<p class="null">no agreement figures for this day</p>'
    title = f"judge-monitor report {report.day.isoformat()}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1>"
        f"<p>Baseline: mean of {report.baseline_start} … {report.baseline_end}. "
        "Arrows mark moves beyond the tolerance; green is better, red is worse.</p>"
        f"<h2>nDCG@{report.trend_k}, last {TREND_DAYS} days (band: 95% CI)</h2>"
        f"{trend_svg(report.trend)}"
        "<h2>Ensemble grade distribution vs baseline</h2>"
        f"{grade_chart}"
        f"<h2>Judge agreement</h2>{agreement_chart}"
        f"<h2>All figures</h2>{_table(report.lines)}</body></html>"
    )
