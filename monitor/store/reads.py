"""Reading the stored figures: queries named after the question they answer.

What the exporter, the report, the alerts, the demo and ``plan`` show is read here, from
``daily_metrics`` (and, for the report's grade bars, ``ensemble_grades``). The reads
are split by concern so that no module grows past a screenful of queries:

* ``reads`` (this module): the stored figures, ``daily_metrics``;
* ``metric_reads``: what the metrics step computes the figures from (samples, verdicts,
  ensemble grades, human labels of a day);
* ``sample_reads``: samples, comparisons and labels read back by the pipeline, the
  compare flow and the label import/export;
* ``runs``: the run bookkeeping.

Every function takes a ``Connection`` (the caller owns it) and keyword-only arguments,
and returns plain values, tuples or frozen dataclasses, never a SQLAlchemy result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, text

__all__ = [
    "BaselineMean",
    "Figure",
    "FigureAgainstBaseline",
    "SeriesPoint",
    "daily_series",
    "day_values",
    "ensemble_grade_counts",
    "figure_value",
    "figures_against_baseline",
    "figures_between",
    "latest_metrics_day",
    "means_before",
    "nearest_metric_days",
]


@dataclass(frozen=True, slots=True)
class Figure:
    """One stored ``daily_metrics`` row: a value with its CI and n, or None with a reason."""

    day: dt.date
    metric: str
    segment: str
    judge: str
    k: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One day of one figure's series (one point per k when k was not fixed)."""

    day: dt.date
    k: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int


@dataclass(frozen=True, slots=True)
class BaselineMean:
    """The mean of one figure (metric, segment, judge, k) over a window of days."""

    metric: str
    segment: str
    judge: str
    k: int
    value: float


@dataclass(frozen=True, slots=True)
class FigureAgainstBaseline:
    """A figure of the day that has a value, and its mean over the days before."""

    metric: str
    segment: str
    judge: str
    k: int
    value: float
    ci_high: float | None
    baseline: float | None


_FIGURE_COLUMNS = "metric_date, metric, segment, judge, k, value, ci_low, ci_high, n, reason"


def _figures(rows: Sequence[Row[Any]]) -> tuple[Figure, ...]:
    return tuple(
        Figure(
            day=r.metric_date,
            metric=r.metric,
            segment=r.segment,
            judge=r.judge,
            k=int(r.k),
            value=r.value,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            n=int(r.n),
            reason=r.reason,
        )
        for r in rows
    )


def daily_series(
    conn: Connection,
    *,
    metric: str,
    segment: str,
    judge: str,
    k: int | None = None,
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> tuple[SeriesPoint, ...]:
    """How did this figure move day by day? Its stored values from ``first`` to ``last``
    (both included, either open when None), oldest first; every k unless ``k`` is given.

    The one read of the daily nDCG series, for the change point, the report's trend,
    the demo's chart and ``plan``'s measured variance.
    """
    where = ["metric = :m", "segment = :s", "judge = :j"]
    if k is not None:
        where.append("k = :k")
    if first is not None:
        where.append("metric_date >= :a")
    if last is not None:
        where.append("metric_date <= :b")
    rows = conn.execute(
        text(
            "SELECT metric_date, k, value, ci_low, ci_high, n FROM daily_metrics "
            f"WHERE {' AND '.join(where)} ORDER BY metric_date, k"
        ),
        {"m": metric, "s": segment, "j": judge, "k": k, "a": first, "b": last},
    ).all()
    return tuple(
        SeriesPoint(
            day=r.metric_date,
            k=int(r.k),
            value=r.value,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            n=int(r.n),
        )
        for r in rows
    )


def latest_metrics_day(conn: Connection) -> dt.date | None:
    """Which is the newest day with figures stored? (None when there is none yet.)"""
    day: dt.date | None = conn.execute(text("SELECT max(metric_date) FROM daily_metrics")).scalar()
    return day


def day_values(conn: Connection, *, day: dt.date, metrics: Sequence[str]) -> tuple[Figure, ...]:
    """Which of these metrics have a value on ``day``? Every such figure of the day."""
    rows = conn.execute(
        text(
            f"SELECT {_FIGURE_COLUMNS} FROM daily_metrics "
            "WHERE metric_date = :day AND value IS NOT NULL AND metric = ANY(:metrics)"
        ),
        {"day": day, "metrics": list(metrics)},
    ).all()
    return _figures(rows)


def means_before(
    conn: Connection, *, day: dt.date, days: int, metrics: Sequence[str]
) -> tuple[BaselineMean, ...]:
    """What was each figure of these metrics on average over the ``days`` days before
    ``day``? (Figures with no value in that window have no mean.)"""
    rows = conn.execute(
        text(
            "SELECT metric, segment, judge, k, avg(value) AS value FROM daily_metrics "
            "WHERE metric_date >= :start AND metric_date < :day AND value IS NOT NULL "
            "AND metric = ANY(:metrics) GROUP BY metric, segment, judge, k"
        ),
        {"day": day, "start": day - dt.timedelta(days=days), "metrics": list(metrics)},
    ).all()
    return tuple(BaselineMean(r.metric, r.segment, r.judge, int(r.k), float(r.value)) for r in rows)


def figures_against_baseline(
    conn: Connection, *, day: dt.date, baseline_days: int
) -> tuple[FigureAgainstBaseline, ...]:
    """Every figure of ``day`` that has a value, next to its mean over the
    ``baseline_days`` days before (None when it had none): what the alert rules test."""
    rows = conn.execute(
        text(
            "SELECT d.metric, d.segment, d.judge, d.k, d.value, d.ci_high, "
            "(SELECT avg(b.value) FROM daily_metrics b WHERE b.metric = d.metric "
            " AND b.segment = d.segment AND b.judge = d.judge AND b.k = d.k "
            " AND b.metric_date >= :start AND b.metric_date < :day) AS baseline "
            "FROM daily_metrics d WHERE d.metric_date = :day AND d.value IS NOT NULL"
        ),
        {"day": day, "start": day - dt.timedelta(days=baseline_days)},
    ).all()
    return tuple(
        FigureAgainstBaseline(
            metric=r.metric,
            segment=r.segment,
            judge=r.judge,
            k=int(r.k),
            value=float(r.value),
            ci_high=r.ci_high,
            baseline=float(r.baseline) if r.baseline is not None else None,
        )
        for r in rows
    )


def figures_between(conn: Connection, *, first: dt.date, last: dt.date) -> tuple[Figure, ...]:
    """Every figure stored for the days ``first`` to ``last`` (both included), oldest
    day first, those without a value (and their reason) included."""
    rows = conn.execute(
        text(
            f"SELECT {_FIGURE_COLUMNS} FROM daily_metrics "
            "WHERE metric_date BETWEEN :s AND :e ORDER BY metric_date"
        ),
        {"s": first, "e": last},
    ).all()
    return _figures(rows)


def nearest_metric_days(conn: Connection, *, day: dt.date, n: int = 3) -> tuple[dt.date, ...]:
    """Which ``n`` days with figures are nearest to ``day``? In date order."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT metric_date, abs(metric_date - CAST(:d AS date)) AS dist "
            "FROM daily_metrics ORDER BY dist, metric_date LIMIT :n"
        ),
        {"d": day, "n": n},
    )
    return tuple(sorted(r.metric_date for r in rows))


def figure_value(conn: Connection, *, day: dt.date, metric: str, segment: str) -> float | None:
    """What is this metric's value for ``segment`` on ``day``? (None when not stored.)"""
    value = conn.execute(
        text(
            "SELECT value FROM daily_metrics WHERE metric = :m "
            "AND metric_date = :d AND segment = :s"
        ),
        {"m": metric, "d": day, "s": segment},
    ).scalar()
    return float(value) if value is not None else None


def ensemble_grade_counts(
    conn: Connection, *, first: dt.date, last: dt.date, top: int
) -> dict[int, int]:
    """How many results of the samples dated ``first`` to ``last`` got each ensemble
    grade, rounded half up onto 0 … ``top``? (Every ranker's samples.)"""
    rows = conn.execute(
        text(
            "SELECT LEAST(GREATEST(floor(e.grade + 0.5), 0), :top)::int AS g, count(*) AS c "
            "FROM ensemble_grades e JOIN samples s ON s.id = e.sample_id "
            "AND s.sample_date = e.sample_date "
            "WHERE s.sample_date BETWEEN :s AND :e AND e.grade IS NOT NULL GROUP BY 1"
        ),
        {"s": first, "e": last, "top": top},
    )
    return {int(r.g): int(r.c) for r in rows}
