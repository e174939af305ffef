"""Which alerts would fire on a stored day: the rules YAML evaluated on that day's samples.

Prometheus evaluates ``dashboards/prometheus/rules/`` on what the exporter serves; this
module evaluates the *same* rules (``monitor.export.rules``: expressions, severities and
``for:`` read from the YAML, nothing restated) on the samples the exporter serves for a
stored day — its figures, their baselines as ``monitor.export.baseline`` defines them for
that day, and how the day's run ended — so ``demo``, the daily artifact and the
detection-power bench can say which alerts *would* fire without a Prometheus running.

Only rules that read nothing but those samples are evaluated here (``day_rules``): the
ones about time since the last success, a missing series, or the exporter being up
need a live Prometheus. A daily figure holds for the whole day, so any ``for:`` shorter
than a day is met; ``tests/dashboards/test_dashboards_rules_python.py`` checks that no
such rule waits longer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from monitor.config import load_settings
from monitor.export.baseline import daily_samples
from monitor.export.promql import NAME, InstantSample, selectors
from monitor.export.rules import AlertRule, load_rules
from monitor.metrics.catalog import METRICS, PREFIX
from monitor.store.baselines import run_status

__all__ = ["DAY_FAMILIES", "Firing", "day_rules", "firing_alerts", "runbook_url"]

_MAIN = {spec.family for spec in METRICS}
RUN_STATUS = PREFIX + "last_run_status"
#: The families the day view holds: every daily figure family and the day's run status.
DAY_FAMILIES: frozenset[str] = frozenset(
    {
        *_MAIN,
        *(s.family + "_ci_lower" for s in METRICS if s.has_ci),
        *(s.family + "_ci_upper" for s in METRICS if s.has_ci),
        *(s.family + "_baseline" for s in METRICS if s.baseline),
        PREFIX + "metric_samples",
        RUN_STATUS,
    }
)


@dataclass(frozen=True)
class Firing:
    """An alert whose condition holds on a day's samples.

    ``value`` is the figure the rule watches (nDCG for the quality drop; the rule's
    ``$value`` when it watches no daily figure), ``baseline`` that figure's baseline if
    it has one; ``measure`` the rule's ``$value`` (for the drop: baseline minus value).
    """

    alert: str
    segment: str
    judge: str
    value: float
    baseline: float | None
    severity: str
    k: str = ""
    measure: float = 0.0
    for_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)


def runbook_url(base: str, alert: str) -> str:
    """The runbook section of ``alert`` under ``base`` (settings ``runbook_base_url``)."""
    return f"{base}#{alert.lower()}"


def day_rules(rules: Sequence[AlertRule] | None = None) -> list[AlertRule]:
    """The rules the day view can evaluate: they read only ``DAY_FAMILIES``, not time."""
    chosen = load_rules() if rules is None else rules
    return [r for r in chosen if r.families and r.families <= DAY_FAMILIES and not r.uses_time]


def _watched(rule: AlertRule, labels: Mapping[str, str]) -> str | None:
    """The figure a firing is about: the rule's first main family whose selector fits the
    firing's labels (the quality-drop rule watches the ensemble's ``ndcg`` or, where
    human labels correct it, the corrected one)."""
    for selector in selectors(rule.node):
        if selector.name in _MAIN and selector.matches({**labels, NAME: selector.name}):
            return selector.name
    return None


def _find(samples: Sequence[InstantSample], name: str, labels: Mapping[str, str]) -> float | None:
    keys = ("segment", "judge", "k")
    for sample in samples:
        if sample.labels.get(NAME) == name and all(
            sample.labels.get(k) == labels.get(k) for k in keys
        ):
            return sample.value
    return None


def evaluate_day(
    samples: Sequence[InstantSample], day: dt.date, rules: Sequence[AlertRule] | None = None
) -> list[Firing]:
    """The day rules that hold on ``samples`` (a day's view), in rules-file order."""
    at = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()
    out = []
    for rule in day_rules(rules):
        for firing in rule.evaluate(samples, at=at):
            labels = firing.labels
            watched = _watched(rule, labels)
            value = _find(samples, watched, labels) if watched else None
            baseline = _find(samples, watched + "_baseline", labels) if watched else None
            out.append(
                Firing(
                    alert=rule.name,
                    segment=labels.get("segment", ""),
                    judge=labels.get("judge", ""),
                    value=firing.value if value is None else value,
                    baseline=baseline,
                    severity=rule.severity,
                    k=labels.get("k", ""),
                    measure=firing.value,
                    for_s=rule.for_s,
                    labels=dict(labels),
                )
            )
    return out


def firing_alerts(
    conn: Connection, day: dt.date, *, baseline_days: int | None = None
) -> list[Firing]:
    """The alerts whose condition holds on ``day``'s stored figures and run.

    ``baseline_days`` defaults to the settings' (``load_settings()``).
    """
    days = baseline_days if baseline_days is not None else load_settings().baseline_days
    samples, _ = daily_samples(conn, day=day, baseline_days=days)
    status = run_status(conn, flow="daily", day=day)
    if status is not None and status != "running":
        samples.append(InstantSample({NAME: RUN_STATUS, "flow": "daily", "status": status}, 1.0))
    return evaluate_day(samples, day)
