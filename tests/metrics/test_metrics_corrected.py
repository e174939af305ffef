"""Corrected daily rows: PPI++ on the day's per-query figures, per segment, NULL with a reason
when a segment has too few labels."""

from __future__ import annotations

import numpy as np

from monitor.metrics.corrected import (
    CORRECTED,
    HUMANS,
    compute_corrected,
    human_grades,
    human_pool,
)
from monitor.metrics.daily import GradedQuery, MetricRow, compute_quality
from monitor.metrics.quality import query_figures


def _day(seed: int, size: int = 200) -> tuple[list[GradedQuery], dict[int, tuple[float, ...]]]:
    """A day whose judge reads every result one grade too high (a lenient judge)."""
    rng = np.random.default_rng(seed)
    queries, truth = [], {}
    for i in range(size):
        human = tuple(float(g) for g in rng.integers(0, 4, size=10))
        noisy = np.clip(np.array(human) + 1 + rng.integers(-1, 2, size=10) * 0.5, 0, 3)
        locale = "de" if i % 4 == 0 else "en"
        queries.append(GradedQuery(i, {"locale": locale}, 1.0, tuple(noisy.tolist())))
        truth[i] = human
    return queries, truth


def _row(
    rows: list[MetricRow], metric: str, judge: str, segment: str = "all", k: int = 10
) -> MetricRow:
    wanted = (metric, judge, segment, k)
    return next(r for r in rows if (r.metric, r.judge, r.segment, r.k) == wanted)


def test_corrected_row_covers_the_human_figure_the_judge_misses() -> None:
    """With 30 random labels, the corrected nDCG@10 (list ideal) CI holds the day's human
    nDCG@10 (list ideal); the judge-only list-ideal figure is far above it."""
    queries, truth = _day(1)
    rng = np.random.default_rng(2)
    picked = rng.choice(len(queries), size=30, replace=False)
    labelled = {int(i): truth[int(i)] for i in picked}
    strata = {q.sample_id: "day" for q in queries}
    rows = compute_corrected(queries, labelled, strata, ks=(10,))
    human_mean = float(np.mean([query_figures(truth[i], (10,))["ndcg_list@10"] for i in truth]))
    corrected = _row(rows, "ndcg_list", CORRECTED)
    assert corrected.ci_low is not None and corrected.ci_high is not None
    assert corrected.ci_low <= human_mean <= corrected.ci_high and corrected.n == 30
    judge_only = _row(compute_quality(queries, ks=(10,), n_boot=200), "ndcg_list", "ensemble")
    assert judge_only.ci_low is not None and judge_only.ci_low > corrected.ci_high
    humans = _row(rows, "ndcg_list", HUMANS)
    assert humans.ci_low is not None and humans.ci_high is not None
    assert corrected.ci_high - corrected.ci_low <= humans.ci_high - humans.ci_low + 1e-12
    assert {r.metric for r in rows} == {"ndcg", "ndcg_list", "precision", "bad_top1_rate"}


def test_a_segment_with_too_few_labels_is_null_with_a_reason() -> None:
    """A segment holding 3 labelled queries gets no corrected figure, and says why."""
    queries, truth = _day(3)
    de = [q.sample_id for q in queries if q.segment["locale"] == "de"][:3]
    en = [q.sample_id for q in queries if q.segment["locale"] == "en"][:20]
    labelled = {i: truth[i] for i in de + en}
    strata = {q.sample_id: q.segment["locale"] for q in queries}
    rows = compute_corrected(queries, labelled, strata, ks=(10,))
    thin = _row(rows, "ndcg_list", CORRECTED, segment="locale=de")
    assert thin.value is None and thin.reason == "3 labelled queries < 5" and thin.n == 3
    assert _row(rows, "ndcg_list", CORRECTED, segment="locale=en").value is not None
    none = compute_corrected(queries, {}, strata, ks=(10,))
    assert all(r.value is None and r.reason == "0 labelled queries < 5" for r in none)


def test_coverage_over_simulated_days() -> None:
    """Over 80 simulated days with 20 labels each, the corrected CI covers the human
    figure at least 90% of the time (the estimator's own coverage is pinned in
    test_metrics_ppi.py; this pins the wiring: figures, weights, sets)."""
    hits = 0
    for day in range(80):
        queries, truth = _day(100 + day, size=120)
        rng = np.random.default_rng(day)
        labelled = {int(i): truth[int(i)] for i in rng.choice(120, size=20, replace=False)}
        rows = compute_corrected(queries, labelled, dict.fromkeys(range(120), "d"), ks=(10,))
        row = _row(rows, "ndcg_list", CORRECTED)
        truth_mean = float(np.mean([query_figures(truth[i], (10,))["ndcg_list@10"] for i in truth]))
        assert row.ci_low is not None and row.ci_high is not None
        hits += row.ci_low <= truth_mean <= row.ci_high
    assert hits / 80 >= 0.9


def test_human_grades_take_the_median_and_need_every_result() -> None:
    """Per result the median of its annotators' grades, in position order; a result with
    no grade leaves the sample unlabelled."""
    results = [{"id": "b", "position": 2}, {"id": "a", "position": 1}, {"id": "c", "position": 3}]
    grades = {"a": [3, 1, 2], "b": [0], "c": [1, 2]}
    assert human_grades(results, grades, top_k=3) == (2.0, 0.0, 1.5)
    assert human_grades(results, grades, top_k=2) == (2.0, 0.0)
    assert human_grades(results, {"a": [1], "b": [2]}, top_k=3) is None


def test_the_pooled_ndcg_is_corrected_against_the_human_pool() -> None:
    """The headline pooled nDCG's human side has the ideal of every result people labelled
    for the query: where they labelled better results than the list shows (two 3s in
    another list of the query), the corrected ``ndcg`` CI holds the day's human pooled
    figure and lies below the human list-ideal one, which those results do not lower."""
    queries, truth = _day(5)
    pooled = [
        GradedQuery(q.sample_id, q.segment, q.weight, q.grades, pool=(*q.grades, 3.0, 3.0))
        for q in queries
    ]
    pools = {i: (*truth[i], 3.0, 3.0) for i in truth}
    rng = np.random.default_rng(6)
    labelled = {int(i): truth[int(i)] for i in rng.choice(len(queries), size=40, replace=False)}
    strata = {q.sample_id: "day" for q in queries}
    rows = compute_corrected(
        pooled, labelled, strata, ks=(10,), pools={i: pools[i] for i in labelled}
    )
    human_pooled = float(
        np.mean([query_figures(truth[i], (10,), pool=pools[i])["ndcg@10"] for i in truth])
    )
    human_list = float(np.mean([query_figures(truth[i], (10,))["ndcg_list@10"] for i in truth]))
    corrected = _row(rows, "ndcg", CORRECTED)
    assert corrected.ci_low is not None and corrected.ci_high is not None
    assert corrected.ci_low <= human_pooled <= corrected.ci_high
    assert corrected.ci_high < human_list, "the human pool's better results lower the figure"
    listed = _row(rows, "ndcg_list", CORRECTED)
    assert listed.ci_low is not None and listed.ci_high is not None
    assert listed.ci_low <= human_list <= listed.ci_high


def test_human_pool_takes_each_results_median() -> None:
    """One grade per labelled result of the query: the median of its annotators."""
    assert sorted(human_pool({"a": [3, 1, 2], "b": [0], "c": [1, 2], "d": []})) == [0.0, 1.5, 2.0]
