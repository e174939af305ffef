"""The report in the terminal: readable at 80 columns, no name cut.

A name is never shortened: the figures are grouped into one small table per section
(and per segment, for quality by segment) with the group's name as the table's title,
so no column has to hold a segment; the figure column is as wide as the longest figure
name; the numbers are in fixed, narrow columns. A figure without a value shows "—",
and the table's caption says why.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from monitor.metrics.catalog import spec_of
from monitor.report.figures import (
    LABELLED_JUDGES,
    ReportLine,
    format_ci,
    format_value,
    judge_caption,
)
from monitor.report.model import Alert, DailyReport, SegmentDrop
from monitor.report.summary import summary

__all__ = [
    "alerts_table",
    "compact_table",
    "figures_tables",
    "headline_table",
    "report_renderables",
    "segments_table",
]

_STYLE = {"better": "green", "worse": "red"}
#: Widest a figure name may make its column before it wraps (at a space, never mid-word):
#: with the number columns (at most 49 with their gaps) a table stays within 80 columns.
_MAX_NAME = 31


def compact_table(*, title: str | None = None) -> Table:
    """A table without vertical rules or outer padding: two spaces between columns."""
    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )


def _value(value: float | None, metric: str) -> str:
    """A value with its unit abbreviated (the name is never abbreviated)."""
    if value is None:
        return ""
    spec = spec_of(metric)
    # the catalogue's unit is the exported one; a scaled figure is stored in another
    unit = spec.unit if spec is not None and getattr(spec, "scale", 1.0) == 1.0 else ""
    if unit == "dollars":
        return f"${value:.4f}" if abs(value) < 100 else f"${value:,.0f}"
    if unit == "seconds":
        return f"{value:.2f}s"
    if metric.endswith("_tokens") and value == int(value):
        return f"{value:,.0f}"
    return format_value(value)


def _ci(low: float | None, high: float | None) -> str:
    """The CI as ``[low, high]``, three decimals unless both bounds are tiny (so that a
    CI stays within its 16 columns)."""
    if low is None or high is None:
        return ""
    if max(abs(low), abs(high)) < 1e-3:
        return format_ci(low, high)
    return f"[{low:.3f}, {high:.3f}]"


def _name(ln: ReportLine) -> str:
    c = ln.current
    if c.judge == "ensemble":
        return c.label
    if c.judge in LABELLED_JUDGES:
        # "ndcg@10 (corrected, 40 labels)": a name past _MAX_NAME wraps at a space,
        # within 80 columns
        return f"{c.label} ({judge_caption(c.judge, c.n, short=True)})"
    return f"{c.label} ({c.judge})"


def _group_key(ln: ReportLine) -> str:
    if ln.section == "quality by segment":
        return f"quality · {ln.current.segment}"
    if ln.section == "quality":
        return "quality · all traffic"
    return ln.section


def figures_tables(lines: Sequence[ReportLine], *, name_width: int | None = None) -> list[Table]:
    """One table per group of figures (a section, or a segment's quality), aligned."""
    width = name_width or min(_MAX_NAME, max((len(_name(ln)) for ln in lines), default=10))
    groups: dict[str, list[ReportLine]] = {}
    for ln in lines:
        groups.setdefault(_group_key(ln), []).append(ln)
    tables = []
    for title, members in groups.items():
        table = compact_table(title=escape(title))
        table.add_column("figure", min_width=width, max_width=max(width, _MAX_NAME))
        table.add_column("value", justify="right", no_wrap=True, min_width=8)
        table.add_column("95% CI", justify="right", min_width=15)
        table.add_column("n", justify="right", no_wrap=True, min_width=5)
        table.add_column("baseline", justify="right", no_wrap=True, min_width=8)
        table.add_column("", no_wrap=True, width=1)
        missing = [
            f"{_name(ln)}: {ln.current.reason or 'no reason stored'}"
            for ln in members
            if ln.current.value is None
        ]
        if missing:  # the caption wraps at spaces to the table's width
            table.caption = escape("— no value: " + "; ".join(missing))
            table.caption_justify = "left"
            table.caption_style = "dim"
        for ln in members:
            c = ln.current
            style = _STYLE.get(ln.assessment, "")
            arrow = Text(ln.arrow, style=style)
            value = "—" if c.value is None else _value(c.value, c.metric)
            table.add_row(
                Text(_name(ln)),
                value,
                _ci(c.ci_low, c.ci_high),
                f"{c.n:,}",
                _value(ln.baseline, c.metric),
                arrow,
            )
        tables.append(table)
    return tables


def headline_table(report: DailyReport) -> Table:
    """The headline quality figures of the report's day against their baseline."""
    scope = report.segment or "all traffic"
    (table,) = figures_tables(report.headline) or [compact_table()]
    table.title = escape(f"headline figures · {scope}")
    return table


def alerts_table(alerts: Sequence[Alert]) -> Table:
    """The alerts that fire: severity, alert, segment and judge, and since when."""
    table = compact_table(title="alerts that fire")
    table.add_column("sev.", no_wrap=True)
    table.add_column("alert · segment · judge", min_width=24)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("baseline", justify="right", no_wrap=True)
    table.add_column("since", no_wrap=True)
    for a in alerts:
        style = "red" if a.severity == "page" else "yellow"
        who = Text(a.alert.removeprefix("JudgeMonitor"))
        who.append(f"\n  {a.segment} · {a.judge}", style="dim")
        table.add_row(
            Text(a.severity, style=style),
            who,
            format_value(a.value),
            format_value(a.baseline),
            a.since.isoformat(),
        )
    return table


def segments_table(segments: Sequence[SegmentDrop], k: int) -> Table:
    """Segments ranked by their nDCG drop against the baseline, with the change's CI."""
    table = compact_table(title=f"segments ranked by their nDCG@{k} drop")
    table.add_column("segment", min_width=max((len(s.segment) for s in segments), default=7))
    table.add_column(f"nDCG@{k}", justify="right", no_wrap=True)
    table.add_column("baseline", justify="right", no_wrap=True)
    table.add_column("change", justify="right", no_wrap=True)
    table.add_column("change 95% CI", justify="right", min_width=16)
    for s in segments:
        change = "" if s.change is None else f"{s.change:+.3f}"
        ci = "" if s.change_ci is None else "[{:+.3f}, {:+.3f}]".format(*s.change_ci)
        style = "red" if s.clear else ""
        table.add_row(
            Text(s.segment, style=style),
            f"{s.value:.3f}",
            format_value(s.baseline),
            Text(change, style=style),
            ci,
        )
    return table


def report_renderables(report: DailyReport, *, everything: bool = True) -> list[RenderableType]:
    """What ``report`` prints: the summary, the alerts, the segments, then the figures."""
    title = (
        f"{report.day} against the baseline days {report.baseline_start} to {report.baseline_end}"
    )
    out: list[RenderableType] = [Text(title, style="bold")]
    out.append(Group(*(Text(f"• {s}") for s in summary(report))))
    if report.alerts:
        out.append(alerts_table(report.alerts))
    if report.segments:
        out.append(segments_table(report.segments, report.trend_k))
    if everything:
        out.extend(figures_tables(report.lines))
    else:
        out.append(headline_table(report))
    return out
