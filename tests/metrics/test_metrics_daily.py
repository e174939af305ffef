"""Tests of monitor.metrics.daily: the day's figures as daily_metrics rows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from monitor.metrics import drift
from monitor.metrics.agreement import human_agreement, inter_judge_agreement
from monitor.metrics.changepoint import cusum
from monitor.metrics.daily import (
    GradedQuery,
    JudgeVerdictRow,
    LabelPair,
    MetricRow,
    compute_changepoint,
    compute_drift,
    compute_human_agreement,
    compute_judge_health,
    compute_quality,
)
from monitor.metrics.estimate import weighted_mean
from monitor.metrics.quality import ndcg_at_k, precision_at_k
from monitor.store.models import DailyMetric


def _rows(rows: list[MetricRow], **where: object) -> list[MetricRow]:
    return [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]


def _one(rows: list[MetricRow], **where: object) -> MetricRow:
    found = _rows(rows, **where)
    assert len(found) == 1, where
    return found[0]


def _queries(n: int = 40, seed: int = 0) -> list[GradedQuery]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        grades = tuple(float(g) for g in rng.integers(0, 4, 10))
        locale = "de" if i % 4 == 0 else "en"
        out.append(GradedQuery(i, {"locale": locale}, float(rng.uniform(1, 5)), grades))
    return out


def test_metric_row_has_exactly_the_daily_metrics_columns() -> None:
    """MetricRow's fields are the daily_metrics columns other than id, date and timestamp."""
    columns = {c.name for c in DailyMetric.__table__.columns}
    fields = {f.name for f in dataclasses.fields(MetricRow)}
    assert fields == columns - {"id", "metric_date", "updated_at"}


def test_quality_overall_equals_weighted_mean_of_query_figures() -> None:
    """The "all" nDCG@10 row is the weighted mean of each query's nDCG@10, with its CI."""
    queries = _queries()
    rows = compute_quality(queries)
    row = _one(rows, metric="ndcg", k=10, segment="all")
    per_query = [ndcg_at_k(q.grades, 10) for q in queries]
    expected = weighted_mean(per_query, [q.weight for q in queries])
    assert (row.value, row.ci_low, row.ci_high, row.n) == (
        expected.value,
        expected.ci_low,
        expected.ci_high,
        expected.n,
    )
    assert row.judge == "ensemble"


def test_quality_segments_and_small_segments() -> None:
    """Each segment value gets its rows; a segment of 10 queries passes min_n, of 5 does not."""
    queries = _queries(40)
    rows = compute_quality(queries, ks=(3,), min_n=10)
    de = [q for q in queries if q.segment["locale"] == "de"]
    row = _one(rows, metric="precision", k=3, segment="locale=de")
    expected = weighted_mean([precision_at_k(q.grades, 3) for q in de], [q.weight for q in de])
    assert row.value == pytest.approx(expected.value)
    assert {r.segment for r in rows} == {"all", "locale=de", "locale=en"}
    small = compute_quality(queries[:20], ks=(3,), min_n=10)
    assert _one(small, metric="mean_grade", segment="locale=de").value is None
    assert _one(small, metric="mean_grade", segment="locale=de").reason == "n=5 < 10"
    assert {r.metric for r in rows} == {
        "ndcg",
        "ndcg_list",
        "precision",
        "mean_grade",
        "bad_top1_rate",
        "no_relevant_rate",
        "unjudged_share",
    }
    assert all(r.k == 0 for r in rows if r.metric not in ("ndcg", "ndcg_list", "precision"))


def test_lists_of_one_query_count_once() -> None:
    """A panel query's lists are one query: 3 queries of 4 lists each stay under min_n 10
    (12 rows would clear it), and the point value is the rows' weighted mean."""
    rng = np.random.default_rng(3)
    lists = [
        dataclasses.replace(
            q,
            sample_id=10 * i + j,
            query=f"q{i}",
            weight=1.0 + j,
            grades=tuple(rng.integers(0, 4, 10) * 1.0),
        )
        for i, q in enumerate(_queries(3, seed=4))
        for j in range(4)
    ]
    row = _one(compute_quality(lists, ks=(10,), min_n=10), metric="ndcg", k=10, segment="all")
    assert (row.value, row.n, row.reason) == (None, 3, "n=3 < 10")
    as_rows = [dataclasses.replace(q, query=None) for q in lists]
    assert _one(compute_quality(as_rows, ks=(10,)), metric="ndcg", k=10, segment="all").n == 12
    folded = _one(compute_quality(lists, ks=(10,), min_n=3), metric="ndcg", k=10, segment="all")
    figures = [ndcg_at_k(q.grades, 10) for q in lists]
    assert folded.value == pytest.approx(np.average(figures, weights=[q.weight for q in lists]))


def test_lists_of_one_query_are_resampled_together() -> None:
    """Ten identical lists of each query resample as one query each: the interval is
    the one of the queries alone, not ten times narrower in variance."""
    queries = [dataclasses.replace(q, query=str(q.sample_id)) for q in _queries(30, seed=5)]
    copies = [
        dataclasses.replace(q, sample_id=100 * q.sample_id + j, weight=q.weight / 10)
        for q in queries
        for j in range(10)
    ]
    alone = _one(compute_quality(queries, ks=(10,)), metric="ndcg", k=10, segment="all")
    lists = _one(compute_quality(copies, ks=(10,)), metric="ndcg", k=10, segment="all")
    assert lists.n == alone.n == 30
    assert lists.value == pytest.approx(alone.value)
    assert (lists.ci_low, lists.ci_high) == pytest.approx((alone.ci_low, alone.ci_high))
    unfolded = [dataclasses.replace(q, query=None) for q in copies]
    rows = _one(compute_quality(unfolded, ks=(10,)), metric="ndcg", k=10, segment="all")
    assert rows.ci_high - rows.ci_low < 0.5 * (alone.ci_high - alone.ci_low)


def test_quality_of_no_queries_is_all_reasons() -> None:
    """An empty day yields "all" rows with value None, not an exception."""
    rows = compute_quality([])
    assert rows and all(r.value is None and r.reason for r in rows)


def _verdicts(seed: int = 0, items: int = 60) -> list[JudgeVerdictRow]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, items)
    out = []
    for judge in ("llm", "bm25", "embed"):
        for i in range(items):
            invalid = judge == "llm" and i % 10 == 0
            grade = None if invalid else int(np.clip(truth[i] + rng.integers(-1, 2), 0, 3))
            out.append(
                JudgeVerdictRow(
                    sample_id=i // 10,
                    result_id=f"r{i}",
                    judge=judge,
                    grade=grade,
                    status="invalid" if invalid else "ok",
                    latency_ms=100.0 + i,
                    input_tokens=200,
                    output_tokens=50,
                    cost_usd=0.001,
                    cache_hit=i % 3 == 0,
                    text_length=100 + 10 * i,
                )
            )
    return out


def test_judge_health_rows() -> None:
    """Alpha and kappas match the agreement module; per-judge rates, sums and means are right."""
    verdicts = _verdicts()
    rows = compute_judge_health(verdicts, {"llm": [True] * 12 + [False] * 4})
    judges = ["bm25", "embed", "llm"]
    items = sorted({(v.sample_id, v.result_id) for v in verdicts})
    matrix = np.full((3, len(items)), np.nan)
    for v in verdicts:
        if v.grade is not None:
            matrix[judges.index(v.judge), items.index((v.sample_id, v.result_id))] = v.grade
    expected = inter_judge_agreement(matrix, judges)
    assert _one(rows, metric="krippendorff_alpha").value == expected.alpha.value
    kappa = _one(rows, metric="cohen_kappa", judge="bm25~llm")
    assert kappa.value == expected.kappas[("bm25", "llm")].value
    assert _one(rows, metric="invalid_rate", judge="llm").value == pytest.approx(0.1)
    assert _one(rows, metric="invalid_rate", judge="bm25").value == 0.0
    paid = [v for v in verdicts if v.judge == "llm" and not v.cache_hit]
    assert _one(rows, metric="cost_usd", judge="llm").value == pytest.approx(0.001 * len(paid))
    assert _one(rows, metric="input_tokens", judge="llm").value == 200 * len(paid)
    latency = _one(rows, metric="latency_seconds", judge="llm").value
    assert latency == pytest.approx(np.mean([v.latency_ms / 1000 for v in paid]))
    assert _one(rows, metric="cache_hit_rate", judge="embed").value == pytest.approx(20 / 60)
    assert _one(rows, metric="position_consistency", judge="llm").value == pytest.approx(0.75)
    assert _one(rows, metric="length_bias_rho", judge="llm").n == 54
    assert not _rows(rows, metric="position_consistency", judge="bm25")


def test_human_agreement_rows() -> None:
    """Each judge gets six rows equal to human_agreement; P/R/F1 carry the threshold in k."""
    rng = np.random.default_rng(2)
    human = rng.integers(0, 4, 80)
    judge = np.clip(human + rng.integers(-1, 2, 80), 0, 3)
    pairs = [LabelPair("ensemble", int(j), int(h)) for j, h in zip(judge, human, strict=True)]
    pairs += [LabelPair("tiny", 1, 1)] * 3
    rows = compute_human_agreement(pairs, relevant=3)
    expected = human_agreement(judge, human, relevant=3)
    assert _one(rows, metric="human_recall", judge="ensemble", k=3).value == expected.recall.value
    assert _one(rows, metric="human_tau", judge="ensemble", k=0).value == expected.tau.value
    assert len(_rows(rows, judge="ensemble")) == 6
    assert _one(rows, metric="human_kappa", judge="tiny").reason == "n=3 < 10"


def test_drift_rows() -> None:
    """Grade PSI/chi² per judge, query-mix PSI, query-length KS and new-query share."""
    base = [0, 1, 2, 3] * 25
    today = [2, 3, 3, 3] * 25
    rows = compute_drift(
        {"ensemble": today, "llm": base, "new": base},
        {"ensemble": base, "llm": base},
        {"de": 0.3, "en": 0.7},
        {"de": 0.5, "en": 0.5},
        list(range(10, 60)),
        list(range(10, 60)),
        0.25,
    )
    psi_row = _one(rows, metric="grade_psi", judge="ensemble")
    expected = drift.psi(drift.grade_counts(base), drift.grade_counts(today))
    assert psi_row.value == pytest.approx(expected)
    assert psi_row.n == 100
    assert _one(rows, metric="grade_psi", judge="llm").value == pytest.approx(0.0)
    p_value = _one(rows, metric="grade_chi2_pvalue", judge="ensemble").value
    assert p_value is not None and p_value < 0.05
    assert _one(rows, metric="grade_psi", judge="new").reason == "no baseline grades for this judge"
    mix = _one(rows, metric="query_mix_psi").value
    assert mix == pytest.approx(drift.share_drift({"de": 0.5, "en": 0.5}, {"de": 0.3, "en": 0.7}))
    assert _one(rows, metric="query_length_ks").value == 0.0
    assert _one(rows, metric="new_query_share").value == 0.25


def test_drift_rows_with_too_little_data() -> None:
    """Few grades, no segment mix and no baseline queries give reasons, not numbers."""
    rows = compute_drift({"llm": [1, 2]}, {"llm": [1, 2] * 20}, {}, {}, [1, 2], [3, 4], None)
    assert all(r.value is None and r.reason for r in rows)


def test_changepoint_rows() -> None:
    """After a drop on day 25 of 30 the CUSUM row exceeds h and dates the start ~4 days ago."""
    series: list[float | None] = (
        np.random.default_rng(4).normal(0.6, 0.01, 30) - np.r_[np.zeros(25), np.full(5, 0.05)]
    ).tolist()
    rows = compute_changepoint(series)
    cusum_row = _one(rows, metric="changepoint_cusum")
    assert cusum_row.value is not None and cusum_row.value > 5
    assert cusum_row.k == 10 and cusum_row.n == 30
    cp = cusum(series)
    assert cp.start_index is not None
    days_ago = _one(rows, metric="changepoint_start_days_ago").value
    assert days_ago == 29 - cp.start_index
    assert days_ago in (3.0, 4.0, 5.0)
    short = compute_changepoint([0.5, 0.6])
    assert all(r.value is None and "baseline" in (r.reason or "") for r in short)


def test_changepoint_floors_a_tiny_baseline_sd() -> None:
    """A near-census day of a static system: the baseline wobbles by ~0.001, then the
    figure dips 0.004 for five days. In units of that sd it is a shift; the daily rows
    floor the sd at NDCG_MIN_SD (half a point of nDCG), so it is not."""
    rng = np.random.default_rng(7)
    series: list[float | None] = (
        rng.normal(0.8, 0.001, 30) - np.r_[np.zeros(25), np.full(5, 0.004)]
    ).tolist()
    assert cusum(series, min_sd=0.001).detected, "without the floor the chart pages"
    (row,) = [r for r in compute_changepoint(series) if r.metric == "changepoint_cusum"]
    assert row.value is not None and row.value < 5
