"""A day's figures against their baseline: the arrows, the sections, the number formats.

Each figure of the day is set against the mean of the same figure (same metric, segment,
judge and k) over the baseline window, and gets an arrow: ↑ or ↓ when it moved by more
than a tolerance, → when it did not. Whether a move is good depends on the metric (nDCG
up is good, invalid-answer rate up is bad), so each line also says "better" or "worse"
where the catalogue knows the direction.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.metrics.catalog import METRICS, SECTIONS, spec_of
from monitor.metrics.daily import MetricRow
from monitor.types import MAX_GRADE

__all__ = [
    "LABELLED_JUDGES",
    "SECTIONS",
    "ReportLine",
    "compare_to_baseline",
    "format_ci",
    "format_value",
    "grade_shares",
    "judge_caption",
    "section_of",
    "trend_arrow",
]

#: Order within a section: the catalogue's; unknown metrics follow alphabetically.
_RANK = {spec.metric: i for i, spec in enumerate(METRICS)}
#: A figure corrected by human labels, and its humans-only companion, right after the
#: ensemble's (judge-only) line of the same metric they correct (``metrics.corrected``).
_AFTER_ENSEMBLE = {"ensemble": 0, "corrected": 1, "humans": 2}


def _judge_order(judge: str) -> tuple[str, int]:
    at = _AFTER_ENSEMBLE.get(judge)
    return (judge, 0) if at is None else ("ensemble", at)


@dataclass(frozen=True, slots=True)
class ReportLine:
    """A figure of the day against its baseline (``baseline`` None: no earlier value)."""

    section: str
    current: MetricRow
    baseline: float | None
    baseline_n_days: int
    arrow: str
    assessment: str  # "better" | "worse" | "same" | "" (direction unknown or no baseline)


#: The judges of the rows human labels give (``metrics.corrected``).
LABELLED_JUDGES = ("corrected", "humans")


def judge_caption(judge: str, n: int, *, short: bool = False) -> str:
    """How the report names a row's judge: the corrected and humans-only rows say how
    many human labels they rest on."""
    if judge == "corrected":
        plural = "s" if n != 1 else ""
        return (
            f"corrected, {n:,} label{plural}"
            if short
            else f"corrected by {n:,} human label{plural}"
        )
    if judge == "humans":
        plural = "s" if n != 1 else ""
        return f"humans, {n:,} label{plural}" if short else f"humans only, {n:,} label{plural}"
    return judge


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
    today = [r for r in today if (spec := spec_of(r.metric)) is None or spec.in_report]
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
            _judge_order(ln.current.judge),
            ln.current.segment,
        )
    )
    return lines


def grade_shares(counts: Mapping[int, int]) -> dict[int, float]:
    """Share of each grade 0–3 (all zero when there is nothing)."""
    total = sum(counts.values())
    return {g: (counts.get(g, 0) / total if total else 0.0) for g in range(MAX_GRADE + 1)}


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
