"""The one baseline: a segment's last ``baseline_days`` in-control days before the day.

What "baseline" means for every figure the exporter, the alert rules, ``report``,
``demo`` and the dashboards compare a day with: the mean of the figure over its
segment's *reference days* — the latest ``baseline_days`` days before it (settings
``baseline_days``) on which the segment was in control. A day is out of control for a
segment when one of ``CONTROL_ALERTS`` held for it on that day (a quality drop against
*that day's* baseline, nDCG below its floor, the change point alert), and so are the
days the change point dates the shift back to before its alarm. Those days stay out of
the baseline until someone accepts the segment's new level (``judge-monitor baseline
accept --segment S --from D``: the reference restarts at D, and from then on only a drop
against the accepted level or a new shift keeps a day out) or quality comes back (a day
the alerts no longer hold on is in control and counts again).

So a regression that persists keeps its page: the regressed days never become the
reference it is measured against, which a plain mean of the last N days would make them
within N days. The chart is replayed day by day from the stored figures at every read
(``CONTROL_HISTORY_DAYS`` of history), evaluating the rules' own expressions
(``monitor.export.rules``) on the samples the exporter served on each of those days, so
an acceptance counts at the next scrape and no state is kept anywhere else.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from monitor.export.families import figure_samples
from monitor.export.promql import InstantSample, SampleIndex
from monitor.export.rules import AlertRule, rules_by_name
from monitor.metrics.catalog import METRICS
from monitor.store.baselines import (
    Acceptance,
    acceptances,
    figures_of,
    history_fingerprint,
    means_on_days,
)
from monitor.store.reads import BaselineMean, Figure, day_values

__all__ = [
    "CHANGE_POINT_ALERT",
    "CONTROL_ALERTS",
    "CONTROL_HISTORY_DAYS",
    "Reference",
    "baseline_means",
    "control_chart",
    "daily_samples",
    "reference_for",
]

#: The alerts whose days are out of control for the segment they fire on.
CONTROL_ALERTS = (
    "JudgeMonitorQualityDropVsBaseline",
    "JudgeMonitorQualityBelowFloor",
    "JudgeMonitorChangePoint",
)
#: The floor alert: it keeps days out only until a level is accepted (then the floor
#: still pages, but the accepted level is what drops are measured against).
FLOOR_ALERT = "JudgeMonitorQualityBelowFloor"
#: The change point alert: besides its own days, the days back to the shift's start.
CHANGE_POINT_ALERT = "JudgeMonitorChangePoint"
CHANGE_POINT_START = "changepoint_start_days_ago"
#: How far back the chart is replayed: a regression older than this is forgiven.
CONTROL_HISTORY_DAYS = 730

_FAMILY_METRIC = {
    spec.family + suffix: spec.metric
    for spec in METRICS
    for suffix in ("", "_ci_lower", "_ci_upper", "_baseline")
}


@dataclass(frozen=True)
class Reference:
    """The reference days of every segment for ``day``, and why other days are not."""

    day: dt.date
    baseline_days: int
    by_segment: Mapping[str, tuple[dt.date, ...]]
    #: for a segment the control chart does not follow: the latest days with figures
    fallback: tuple[dt.date, ...]
    #: per segment, the days left out and the alert (or "change point lead-in") why
    excluded: Mapping[str, Mapping[dt.date, str]] = field(default_factory=dict)
    #: per segment, the day its accepted level starts (the latest acceptance ≤ day)
    accepted_from: Mapping[str, dt.date] = field(default_factory=dict)

    def days_for(self, segment: str) -> tuple[dt.date, ...]:
        return self.by_segment.get(segment, self.fallback)

    def excluded_since(self, segment: str) -> dt.date | None:
        """The first of the excluded days after the segment's newest reference day
        (the day its baseline froze), or None when the newest days all count."""
        days = self.days_for(segment)
        newest = days[-1] if days else None
        later = [d for d in self.excluded.get(segment, {}) if newest is None or d > newest]
        return min(later) if later else None


def _accepted(
    accepted: Mapping[str, Sequence[dt.date]], segment: str, day: dt.date
) -> dt.date | None:
    days = accepted.get(segment, ())
    i = bisect.bisect_right(days, day)
    return days[i - 1] if i else None


def _control_rules() -> list[AlertRule]:
    rules = rules_by_name()
    missing = [name for name in CONTROL_ALERTS if name not in rules]
    if missing:
        raise LookupError(f"the rules files lack the control alerts {missing}")
    return [rules[name] for name in CONTROL_ALERTS]


def control_metrics(rules: Sequence[AlertRule]) -> tuple[list[str], list[str]]:
    """The metrics the control rules read, and those of them they read a baseline of."""
    metrics: set[str] = set()
    with_baseline: set[str] = set()
    for rule in rules:
        for family in rule.families:
            metric = _FAMILY_METRIC.get(family)
            if metric is None:
                continue
            metrics.add(metric)
            if family.endswith("_baseline"):
                with_baseline.add(metric)
    return sorted(metrics), sorted(with_baseline)


def _midnight(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def control_chart(
    history: Sequence[Figure],
    *,
    day: dt.date,
    baseline_days: int,
    accepted: Sequence[Acceptance] = (),
    rules: Sequence[AlertRule] | None = None,
) -> Reference:
    """Replay the control rules over ``history`` (figures of days before ``day``) and
    return each segment's reference days for ``day``.

    ``history`` must hold the metrics the control rules read (``control_metrics``) and
    ``changepoint_start_days_ago``; the segments followed are those with a figure of a
    metric whose baseline the rules read.
    """
    chosen = list(rules) if rules is not None else _control_rules()
    _, with_baseline = control_metrics(chosen)
    starts = {
        (f.day, f.segment, f.judge, f.k): f.value
        for f in history
        if f.metric == CHANGE_POINT_START and f.value is not None
    }
    by_day: dict[dt.date, list[Figure]] = defaultdict(list)
    for f in history:
        if f.day < day and f.metric != CHANGE_POINT_START:
            by_day[f.day].append(f)
    accepted_days: dict[str, list[dt.date]] = defaultdict(list)
    for a in sorted(accepted, key=lambda a: a.from_day):
        accepted_days[a.segment].append(a.from_day)
    values: dict[tuple[str, str, str, int], dict[dt.date, float]] = defaultdict(dict)
    in_control: dict[str, list[dt.date]] = defaultdict(list)
    excluded: dict[str, dict[dt.date, str]] = defaultdict(dict)

    def reference(segment: str, at: dt.date) -> list[dt.date]:
        start = _accepted(accepted_days, segment, at)
        days = in_control[segment]
        if start is not None:
            days = days[bisect.bisect_left(days, start) :]
        return days[-baseline_days:]

    for current in sorted(by_day):
        figures = by_day[current]
        means = []
        refs: dict[str, list[dt.date]] = {}
        for key, series in values.items():
            if key[1] not in refs:
                refs[key[1]] = reference(key[1], current)
            ref = [series[d] for d in refs[key[1]] if d in series]
            if ref:
                means.append(BaselineMean(*key, sum(ref) / len(ref)))
        samples = SampleIndex(figure_samples(figures, means, counts=False))
        for rule in chosen:
            for firing in rule.evaluate(samples, at=_midnight(current)):
                segment = firing.labels.get("segment")
                if segment is None:
                    continue
                start = _accepted(accepted_days, segment, current)
                if start is not None and rule.name == FLOOR_ALERT:
                    continue  # an accepted level is the reference, however low
                if rule.name == CHANGE_POINT_ALERT:
                    back = starts.get(
                        (current, segment, firing.labels["judge"], int(firing.labels["k"]))
                    )
                    shift = current - dt.timedelta(days=int(back or 0))
                    if start is not None and shift < start:
                        continue  # a shift older than the accepted level: that level
                    kept = in_control[segment]
                    for d in kept[bisect.bisect_left(kept, shift) :]:
                        excluded[segment][d] = "change point lead-in"
                    del kept[bisect.bisect_left(kept, shift) :]
                excluded[segment].setdefault(current, rule.name)
        for f in figures:
            if f.metric in with_baseline and f.value is not None:
                values[(f.metric, f.segment, f.judge, f.k)][current] = f.value
        for segment in sorted({f.segment for f in figures if f.metric in with_baseline}):
            if current not in excluded[segment]:
                in_control[segment].append(current)

    all_days = sorted(by_day)
    segments = sorted(in_control.keys() | excluded.keys())
    return Reference(
        day=day,
        baseline_days=baseline_days,
        by_segment={s: tuple(reference(s, day)) for s in segments},
        fallback=tuple(all_days[-baseline_days:]),
        excluded={s: dict(excluded[s]) for s in segments if excluded[s]},
        accepted_from={
            s: since
            for s in accepted_days
            if (since := _accepted(accepted_days, s, day)) is not None
        },
    )


def reference_for(conn: Connection, *, day: dt.date, baseline_days: int) -> Reference:
    """The reference days of every segment for ``day``, from what is stored now.

    The replayed chart is kept while nothing it was replayed from changed (the figures'
    row count and newest write, the acceptances, the rules): a scrape then costs one
    small query instead of a replay, and still sees every rewrite, backfill, prune and
    acceptance at once.
    """
    rules = _control_rules()
    metrics, _ = control_metrics(rules)
    read = [*metrics, CHANGE_POINT_START]
    first = day - dt.timedelta(days=CONTROL_HISTORY_DAYS)
    last = day - dt.timedelta(days=1)
    stamp = history_fingerprint(conn, metrics=read, first=first, last=last)
    key = (day, baseline_days, tuple((r.name, r.expr) for r in rules), stamp)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    history = figures_of(conn, metrics=read, first=first, last=last)
    reference = control_chart(
        history, day=day, baseline_days=baseline_days, accepted=acceptances(conn), rules=rules
    )
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = reference
    return reference


_CACHE: dict[tuple[object, ...], Reference] = {}
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def baseline_means(
    conn: Connection, reference: Reference, metrics: Sequence[str] | None = None
) -> tuple[BaselineMean, ...]:
    """Each figure's mean over its segment's reference days (the ``_baseline`` families'
    values); every metric the catalogue gives a baseline unless ``metrics`` is given."""
    chosen = list(metrics) if metrics is not None else [s.metric for s in METRICS if s.baseline]
    return means_on_days(
        conn, metrics=chosen, days=reference.by_segment, fallback=reference.fallback
    )


def daily_samples(
    conn: Connection, *, day: dt.date, baseline_days: int
) -> tuple[list[InstantSample], Reference]:
    """The samples the exporter serves for ``day``'s figures and baselines, and the
    reference days behind the baselines (what the alert rules are evaluated on)."""
    figures = day_values(conn, day=day, metrics=[s.metric for s in METRICS])
    reference = reference_for(conn, day=day, baseline_days=baseline_days)
    return figure_samples(figures, baseline_means(conn, reference)), reference
