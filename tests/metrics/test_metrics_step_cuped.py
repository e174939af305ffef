"""The CUPED figure on real PostgreSQL: four stored days of the same queries, then a day
that drew mostly the good ones; ``ndcg_cuped`` is checked against a hand computation.

What could go wrong and is pinned here: the past lists scored against their own day's
pool instead of today's (q7's new 3 changes today's ideal), a list from before the
window or a compare ranking counted as history, and the centre taken from the headline
figure (each stored day also had a one-off query that is in the headline, not in the
centre)."""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import pytest
from pool_seed import store_lists

from monitor.config import Settings
from monitor.metrics.daily import MetricRow
from monitor.metrics.quality import pooled_ndcg_at_k
from monitor.pipeline.cuped_step import CENTRE_METRIC, CUPED_METRIC
from monitor.pipeline.metrics_step import compute_day_metrics
from monitor.store.db import Database

START = dt.date(2026, 4, 1)
DAYS = [START + dt.timedelta(days=i) for i in range(4)]
TODAY = START + dt.timedelta(days=4)
Lists = dict[str, list[tuple[str, float]]]


def _lists(query: int) -> list[tuple[str, float]]:
    """Query i shows r0..r2; its top result's grade spreads the queries' figures."""
    return [(f"q{query}-r0", float(query % 4)), (f"q{query}-r1", 3.0), (f"q{query}-r2", 1.0)]


def _grades(shown: list[tuple[str, float]]) -> list[float]:
    return [g for _, g in shown]


def _row(rows: list[MetricRow], metric: str) -> MetricRow:
    (row,) = [r for r in rows if (r.metric, r.segment, r.k) == (metric, "all", 10)]
    return row


def test_cuped_takes_the_draws_luck_out_by_hand(database: Database) -> None:
    settings = Settings(canary_size=0, cuped=True)
    zeros = [("q2-old0", 0.0), ("q2-old1", 0.0), ("q2-old2", 0.0)]
    store_lists(database, START - dt.timedelta(days=20), {"q2": zeros})  # before the window
    store_lists(database, DAYS[1], {"q3": [("q3-cmp", 3.0)]}, ranker="compare:cand")
    stored: list[tuple[MetricRow, MetricRow, MetricRow]] = []
    for day in DAYS:  # every day the same 24 queries with the same lists, and a one-off
        lists = {f"q{i}": _lists(i) for i in range(24)}
        lists[f"once {day}"] = [(f"{day}-a", 0.0), (f"{day}-b", 0.0), (f"{day}-c", 1.0)]
        store_lists(database, day, lists)
        rows = compute_day_metrics(database, day, settings)
        stored.append((_row(rows, "ndcg"), _row(rows, CENTRE_METRIC), _row(rows, CUPED_METRIC)))
    # today drew the good queries (top grade 3 or 2), q7 with a new 3, and a new query
    today: Lists = {f"q{i}": _lists(i) for i in range(24) if i % 4 >= 2}
    today["q7"] = [("q7-r0", 3.0), ("q7-new", 3.0), ("q7-r2", 1.0)]
    today["new"] = [("new-r0", 2.0), ("new-r1", 0.0)]
    store_lists(database, TODAY, today)
    rows = compute_day_metrics(database, TODAY, settings)

    _, first_centre, first_cuped = stored[0]
    assert first_centre.value is None and first_cuped.value is None  # nobody seen before
    assert first_cuped.reason is not None and "no stored cuped_centre" in first_cuped.reason
    own = [pooled_ndcg_at_k(_grades(_lists(i)), 10, _grades(_lists(i))) for i in range(24)]
    for n, (_, centre, cuped) in enumerate(stored[1:], 2):
        assert centre.value == pytest.approx(statistics.fmean(own)) and centre.n == 24
        assert (cuped.value is None) == (n == 2), "day 2 has no stored centre before it"
    centre = statistics.fmean(own)
    headline = statistics.fmean(n.value for n, _, _ in stored if n.value is not None)
    assert abs(centre - headline) > 0.01, "the one-off queries tell the two apart"

    y, x = [], []
    for q, shown in today.items():
        pool = _grades(shown) if q == "new" else [*_grades(_lists(int(q[1:]))), 0.0]
        if q == "q7":
            pool.append(3.0)
        y.append(pooled_ndcg_at_k(_grades(shown), 10, pool))
        if q != "new":
            x.append(pooled_ndcg_at_k(_grades(_lists(int(q[1:]))), 10, pool))
    assert x[list(today).index("q7")] < 1.0, "q7's past list against today's ideal"
    theta, _ = np.polyfit(x, y[: len(x)], 1)
    adjusted = [yi - theta * (xi - centre) for yi, xi in zip(y, x, strict=False)] + [y[-1]]
    cuped, plain = _row(rows, CUPED_METRIC), _row(rows, "ndcg")
    assert plain.value == pytest.approx(statistics.fmean(y)), "the same queries and weights"
    assert cuped.value == pytest.approx(statistics.fmean(adjusted))
    assert plain.value is not None and cuped.value < plain.value - 0.03, "luck taken out"
    assert cuped.n == 13 and cuped.ci_low is not None and cuped.ci_high is not None


def test_off_by_default(database: Database) -> None:
    store_lists(database, START, {f"q{i}": _lists(i) for i in range(24)})
    rows = compute_day_metrics(database, START, Settings(canary_size=0))
    assert not [r for r in rows if r.metric in (CUPED_METRIC, CENTRE_METRIC)]
