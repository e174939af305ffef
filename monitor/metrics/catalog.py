"""Every daily metric, once: its name, help, unit, CI, baseline, direction and section.

The exporter builds its Prometheus families from this table, the report orders,
sections and colours its lines by it, the docs test checks each is documented, and the
exporter benchmark seeds it: a metric added here appears everywhere, and nowhere else
does a list of metric names need keeping.

The order is the order people read them in: headline quality first, then judge health,
then drift.
"""

# ruff: noqa: E501  (the catalogue is a table: one metric a line reads best)
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "METRICS",
    "PREFIX",
    "SECTIONS",
    "Direction",
    "MetricSpec",
    "Section",
    "spec_of",
]

PREFIX = "judge_monitor_"

Direction = Literal["higher", "lower"]
Section = Literal["quality", "judge health", "drift"]
#: The report's sections, in order ("quality by segment" holds quality off segment all).
SECTIONS: tuple[str, ...] = ("quality", "quality by segment", "judge health", "drift", "other")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One ``daily_metrics.metric`` and how it is shown.

    ``name``: the exported family's name without ``PREFIX`` (``cost_usd`` is exported as
    ``cost_dollars``, the Prometheus unit convention). ``has_ci``: the metric carries a
    95% CI, exported as ``_ci_lower``/``_ci_upper``. ``baseline``: a ``_baseline`` family
    is exported, for alerts that compare today with the recent past. ``better``: which
    way is good news (None: neither, e.g. a correlation that should stay near 0).
    ``scale``: the exported value is the stored one times this (a figure stored in days
    is exported in seconds, the Prometheus base unit). ``in_report``: False for a figure
    kept for other figures' sake (the daily grade histograms drift reads), which the
    report's tables leave out.
    """

    metric: str
    name: str
    help: str
    section: Section
    unit: str = ""
    has_ci: bool = True
    baseline: bool = False
    better: Direction | None = None
    scale: float = 1.0
    in_report: bool = True

    @property
    def family(self) -> str:
        return PREFIX + self.name


def _m(
    metric: str,
    section: Section,
    help: str,
    *,
    name: str | None = None,
    unit: str = "",
    ci: bool = True,
    baseline: bool = False,
    better: Direction | None = None,
    scale: float = 1.0,
    in_report: bool = True,
) -> MetricSpec:
    return MetricSpec(
        metric, name or metric, help, section, unit, ci, baseline, better, scale, in_report
    )


Q: Section = "quality"
H: Section = "judge health"
D: Section = "drift"

METRICS: tuple[MetricSpec, ...] = (
    # quality (judge "ensemble"), weighted estimates with bootstrap CIs
    _m("ndcg", Q, "Weighted mean nDCG@k, ideal pooled over every result judged for the query (0-1); its corrected and humans rows come from human labels.", baseline=True, better="higher"),
    _m("ndcg_list", Q, "Weighted mean nDCG@k with the ideal from the judged list itself: ordering quality (0-1).", baseline=True, better="higher"),
    _m("precision", Q, "Weighted precision@k: share of the top k graded relevant.", baseline=True, better="higher"),
    _m("mean_grade", Q, "Weighted mean ensemble grade of the judged results (0-3).", baseline=True, better="higher"),
    _m("bad_top1_rate", Q, "Share of queries whose first result is irrelevant.", baseline=True, better="lower"),
    _m("no_relevant_rate", Q, "Share of queries with no relevant result at all.", baseline=True, better="lower"),
    _m("unjudged_share", Q, "Share of results without a valid ensemble grade.", baseline=True, better="lower"),
    _m("ndcg_cuped", Q, "Weighted mean nDCG@10 with CUPED: each query's figure less theta x (its recent days' mean - the centre) (setting cuped).", better="higher"),
    _m("cuped_centre", Q, "CUPED's centre: the weighted mean, over the day's queries seen in the window before, of each one's recent nDCG@10 (setting cuped).", ci=False, in_report=False),
    _m("panel_ndcg_change", Q, "Paired panel: mean over panel queries of today's nDCG@10 minus the query's own recent mean, t CI (0 = unchanged).", better="higher"),
    # judge health
    _m("krippendorff_alpha", H, "Krippendorff's alpha (ordinal) among the ensemble's judges.", better="higher"),
    _m("cohen_kappa", H, "Weighted Cohen's kappa of a judge pair (judge label 'a~b').", better="higher"),
    # agreement with human labels (k = grade threshold for precision/recall/F1)
    _m("human_kappa", H, "Quadratic-weighted Cohen's kappa against human labels."),
    _m("human_f1", H, "F1 of 'relevant' (grade >= k) against human labels."),
    _m("human_precision", H, "Precision of 'relevant' (grade >= k) against human labels."),
    _m("human_recall", H, "Recall of 'relevant' (grade >= k) against human labels."),
    _m("human_tau", H, "Kendall tau between judge and human grades."),
    _m("human_rho", H, "Spearman rho between judge and human grades."),
    _m("invalid_rate", H, "Share of a judge's answers that gave no valid grade.", baseline=True, better="lower"),
    _m("position_consistency", H, "Share of pairwise judgments that agree in both orders.", better="higher"),
    _m("length_bias_rho", H, "Spearman rho between a judge's grade and result length."),
    _m("latency_seconds", H, "Mean latency of a judge's paid calls.", unit="seconds", better="lower"),
    _m("input_tokens", H, "Input tokens a judge's paid calls used that day.", ci=False, better="lower"),
    _m("output_tokens", H, "Output tokens a judge's paid calls used that day.", ci=False, better="lower"),
    _m(
        "cost_usd",
        H,
        "What a judge's paid calls cost that day, in US dollars.",
        name="cost_dollars",
        unit="dollars",
        ci=False,
        baseline=True,
        better="lower",
    ),
    _m("cache_hit_rate", H, "Share of a judge's verdicts served from the verdict cache.", better="higher"),
    # the judge canary: fixed anchors re-judged daily without the cache (monitor/pipeline/canary.py)
    _m("canary_changed_share", H, "Share of the canary anchors a judge graded differently from its first days.", ci=False, better="lower"),
    _m("canary_grade_shift", H, "Mean grade change of the canary anchors since the judge's first days (signed).", ci=False),
    _m("partial_ensemble_share", H, "Share of results whose ensemble grade lacks a judge (its call failed or was invalid).", ci=False, better="lower"),
    _m("ceiling_judged_share", H, "Share of the fresh lists needing paid calls that the paid-call ceiling let be judged (1: the day fitted).", ci=False, better="higher"),
    # drift against the baseline window
    _m("grade_count", D, "Valid grades a judge gave that day, by grade (k = the grade 0-3; the ensemble's rounded): the histogram drift compares.", name="graded_results", ci=False, in_report=False),
    _m("grade_psi", D, "Population stability index of grades vs baseline (>0.2: drift).", ci=False, better="lower"),
    _m("grade_chi2_pvalue", D, "Chi-square p-value, grade distribution vs baseline.", ci=False, better="higher"),
    _m("query_mix_psi", D, "Population stability index of the segment mix (>0.2: drift).", ci=False, better="lower"),
    _m("query_length_ks", D, "Kolmogorov-Smirnov statistic of query length vs baseline.", ci=False, better="lower"),
    _m("query_length_ks_pvalue", D, "Kolmogorov-Smirnov p-value of query length.", ci=False),
    _m("new_query_share", D, "Share of today's searches whose query was not seen in the baseline window.", ci=False),
    # change point on daily nDCG@k
    _m(
        "changepoint_cusum",
        D,
        "CUSUM statistic of daily nDCG@k in baseline-sd units (>5: a shift).",
        ci=False,
        better="lower",
    ),
    _m(
        "changepoint_start_days_ago",
        D,
        "How long before the latest day the detected shift began (0 = that day), in seconds.",
        name="changepoint_start_age_seconds",
        unit="seconds",
        ci=False,
        scale=86400.0,
    ),
)  # fmt: skip

_BY_METRIC: dict[str, MetricSpec] = {spec.metric: spec for spec in METRICS}


def spec_of(metric: str) -> MetricSpec | None:
    """The catalogue entry of ``metric``, or None for a metric the catalogue lacks."""
    return _BY_METRIC.get(metric)
