"""What the daily report holds, read from the store: one ``DailyReport`` per day.

The report answers, in this order: what changed (the alerts that fire, since when, and
the segments ranked by their nDCG@10 drop with its CI), the headline figures against
their baseline, the nDCG@10 trend of every segment with the baseline, the change point
and other annotations, the judges' health over time, and the queries to look at (the
worst of the day, the biggest drops, the judges' disagreements).

The terminal table (``report.table``), the HTML page (``report.html``) and ``report
--json`` (``as_json``) all draw on this one object, so they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from monitor.errors import InputError
from monitor.export.alerts import firing_alerts
from monitor.export.baseline import Reference, reference_for
from monitor.metrics.daily import MetricRow
from monitor.report.figures import ReportLine, compare_to_baseline
from monitor.report.health import JudgeHealth, SeriesPoint, judge_health, series_of
from monitor.report.queries import Disagreement, QueryView, disagreements, worst_queries
from monitor.store import reads, report_reads
from monitor.store.db import Database
from monitor.types import MAX_GRADE

__all__ = [
    "TREND_DAYS",
    "Alert",
    "Annotation",
    "DailyReport",
    "SegmentDrop",
    "SegmentTrend",
    "load_report",
]

#: How many days the trend charts cover at most (they start at the first day with data).
TREND_DAYS = 30
#: The figure the report is about: the ensemble's nDCG at this cut-off.
HEADLINE_K = 10
DAILY_FLOW = "daily"


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert whose condition holds on the day, and the first day of its current streak."""

    alert: str
    severity: str
    segment: str
    judge: str
    value: float
    baseline: float | None
    since: dt.date


@dataclass(frozen=True, slots=True)
class SegmentDrop:
    """One segment's nDCG@10 of the day against its baseline: the drop and its 95% CI.

    ``drop`` is the baseline minus the day's value (positive: worse); its CI is the day's
    CI shifted by the baseline (the baseline, a mean of many days, is taken as known).
    ``clear``: the whole CI lies below the baseline, as the alert rule asks.
    """

    segment: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    baseline: float | None
    drop: float | None
    drop_low: float | None
    drop_high: float | None
    clear: bool

    @property
    def change(self) -> float | None:
        """The day's value minus the baseline (negative: worse)."""
        return None if self.drop is None else -self.drop

    @property
    def change_ci(self) -> tuple[float, float] | None:
        """The 95% CI of ``change``, or None without a CI or a baseline."""
        if self.drop_low is None or self.drop_high is None:
            return None
        return (-self.drop_high, -self.drop_low)


@dataclass(frozen=True, slots=True)
class SegmentTrend:
    """One small multiple: a segment's daily nDCG@10 with CI, and its baseline."""

    segment: str
    points: tuple[SeriesPoint, ...]
    baseline: float | None


@dataclass(frozen=True, slots=True)
class Annotation:
    """A day marked on the trend charts: ``kind`` is changepoint, alert or config."""

    day: dt.date
    kind: str
    label: str


@dataclass(frozen=True, slots=True)
class DailyReport:
    """Everything the terminal, the HTML page and the JSON show for one day."""

    day: dt.date
    baseline_days: int
    #: the first and last reference day of all traffic (the baseline of most figures)
    baseline_start: dt.date
    baseline_end: dt.date
    #: each shown segment's reference days: its baseline is the mean over them
    reference_days: Mapping[str, tuple[dt.date, ...]]
    #: a segment whose baseline froze: the first day left out since its last reference day
    frozen_since: Mapping[str, dt.date]
    segment: str | None
    lines: tuple[ReportLine, ...]
    alerts: tuple[Alert, ...]
    segments: tuple[SegmentDrop, ...]
    trend_k: int
    first_day: dt.date
    trends: tuple[SegmentTrend, ...]
    changepoint: dt.date | None
    annotations: tuple[Annotation, ...]
    health: JudgeHealth
    grades_today: Mapping[int, int]
    grades_baseline: Mapping[int, int]
    worst: tuple[QueryView, ...]
    drops: tuple[QueryView, ...]
    disagreements: tuple[Disagreement, ...]

    @property
    def headline(self) -> tuple[ReportLine, ...]:
        """The quality figures of all traffic (or of the chosen segment)."""
        wanted = self.segment or "all"
        return tuple(
            ln
            for ln in self.lines
            if ln.section in ("quality", "quality by segment") and ln.current.segment == wanted
        )

    @property
    def page_alerts(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.severity == "page")


def _rows(figures: Sequence[reads.Figure]) -> list[MetricRow]:
    return [
        MetricRow(f.metric, f.segment, f.judge, f.k, f.value, f.ci_low, f.ci_high, f.n, f.reason)
        for f in figures
    ]


def _history(
    conn: Connection, reference: Reference, segments: Sequence[str], day: dt.date
) -> list[MetricRow]:
    """The figures of each segment's reference days: what its baselines average."""
    chosen = {s: set(reference.days_for(s)) for s in segments}
    first = min((d for days in chosen.values() for d in days), default=day)
    return _rows(
        [
            f
            for f in reads.figures_between(conn, first=first, last=day - dt.timedelta(days=1))
            if f.day in chosen.get(f.segment, ())
        ]
    )


def _alerts(
    conn: Connection,
    day: dt.date,
    days: Sequence[dt.date],
    segment: str | None,
    baseline_days: int,
) -> tuple[tuple[Alert, ...], list[Annotation]]:
    """Today's firing alerts with the start of their streak; the first firing day of each
    alert in the window (an annotation)."""
    by_day = {d: firing_alerts(conn, d, baseline_days=baseline_days) for d in days}
    keys_by_day = {d: {(f.alert, f.segment, f.judge) for f in fs} for d, fs in by_day.items()}
    alerts = []
    for f in by_day.get(day, []):
        if segment is not None and f.segment not in (segment, "all"):
            continue
        since = day
        for d in sorted((d for d in days if d < day), reverse=True):
            if (f.alert, f.segment, f.judge) not in keys_by_day[d]:
                break
            since = d
        alerts.append(Alert(f.alert, f.severity, f.segment, f.judge, f.value, f.baseline, since))
    alerts.sort(key=lambda a: (a.severity != "page", a.since, a.alert, a.segment))
    first: dict[str, dt.date] = {}
    for d in sorted(by_day):
        for f in by_day[d]:
            if f.severity == "page" and (segment is None or f.segment in (segment, "all")):
                first.setdefault(f.alert.removeprefix("JudgeMonitor"), d)
    notes = [Annotation(d, "alert", f"alert: {name}") for name, d in first.items()]
    return tuple(alerts), notes


def _segment_drops(lines: Sequence[ReportLine], k: int) -> tuple[SegmentDrop, ...]:
    out = []
    for ln in lines:
        c = ln.current
        if (c.metric, c.judge, c.k) != ("ndcg", "ensemble", k) or c.value is None:
            continue
        b = ln.baseline
        drop = None if b is None else b - c.value
        low = None if b is None or c.ci_high is None else b - c.ci_high
        high = None if b is None or c.ci_low is None else b - c.ci_low
        clear = b is not None and c.ci_high is not None and c.ci_high < b
        out.append(
            SegmentDrop(c.segment, c.value, c.ci_low, c.ci_high, c.n, b, drop, low, high, clear)
        )
    out.sort(key=lambda s: (-(s.drop if s.drop is not None else -math.inf), s.segment))
    return tuple(out)


def _trends(
    figures: Sequence[reads.Figure],
    order: Sequence[str],
    baselines: Mapping[str, float | None],
    k: int,
    days: Sequence[dt.date],
) -> tuple[SegmentTrend, ...]:
    chosen = [f for f in figures if (f.metric, f.judge, f.k) == ("ndcg", "ensemble", k)]
    by_segment: dict[str, list[reads.Figure]] = defaultdict(list)
    for f in chosen:
        by_segment[f.segment].append(f)
    return tuple(
        SegmentTrend(segment, series_of(by_segment.get(segment, []), days), baselines.get(segment))
        for segment in order
    )


def _headline_k(today: Sequence[MetricRow]) -> int:
    ks = {r.k for r in today if (r.metric, r.judge) == ("ndcg", "ensemble")}
    return HEADLINE_K if HEADLINE_K in ks or not ks else max(ks)


def _pick_day(conn: Connection, day: dt.date | None) -> dt.date:
    if day is None:
        latest = reads.latest_metrics_day(conn)
        if latest is None:
            raise InputError(
                "no figures are stored yet: run the daily flow first (`judge-monitor run` "
                "or `judge-monitor backfill`), or `judge-monitor demo` for the demo's data"
            )
        return latest
    return day


def _no_day(conn: Connection, day: dt.date) -> InputError:
    near = reads.nearest_metric_days(conn, day=day)
    if not near:
        return InputError(
            f"no metrics for {day}: none are stored at all yet (run the daily flow first)"
        )
    listed = ", ".join(d.isoformat() for d in near)
    return InputError(f"no metrics for {day}; nearest days with metrics: {listed}")


def load_report(
    database: Database,
    *,
    day: dt.date | None = None,
    baseline_days: int,
    tolerance: float = 0.02,
    segment: str | None = None,
    worst: int = 5,
) -> DailyReport:
    """Read a day's report (``day`` None: the latest day with figures).

    A day without figures is an ``InputError`` naming the nearest days that have some;
    a ``segment`` the day has no figure for is one naming the segments it has.
    """
    if baseline_days <= 0:
        raise InputError(f"baseline_days must be positive, got {baseline_days}")
    with database.engine.connect() as conn:
        day = _pick_day(conn, day)
        today = _rows(reads.figures_between(conn, first=day, last=day))
        if not today:
            raise _no_day(conn, day)
        known = sorted({r.segment for r in today})
        if segment is not None and segment not in known:
            raise InputError(
                f"--segment {segment!r}: no figure of {day} has that segment; "
                f"the day's segments are {', '.join(known)}"
            )
        reference = reference_for(conn, day=day, baseline_days=baseline_days)
        overall = reference.days_for("all")
        base_start = overall[0] if overall else day - dt.timedelta(days=baseline_days)
        base_end = overall[-1] if overall else day - dt.timedelta(days=1)
        history = _history(conn, reference, known, day)
        lines = compare_to_baseline(today, history, tolerance=tolerance)
        if segment is not None:  # its figures, and all traffic's judge health and drift
            lines = [
                ln
                for ln in lines
                if ln.current.segment == segment
                or (ln.current.segment == "all" and ln.section != "quality")
            ]
        k = _headline_k(today)
        trend_start = day - dt.timedelta(days=TREND_DAYS - 1)
        window = reads.figures_between(conn, first=trend_start, last=day)
        first_day = min((f.day for f in window if f.value is not None), default=day)
        days = [first_day + dt.timedelta(days=i) for i in range((day - first_day).days + 1)]
        drops = _segment_drops(lines, k)
        if segment is not None:
            drops = tuple(d for d in drops if d.segment == segment)
        order = [d.segment for d in drops]
        trends = _trends(window, order, {d.segment: d.baseline for d in drops}, k, days)
        alerts, notes = _alerts(conn, day, days, segment, baseline_days)
        starts = reads.figure_value(
            conn, day=day, metric="changepoint_start_days_ago", segment="all"
        )
        changepoint = day - dt.timedelta(days=int(starts)) if starts is not None else None
        if changepoint is not None:
            notes.append(Annotation(changepoint, "changepoint", "change point (CUSUM)"))
        for change in report_reads.config_changes(conn, flow=DAILY_FLOW, first=first_day, last=day):
            notes.append(Annotation(change.day, "config", "configuration changed"))
        notes.sort(key=lambda a: (a.day, a.kind))
        health = judge_health(window, today, days)
        grades_today = reads.ensemble_grade_counts(conn, first=day, last=day, top=MAX_GRADE)
        grades_base = reads.ensemble_grade_counts(
            conn, first=base_start, last=base_end, top=MAX_GRADE
        )
        lowest: tuple[QueryView, ...] = ()
        dropped: tuple[QueryView, ...] = ()
        split: tuple[Disagreement, ...] = ()
        if worst > 0:
            lowest, dropped = worst_queries(
                conn, day=day, baseline_start=base_start, k=k, limit=worst, segment=segment
            )
            split = disagreements(conn, day=day, limit=worst, segment=segment)
    shown = [t.segment for t in trends]
    frozen = {s: d for s in shown if (d := reference.excluded_since(s)) is not None}
    return DailyReport(
        day=day,
        baseline_days=baseline_days,
        baseline_start=base_start,
        baseline_end=base_end,
        reference_days={s: reference.days_for(s) for s in shown},
        frozen_since=frozen,
        segment=segment,
        lines=tuple(lines),
        alerts=alerts,
        segments=drops,
        trend_k=k,
        first_day=first_day,
        trends=trends,
        changepoint=changepoint,
        annotations=tuple(notes),
        health=health,
        grades_today=grades_today,
        grades_baseline=grades_base,
        worst=lowest,
        drops=dropped,
        disagreements=split,
    )
