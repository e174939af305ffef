"""The pooled nDCG: each query's ideal from every result ever judged for it (issue 24)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pool_seed import store_lists

from monitor.config import load_settings
from monitor.errors import InputError
from monitor.metrics.daily import ALL, ENSEMBLE, MetricRow
from monitor.metrics.quality import pooled_ndcg_at_k, query_figures
from monitor.pipeline.metrics_step import compute_day_metrics
from monitor.store import pool_reads
from monitor.store.db import Database

DAY1 = dt.date(2026, 4, 1)
DAY2 = dt.date(2026, 4, 2)
L3 = math.log2(3)


def test_pooled_ndcg_by_hand() -> None:
    """List 1,1,0 against pool 3,2,1,1,0 at k=3: DCG 1 + 1/log2 3, ideal 7 + 3/log2 3 + 1/2."""
    value = pooled_ndcg_at_k([1, 1, 0], 3, [3, 2, 1, 1, 0])
    assert value == pytest.approx((1 + 1 / L3) / (7 + 3 / L3 + 0.5), abs=1e-9)


def test_pool_of_the_list_itself_gives_the_list_figure() -> None:
    """A query seen once (its pool is its own list) scores its per-list nDCG."""
    grades = [2, 3, 0, 1]
    figures = query_figures(grades, ks=(3,), pool=[3, 2, 1, 0])
    assert figures["ndcg@3"] == pytest.approx(figures["ndcg_list@3"], abs=1e-12)
    assert figures["ndcg_list@3"] < 1.0


def test_pool_missing_the_lists_results_never_lowers_the_ideal() -> None:
    """An empty or lower pool leaves the ideal at the list's own: nDCG stays ≤ 1."""
    assert pooled_ndcg_at_k([3, 2], 10, []) == pytest.approx(1.0)
    assert pooled_ndcg_at_k([3, 2], 10, [1, 1]) == pytest.approx(1.0)


def test_all_zero_list_against_a_pool_with_gain_is_zero_and_unjudged_is_nan() -> None:
    """A list graded all 0 scores 0 against a good pool; a list with no grade is NaN."""
    assert pooled_ndcg_at_k([0, 0], 10, [3]) == 0.0
    assert pooled_ndcg_at_k([0, 0], 10, [0]) == 0.0
    assert math.isnan(pooled_ndcg_at_k([None, None], 10, [3]))


def test_pool_grade_off_the_scale_is_refused_by_name() -> None:
    """A pooled grade outside 0–3 is an InputError naming the pool."""
    with pytest.raises(InputError, match="pool"):
        pooled_ndcg_at_k([1], 3, [4])


def _overall(rows: list[MetricRow], metric: str, k: int) -> float:
    (value,) = [
        r.value
        for r in rows
        if r.metric == metric and r.k == k and r.segment == ALL and r.judge == ENSEMBLE
    ]
    return float(value)


def test_day_two_worse_than_day_one_drops_pooled_ndcg_not_per_list(database: Database) -> None:
    """Day 2 shows each query worse results in a perfect order: pooled nDCG@3 falls to the
    hand-computed 0.1736, per-list stays 1.0; a compare ranking's better result is not pooled."""
    queries = [f"query {i}" for i in range(12)]
    store_lists(database, DAY1, {q: [("r1", 3.0), ("r2", 2.0), ("r3", 1.0)] for q in queries}, "p")
    store_lists(database, DAY1, {q: [("r9", 3.0), ("r8", 3.0)] for q in queries}, "compare:cand")
    store_lists(database, DAY2, {q: [("r3", 1.0), ("r4", 1.0), ("r5", 0.0)] for q in queries}, "p")
    settings = load_settings(baseline_days=1)

    day1 = compute_day_metrics(database, DAY1, settings)
    day2 = compute_day_metrics(database, DAY2, settings)

    assert _overall(day1, "ndcg", 3) == pytest.approx(1.0)
    assert _overall(day1, "ndcg_list", 3) == pytest.approx(1.0)
    # pool: r1 3, r2 2, r3 1 (both days), r4 1, r5 0 -> ideal 3, 2, 1
    assert _overall(day2, "ndcg", 3) == pytest.approx((1 + 1 / L3) / (7 + 3 / L3 + 0.5), abs=1e-6)
    assert _overall(day2, "ndcg_list", 3) == pytest.approx(1.0)
    with database.engine.connect() as conn:
        pools = pool_reads.pooled_grades(conn, day=DAY2)
        with_compare = pool_reads.pooled_grades(conn, day=DAY2, include_compare=True)
        day1_pools = pool_reads.pooled_grades(conn, day=DAY1)
    assert len(pools) == len(queries)
    assert all(sorted(p) == [0.0, 1.0, 1.0, 2.0, 3.0] for p in pools.values())
    assert all(sorted(p) == [0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0] for p in with_compare.values())
    assert all(sorted(p) == [1.0, 2.0, 3.0] for p in day1_pools.values())
