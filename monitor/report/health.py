"""The judges' health over the trend window: agreement, invalid answers, cost.

A quality figure is only as good as the judges behind it, so the report draws, per day:
how far the judges agree among themselves (Krippendorff's alpha, each pair's Cohen's
kappa) and with people (each judge's kappa against human labels), how often each judge
answered nothing usable, and what the judges cost. A panel with nothing to draw says
why in a sentence — the reason the metrics step stored with the day's empty figure
(e.g. "alpha needs at least two judges"), or what would fill it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.metrics.daily import MetricRow
from monitor.store.reads import Figure

__all__ = [
    "PANELS",
    "JudgeHealth",
    "Series",
    "SeriesPoint",
    "judge_health",
    "series_of",
]


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One day of a series (``value`` None: nothing stored, or stored without a value)."""

    day: dt.date
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: a figure (metric, judge, k) of all traffic, day by day."""

    label: str
    metric: str
    judge: str
    k: int
    points: tuple[SeriesPoint, ...]


#: Each panel, the metrics it draws, and what fills it when nothing is stored.
PANELS: dict[str, tuple[tuple[str, ...], str]] = {
    "agreement": (
        ("krippendorff_alpha", "cohen_kappa", "human_kappa"),
        "agreement among judges needs two or more judges grading the same results, and "
        "agreement with people needs human labels of the day's results "
        "(`judge-monitor labels import`)",
    ),
    "invalid": (
        ("invalid_rate",),
        "no judge answered on these days (the daily run judged nothing)",
    ),
    "cost": (
        ("cost_usd",),
        "no judge made a paid call on these days (local judges cost nothing; an LLM "
        "judge's calls are priced by its price_input_per_mtok and price_output_per_mtok)",
    ),
}

_LABELS = {
    "krippendorff_alpha": "alpha among judges",
    "cohen_kappa": "kappa",
    "human_kappa": "kappa vs humans",
}


@dataclass(frozen=True, slots=True)
class JudgeHealth:
    """The three panels' series, and for a panel without a value, why it is empty
    (``empty["humans"]``: agreement among judges is drawn, agreement with people not)."""

    agreement: tuple[Series, ...]
    invalid: tuple[Series, ...]
    cost: tuple[Series, ...]
    empty: Mapping[str, str]


def series_of(figures: Sequence[Figure], days: Sequence[dt.date]) -> tuple[SeriesPoint, ...]:
    """One point per day of ``days`` from one figure's stored rows (missing days empty)."""
    by_day = {f.day: f for f in figures}
    return tuple(
        SeriesPoint(d, f.value, f.ci_low, f.ci_high, f.n)
        if (f := by_day.get(d)) is not None
        else SeriesPoint(d, None, None, None, 0)
        for d in days
    )


def _label(metric: str, judge: str) -> str:
    """A line's legend: the judge alone where the panel holds one metric."""
    if metric not in _LABELS:
        return judge
    name = _LABELS[metric]
    return name if judge == "ensemble" else f"{name} {judge}"


def judge_health(
    window: Sequence[Figure], today: Sequence[MetricRow], days: Sequence[dt.date]
) -> JudgeHealth:
    """The judge-health panels over ``days`` from the window's figures of all traffic;
    an empty panel's sentence from ``today``'s stored reasons, or from ``PANELS``."""
    grouped: dict[tuple[str, str, int], list[Figure]] = defaultdict(list)
    for f in window:
        if f.segment == "all":
            grouped[(f.metric, f.judge, f.k)].append(f)
    panels: dict[str, tuple[Series, ...]] = {}
    empty: dict[str, str] = {}
    for panel, (metrics, fallback) in PANELS.items():
        found = []
        for (metric, judge, k), figures in sorted(grouped.items()):
            if metric in metrics and any(f.value is not None for f in figures):
                points = series_of(figures, days)
                found.append(Series(_label(metric, judge), metric, judge, k, points))
        found.sort(key=lambda s: (metrics.index(s.metric), s.judge))
        if panel == "cost" and all(not p.value for s in found for p in s.points):
            found = []  # a flat zero says less than the sentence
        panels[panel] = tuple(found)
        if not found:
            reasons = sorted(
                {f"{r.metric}: {r.reason}" for r in today if r.metric in metrics and r.reason}
            )
            why = "; ".join(reasons) + "; " + fallback if reasons else fallback
            empty[panel] = f"Nothing to draw: {why}."
    if panels["agreement"] and not any(s.metric == "human_kappa" for s in panels["agreement"]):
        reasons = sorted({r.reason for r in today if r.metric == "human_kappa" and r.reason})
        why = f" ({'; '.join(reasons)})" if reasons else ""
        empty["humans"] = (
            f"No agreement with people to draw{why}: it needs human labels of the day's "
            "results (`judge-monitor labels import`)."
        )
    return JudgeHealth(panels["agreement"], panels["invalid"], panels["cost"], empty)
