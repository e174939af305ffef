"""The day's figures as rows of ``daily_metrics``, composed from the pure statistics.

Input is what the store hands over for one day (graded queries, raw verdicts, human
label pairs, baseline distributions); output is ``MetricRow``s with exactly the columns
of the ``daily_metrics`` table, so the flow only has to upsert them. No I/O here.

Row conventions:

- ``segment`` is "all" for the whole sample and "field=value" (e.g. "locale=de") for
  each field of the queries' segment mappings.
- ``judge`` is "ensemble" for quality figures (they use the ensemble grade), for
  ensemble-level figures (alpha) and for figures that belong to no judge (query-mix
  drift, change-point); the judge's name for its own figures; "a~b" (names sorted) for
  the kappa of a pair.
- ``k`` is the rank cut-off of nDCG@k / precision@k and of the series the change-point
  runs on; for ``human_precision|recall|f1`` it is the grade threshold of "relevant",
  so several thresholds can be stored side by side; 0 otherwise.
- A figure from too few observations has ``value`` None and a ``reason``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Self

import numpy as np

from monitor.metrics import drift
from monitor.metrics.agreement import human_agreement, inter_judge_agreement
from monitor.metrics.bias import length_bias, position_consistency
from monitor.metrics.changepoint import NDCG_MIN_SD, Direction, cusum
from monitor.metrics.estimate import Estimate, per_query, query_codes, weighted_mean
from monitor.metrics.quality import query_figures

__all__ = [
    "ALL",
    "ENSEMBLE",
    "GradedQuery",
    "JudgeVerdictRow",
    "LabelPair",
    "MetricRow",
    "compute_changepoint",
    "compute_drift",
    "compute_grade_counts",
    "compute_human_agreement",
    "compute_judge_health",
    "compute_quality",
]

ALL = "all"
ENSEMBLE = "ensemble"


@dataclass(frozen=True, slots=True)
class GradedQuery:
    """One sampled query: its segment, sampling weight and ensemble grade per position.

    ``pool``: one grade per distinct result ever judged for the query, the ideal of its
    pooled nDCG (``quality.pooled_ndcg_at_k``); None to build the ideal from the list.
    ``query``: the query the sample is of; samples sharing one (the lists of a panel
    query) are one query in a figure's ``n`` and its bootstrap. None: a query of its own.
    ``results``: the graded results' ids, by position as ``grades`` (empty if not read)."""

    sample_id: int
    segment: Mapping[str, str]
    weight: float
    grades: tuple[float | None, ...]
    pool: tuple[float | None, ...] | None = None
    query: str | None = None
    results: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: tuple[Any, ...], pool: tuple[float | None, ...] | None = None) -> Self:
        """From the store's (id, segment, weight, grades[, query[, results]]), segment text."""
        i, segment, weight, grades, query, results = (*row, None, None)[:6]
        text_segment = {str(k): str(v) for k, v in (segment or {}).items()}
        return cls(i, text_segment, weight, tuple(grades or ()), pool, query, tuple(results or ()))


class JudgeVerdictRow(NamedTuple):
    """One judge's verdict on one result, with what it cost (a named tuple: a day builds
    one per verdict, and a frozen dataclass's constructor cost a tenth of the step)."""

    sample_id: int
    result_id: str
    judge: str
    grade: int | None
    status: str
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cache_hit: bool
    text_length: int


@dataclass(frozen=True, slots=True)
class LabelPair:
    """A judge's grade and a person's grade for the same (query, result)."""

    judge: str
    judge_grade: int
    human_grade: int


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One row of ``daily_metrics`` (without the date, which the flow knows)."""

    metric: str
    segment: str
    judge: str
    k: int
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    reason: str | None

    @classmethod
    def of(
        cls, metric: str, est: Estimate, *, segment: str = ALL, judge: str = ENSEMBLE, k: int = 0
    ) -> MetricRow:
        """A row from an estimate."""
        return cls(metric, segment, judge, k, est.value, est.ci_low, est.ci_high, est.n, est.reason)

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.metric, self.segment, self.judge, self.k)

    @property
    def label(self) -> str:
        """``ndcg@10``, ``human_f1@2`` or the bare name when k is 0."""
        return f"{self.metric}@{self.k}" if self.k else self.metric


def _value(
    metric: str,
    value: float | None,
    n: int,
    *,
    judge: str = ENSEMBLE,
    k: int = 0,
    reason: str | None = None,
) -> MetricRow:
    if value is not None and math.isnan(value):
        value, reason = None, reason or "undefined on these data"
    return MetricRow(metric, ALL, judge, k, value, None, None, n, reason)


def compute_quality(
    queries: Sequence[GradedQuery],
    ks: Sequence[int] = (3, 10),
    relevant: float = 2,
    min_n: int = 10,
    seed: int = 0,
    n_boot: int = 1000,
) -> list[MetricRow]:
    """Weighted quality figures with bootstrap CIs, overall and for every segment value.

    Metrics: "ndcg" (pooled ideal), "ndcg_list" (the list's own ideal) and "precision"
    (k = cut-off), "mean_grade", "bad_top1_rate", "no_relevant_rate" and "unjudged_share"
    (k = 0). Each is the weighted mean of the per-query figure, queries where it is
    undefined left out of that figure's n. Samples of one query (``GradedQuery.query``: a
    panel query's lists) count once in ``n`` and are resampled together (``per_query``).
    """
    figures = [query_figures(q.grades, ks, relevant, pool=q.pool) for q in queries]
    clusters = query_codes([q.query for q in queries])
    groups: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(queries):
        groups[ALL].append(i)
        for name, value in q.segment.items():
            groups[f"{name}={value}"].append(i)
    keys = list(figures[0]) if figures else list(query_figures((), ks, relevant))
    rows: list[MetricRow] = []
    for segment in [ALL, *sorted(g for g in groups if g != ALL)]:
        members = groups.get(segment, [])
        weights = np.array([queries[i].weight for i in members], dtype=np.float64)
        of_query = clusters[members] if clusters is not None else None
        for key in keys:
            values = np.array([figures[i][key] for i in members], dtype=np.float64)
            folded = per_query(values, weights, of_query)
            est = weighted_mean(*folded, min_n=min_n, n_boot=n_boot, seed=seed)
            metric, _, cut = key.partition("@")  # "ndcg@10", or "mean_grade" (k = 0)
            rows.append(MetricRow.of(metric, est, segment=segment, k=int(cut) if cut else 0))
    return rows


def compute_judge_health(
    verdicts: Sequence[JudgeVerdictRow],
    consistent_flags_by_judge: Mapping[str, Sequence[bool]] | None = None,
    *,
    min_n: int = 10,
    seed: int = 0,
    n_boot: int = 1000,
) -> list[MetricRow]:
    """Agreement among judges and each judge's health figures.

    Per judge: "invalid_rate" (no valid grade), "latency_seconds" (mean over calls that
    really went out, i.e. cache misses), "input_tokens", "output_tokens", "cost_usd"
    (sums over cache misses: what the day cost), "cache_hit_rate", "length_bias_rho" and,
    when pairwise flags are given, "position_consistency". Ensemble-wide:
    "krippendorff_alpha" and one "cohen_kappa" per judge pair.
    """
    judges = sorted({v.judge for v in verdicts})
    items = sorted({(v.sample_id, v.result_id) for v in verdicts})
    column = {item: i for i, item in enumerate(items)}
    row_of = {name: i for i, name in enumerate(judges)}
    matrix = np.full((len(judges), len(items)), np.nan)
    by_judge: dict[str, list[JudgeVerdictRow]] = defaultdict(list)
    for v in verdicts:
        by_judge[v.judge].append(v)
        if v.status == "ok" and v.grade is not None:
            matrix[row_of[v.judge], column[(v.sample_id, v.result_id)]] = v.grade

    rows: list[MetricRow] = []
    if judges:
        agreement = inter_judge_agreement(matrix, judges, min_n=min_n, n_boot=n_boot, seed=seed)
        rows.append(MetricRow.of("krippendorff_alpha", agreement.alpha))
        for (a, b), est in agreement.kappas.items():
            rows.append(MetricRow.of("cohen_kappa", est, judge=f"{a}~{b}"))

    def mean(values: Sequence[float]) -> Estimate:
        return weighted_mean(values, None, min_n=min_n, n_boot=n_boot, seed=seed)

    for name in judges:
        own = by_judge[name]
        paid = [v for v in own if not v.cache_hit]
        graded = [(v.grade, v.text_length) for v in own if v.status == "ok" and v.grade is not None]
        invalid = [float(not (v.status == "ok" and v.grade is not None)) for v in own]
        rows.append(MetricRow.of("invalid_rate", mean(invalid), judge=name))
        latency = mean([v.latency_ms / 1000.0 for v in paid])
        rows.append(MetricRow.of("latency_seconds", latency, judge=name))
        for metric in ("input_tokens", "output_tokens", "cost_usd"):
            total = float(sum(getattr(v, metric) for v in paid))
            rows.append(_value(metric, total, len(paid), judge=name))
        rows.append(
            MetricRow.of("cache_hit_rate", mean([float(v.cache_hit) for v in own]), judge=name)
        )
        bias = length_bias([g for g, _ in graded], [n for _, n in graded], min_n=min_n)
        rows.append(MetricRow.of("length_bias_rho", bias, judge=name))
    for name, flags in sorted((consistent_flags_by_judge or {}).items()):
        est = position_consistency(flags, min_n=min_n, n_boot=n_boot, seed=seed)
        rows.append(MetricRow.of("position_consistency", est, judge=name))
    return rows


def compute_human_agreement(
    pairs: Sequence[LabelPair],
    relevant: int = 2,
    *,
    min_n: int = 10,
    seed: int = 0,
    n_boot: int = 1000,
) -> list[MetricRow]:
    """Each judge (and "ensemble") against human labels, with bootstrap 95% CIs.

    Metrics: "human_precision", "human_recall", "human_f1" (k = ``relevant``),
    "human_kappa", "human_tau", "human_rho" (k = 0).
    """
    by_judge: dict[str, list[LabelPair]] = defaultdict(list)
    for p in pairs:
        by_judge[p.judge].append(p)
    rows: list[MetricRow] = []
    for name, own in sorted(by_judge.items()):
        agreement = human_agreement(
            [p.judge_grade for p in own],
            [p.human_grade for p in own],
            relevant=relevant,
            n_boot=n_boot,
            seed=seed,
            min_n=min_n,
        )
        for field, k in (("precision", relevant), ("recall", relevant), ("f1", relevant)):
            rows.append(MetricRow.of(f"human_{field}", getattr(agreement, field), judge=name, k=k))
        for field in ("kappa", "tau", "rho"):
            rows.append(MetricRow.of(f"human_{field}", getattr(agreement, field), judge=name))
    return rows


def compute_grade_counts(grades_by_judge: Mapping[str, Sequence[float | None]]) -> list[MetricRow]:
    """Each judge's histogram of the day's valid grades ("grade_count", k = the grade).

    Stored with the day's figures so that a later day's baseline window is the sum of
    its days' histograms (a few rows a day) rather than a recount of every verdict in
    the window: drift only ever compares the counts (``drift.grade_counts``).
    """
    rows: list[MetricRow] = []
    for name in sorted(grades_by_judge):
        counts = drift.grade_counts(grades_by_judge[name])
        n = int(counts.sum())
        rows += [_value("grade_count", float(c), n, judge=name, k=g) for g, c in enumerate(counts)]
    return rows


def compute_drift(
    current_grades_by_judge: Mapping[str, Sequence[float | None]],
    baseline_grades_by_judge: Mapping[str, Sequence[float | None]],
    current_segment_shares: Mapping[str, float],
    baseline_segment_shares: Mapping[str, float],
    current_query_lengths: Sequence[float],
    baseline_query_lengths: Sequence[float],
    new_query_share: float | None,
    *,
    min_n: int = 10,
) -> list[MetricRow]:
    """Today against the baseline window: grades per judge, query mix, query length.

    Metrics: "grade_psi" and "grade_chi2_pvalue" per judge (include "ensemble" in the
    mappings for the ensemble grade), "query_mix_psi", "query_length_ks" (the KS
    statistic, higher is drift) with "query_length_ks_pvalue", and "new_query_share"
    as given. ``n`` is today's count.
    """
    rows: list[MetricRow] = []
    for name in sorted(current_grades_by_judge):
        current = drift.grade_counts(current_grades_by_judge[name])
        n = int(current.sum())
        base_grades = baseline_grades_by_judge.get(name)
        baseline = drift.grade_counts(base_grades) if base_grades is not None else None
        reason = None
        if baseline is None:
            reason = "no baseline grades for this judge"
        elif n < min_n:
            reason = f"n={n} < {min_n}"
        elif int(baseline.sum()) < min_n:
            reason = f"baseline n={int(baseline.sum())} < {min_n}"
        if reason is not None or baseline is None:
            rows.append(_value("grade_psi", None, n, judge=name, reason=reason))
            rows.append(_value("grade_chi2_pvalue", None, n, judge=name, reason=reason))
            continue
        rows.append(_value("grade_psi", drift.psi(baseline, current), n, judge=name))
        _, p_value = drift.chi_square(baseline, current)
        rows.append(_value("grade_chi2_pvalue", p_value, n, judge=name))

    if current_segment_shares and baseline_segment_shares:
        mix = drift.share_drift(baseline_segment_shares, current_segment_shares)
        rows.append(_value("query_mix_psi", mix, len(current_segment_shares)))
    else:
        rows.append(_value("query_mix_psi", None, 0, reason="no segment mix on one side"))

    n_len = len(current_query_lengths)
    if n_len < min_n or len(baseline_query_lengths) < min_n:
        why = f"n={n_len}, baseline n={len(baseline_query_lengths)}; need ≥ {min_n} each"
        rows.append(_value("query_length_ks", None, n_len, reason=why))
        rows.append(_value("query_length_ks_pvalue", None, n_len, reason=why))
    else:
        statistic, p_value = drift.ks(baseline_query_lengths, current_query_lengths)
        rows.append(_value("query_length_ks", statistic, n_len))
        rows.append(_value("query_length_ks_pvalue", p_value, n_len))

    if new_query_share is None:
        rows.append(_value("new_query_share", None, 0, reason="no baseline queries"))
    else:
        rows.append(_value("new_query_share", new_query_share, 0))
    return rows


def compute_changepoint(
    daily_ndcg: Sequence[float | None],
    *,
    baseline: tuple[float, float] | None = None,
    baseline_days: int = 14,
    k: float = 1.0,
    h: float = 5.0,
    direction: Direction = "down",
    cutoff: int = 10,
) -> list[MetricRow]:
    """CUSUM rows for a daily nDCG@``cutoff`` series ending today (oldest day first), the
    baseline sd floored at ``NDCG_MIN_SD``.

    "changepoint_cusum": today's CUSUM statistic in baseline-sd units (alert when it
    exceeds ``h``). "changepoint_start_days_ago": how many days before today the shift
    behind the first alarm in the series began (0 = today), None when there was no alarm.
    """
    cp = cusum(daily_ndcg, baseline=baseline, baseline_days=baseline_days, k=k, h=h,
               direction=direction, min_sd=NDCG_MIN_SD)  # fmt: skip
    observed = sum(v is not None and not math.isnan(v) for v in daily_ndcg)
    if cp.reason is not None or not cp.statistic:
        reason = cp.reason or "empty series"
        return [
            _value("changepoint_cusum", None, observed, k=cutoff, reason=reason),
            _value("changepoint_start_days_ago", None, observed, k=cutoff, reason=reason),
        ]
    rows = [_value("changepoint_cusum", cp.statistic[-1], observed, k=cutoff)]
    if cp.start_index is None:
        rows.append(
            _value("changepoint_start_days_ago", None, observed, k=cutoff, reason="no alarm")
        )
    else:
        days_ago = float(len(daily_ndcg) - 1 - cp.start_index)
        rows.append(_value("changepoint_start_days_ago", days_ago, observed, k=cutoff))
    return rows
