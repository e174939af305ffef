"""The CUPED figure on real PostgreSQL: four stored days of the same queries, then a day
that drew mostly the good ones; ``ndcg_cuped`` is checked against a hand computation."""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import pytest
from pool_seed import store_lists

from monitor.config import Settings
from monitor.metrics.daily import MetricRow
from monitor.metrics.quality import pooled_ndcg_at_k
from monitor.pipeline.cuped_step import CUPED_METRIC
from monitor.pipeline.metrics_step import compute_day_metrics
from monitor.store.db import Database

START = dt.date(2026, 4, 1)
DAYS = [START + dt.timedelta(days=i) for i in range(4)]
TODAY = START + dt.timedelta(days=4)
Lists = dict[str, list[tuple[str, float]]]


def _lists(query: int) -> list[tuple[str, float]]:
    """Query i shows r0..r2; its top result's grade spreads the queries' figures."""
    return [(f"q{query}-r0", float(query % 4)), (f"q{query}-r1", 3.0), (f"q{query}-r2", 1.0)]


def _row(rows: list[MetricRow], metric: str) -> MetricRow:
    (row,) = [r for r in rows if (r.metric, r.segment, r.k) == (metric, "all", 10)]
    return row


def test_cuped_takes_the_draws_luck_out_by_hand(database: Database) -> None:
    settings = Settings(canary_size=0, cuped=True)
    stored = []
    for day in DAYS:  # every day, the same 24 queries with the same lists
        store_lists(database, day, {f"q{i}": _lists(i) for i in range(24)})
        stored.append(_row(compute_day_metrics(database, day, settings), "ndcg").value)
    # today drew the good queries (top grade 3 or 2), one of which changed, and a new one
    today: Lists = {f"q{i}": _lists(i) for i in range(24) if i % 4 >= 2}
    today["q7"] = [("q7-r0", 3.0), ("q7-new", 0.0), ("q7-r2", 1.0)]
    today["new"] = [("new-r0", 2.0), ("new-r1", 0.0)]
    store_lists(database, TODAY, today)
    rows = compute_day_metrics(database, TODAY, settings)

    pools = {q: [g for _, g in _lists(int(q[1:]))] for q in today if q != "new"}
    pools["q7"] = [*pools["q7"], 0.0]
    y, x = [], []
    for q, shown in today.items():
        pool = pools.get(q, [g for _, g in shown])
        y.append(pooled_ndcg_at_k([g for _, g in shown], 10, pool))
        if q != "new":
            x.append(pooled_ndcg_at_k([g for _, g in _lists(int(q[1:]))], 10, pool))
    theta, _ = np.polyfit(x, y[: len(x)], 1)
    level = statistics.fmean(v for v in stored if v is not None)
    adjusted = [yi - theta * (xi - level) for yi, xi in zip(y, x, strict=False)] + [y[-1]]
    cuped, plain = _row(rows, CUPED_METRIC), _row(rows, "ndcg")
    assert plain.value == pytest.approx(statistics.fmean(y)), "the same queries and weights"
    assert cuped.value == pytest.approx(statistics.fmean(adjusted))
    assert plain.value is not None and cuped.value < plain.value - 0.03, "luck taken out"
    assert cuped.n == 13 and cuped.ci_low is not None and cuped.ci_high is not None


def test_off_by_default_and_without_a_level_says_why(database: Database) -> None:
    store_lists(database, START, {f"q{i}": _lists(i) for i in range(24)})
    rows = compute_day_metrics(database, START, Settings(canary_size=0))
    assert not [r for r in rows if r.metric == CUPED_METRIC]
    first = _row(
        compute_day_metrics(database, START, Settings(canary_size=0, cuped=True)), CUPED_METRIC
    )
    assert first.value is None and first.reason == "no stored ndcg@10 in the 14 days before"
