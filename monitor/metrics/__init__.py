"""Statistics of judge-monitor: pure functions over arrays and rows, no I/O.

One concern per module: ``estimate`` (a value with its CI), ``quality`` (per-query
figures), ``agreement`` (judges vs judges and vs people), ``bias`` (position and length),
``drift`` (distribution tests), ``changepoint`` (CUSUM on a daily series), ``power``
(sample sizing), ``paired`` (the panel's paired change) and ``daily`` (the day's rows for
``daily_metrics``).
"""

from __future__ import annotations

from monitor.metrics.agreement import (
    LABELS,
    HumanAgreement,
    InterJudgeAgreement,
    human_agreement,
    inter_judge_agreement,
    table_statistics,
)
from monitor.metrics.bias import length_bias, position_consistency
from monitor.metrics.changepoint import NDCG_MIN_SD, ChangePoint, cusum
from monitor.metrics.daily import (
    GradedQuery,
    JudgeVerdictRow,
    LabelPair,
    MetricRow,
    compute_changepoint,
    compute_drift,
    compute_grade_counts,
    compute_human_agreement,
    compute_judge_health,
    compute_quality,
)
from monitor.metrics.drift import (
    CHI_SQUARE,
    KS,
    PSI,
    WASSERSTEIN,
    DriftResult,
    DriftTest,
    chi_square,
    chi_square_test,
    grade_counts,
    ks,
    ks_test,
    new_query_share,
    psi,
    psi_test,
    share_drift,
    wasserstein,
    wasserstein_test,
)
from monitor.metrics.estimate import (
    Estimate,
    per_query,
    percentile_interval,
    query_codes,
    weighted_mean,
)
from monitor.metrics.power import detectable_drop, detectable_paired_drop, queries_needed
from monitor.metrics.quality import (
    bad_top1,
    mean_grade,
    ndcg_at_k,
    no_relevant,
    pooled_ndcg_at_k,
    precision_at_k,
    query_figures,
    served_mean,
    unjudged_share,
)

__all__ = [
    "CHI_SQUARE",
    "KS",
    "LABELS",
    "NDCG_MIN_SD",
    "PSI",
    "WASSERSTEIN",
    "ChangePoint",
    "DriftResult",
    "DriftTest",
    "Estimate",
    "GradedQuery",
    "HumanAgreement",
    "InterJudgeAgreement",
    "JudgeVerdictRow",
    "LabelPair",
    "MetricRow",
    "bad_top1",
    "chi_square",
    "chi_square_test",
    "compute_changepoint",
    "compute_drift",
    "compute_grade_counts",
    "compute_human_agreement",
    "compute_judge_health",
    "compute_quality",
    "cusum",
    "detectable_drop",
    "detectable_paired_drop",
    "grade_counts",
    "human_agreement",
    "inter_judge_agreement",
    "ks",
    "ks_test",
    "length_bias",
    "mean_grade",
    "ndcg_at_k",
    "new_query_share",
    "no_relevant",
    "per_query",
    "percentile_interval",
    "pooled_ndcg_at_k",
    "position_consistency",
    "precision_at_k",
    "psi",
    "psi_test",
    "queries_needed",
    "query_codes",
    "query_figures",
    "served_mean",
    "share_drift",
    "table_statistics",
    "unjudged_share",
    "wasserstein",
    "wasserstein_test",
    "weighted_mean",
]
