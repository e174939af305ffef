"""The alert rules' conditions, evaluated on stored figures for one day.

Prometheus evaluates the rules in ``dashboards/prometheus/rules/`` on what the exporter
serves; this module asks the same questions of the database directly, so ``demo`` and
``report`` can say which alerts *would* fire for a day without a Prometheus running. A
test keeps each threshold here equal to the one in the rules file.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from monitor.store.reads import figures_against_baseline

__all__ = ["CONDITIONS", "Condition", "Firing", "firing_alerts"]

BASELINE_DAYS = 7


@dataclass(frozen=True)
class Condition:
    """One alert: the daily metric it watches, how it compares, and its threshold."""

    alert: str
    metric: str
    threshold: float
    compare: str  # "above" | "below" | "drop" (baseline minus value above threshold)
    k: int | None = None
    judge: str | None = None
    severity: str = "page"

    def holds(self, value: float, baseline: float | None, ci_high: float | None = None) -> bool:
        op: Callable[[float, float], bool] = operator.gt if self.compare != "below" else operator.lt
        if self.compare == "drop":
            # and the whole CI below the baseline, as in the rule: not a small segment's noise
            return (
                baseline is not None
                and op(baseline - value, self.threshold)
                and (ci_high is None or ci_high < baseline)
            )
        if self.compare == "ratio":
            return baseline is not None and baseline > 0 and op(value, self.threshold * baseline)
        return op(value, self.threshold)


CONDITIONS: tuple[Condition, ...] = (
    Condition("JudgeMonitorQualityDropVsBaseline", "ndcg", 0.05, "drop", k=10, judge="ensemble"),
    Condition("JudgeMonitorQualityBelowFloor", "ndcg", 0.5, "below", k=10, judge="ensemble"),
    Condition("JudgeMonitorGradeDrift", "grade_psi", 0.2, "above", severity="ticket"),
    Condition("JudgeMonitorChangePoint", "changepoint_cusum", 5, "above", k=10),
    Condition(
        "JudgeMonitorJudgeDisagreement", "krippendorff_alpha", 0.4, "below", judge="ensemble"
    ),
    Condition("JudgeMonitorJudgeHumanKappaLow", "human_kappa", 0.4, "below"),
    Condition("JudgeMonitorJudgeHumanF1Low", "human_f1", 0.5, "below", k=2),
    Condition("JudgeMonitorInvalidAnswers", "invalid_rate", 0.05, "above"),
    Condition("JudgeMonitorCostSpike", "cost_usd", 2, "ratio"),
)


@dataclass(frozen=True)
class Firing:
    alert: str
    segment: str
    judge: str
    value: float
    baseline: float | None
    severity: str


def firing_alerts(conn: Connection, day: dt.date) -> list[Firing]:
    """The alerts whose condition holds on ``day``'s stored figures."""
    rows = figures_against_baseline(conn, day=day, baseline_days=BASELINE_DAYS)
    out = []
    for condition in CONDITIONS:
        for r in rows:
            if r.metric != condition.metric:
                continue
            if condition.k is not None and r.k != condition.k:
                continue
            if condition.judge is not None and r.judge != condition.judge:
                continue
            if condition.holds(r.value, r.baseline, r.ci_high):
                out.append(
                    Firing(
                        condition.alert,
                        r.segment,
                        r.judge,
                        r.value,
                        r.baseline,
                        condition.severity,
                    )
                )
    return out
