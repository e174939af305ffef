"""The CUPED figure of a day: the weighted nDCG@10 with each query's own past as control.

With ``cuped`` on, the metrics step adds ``ndcg_cuped`` (k = 10, segment ``all``, judge
``ensemble``) beside the headline ``ndcg``: the same queries, weights and pooled ideal,
each query's figure adjusted by ``metrics.cuped.cuped_values`` with, as its covariate,
its mean nDCG@10 on the days it was sampled in the ``baseline_days`` before
(``panel_reads.past_lists``), and, as the level, the mean stored ``ndcg@10`` of those
days. Every list of a query, today's and the past ones, is scored against today's pool,
as the paired panel does (``panel_step``): a pool that grew since a past day then moves
a query's covariate as much as its figure, and does not read as a change of the ranking.
So the figure reads a regression at about its true size, where ``ndcg`` also reads the
pool's growth that the regression's new results bring (docs/detection-power.md).

Off by default: it reads the history of every one of the day's queries (``baseline_days``
days of grades), a read that grows with the window, where the rest of the step does not.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection

from monitor.config import Settings
from monitor.metrics.cuped import MIN_WITH_HISTORY, cuped_values
from monitor.metrics.daily import ALL, ENSEMBLE, GradedQuery, MetricRow
from monitor.metrics.estimate import Estimate, weighted_mean
from monitor.metrics.quality import query_figures
from monitor.store import panel_reads

__all__ = ["CUPED_K", "CUPED_METRIC", "cuped_inputs", "cuped_rows"]

CUPED_METRIC = "ndcg_cuped"
CUPED_K = 10


def cuped_inputs(
    conn: Connection, day: dt.date, settings: Settings, queries: Sequence[GradedQuery]
) -> tuple[list[float], list[float], list[float | None]]:
    """(each query's nDCG@10, its weight, its mean nDCG@10 on its recent days or None),
    every list scored against the query's pool of today."""
    past: dict[int, list[list[float | None]]] = defaultdict(list)
    for sample_id, grades in panel_reads.past_lists(conn, day=day, days=settings.baseline_days):
        past[sample_id].append(grades)
    key, relevant = f"ndcg@{CUPED_K}", settings.relevant_grade
    values, weights, covariates = [], [], []
    for q in queries:
        values.append(query_figures(q.grades, (CUPED_K,), relevant, pool=q.pool)[key])
        weights.append(q.weight)
        before = [
            query_figures(g, (CUPED_K,), relevant, pool=q.pool)[key] for g in past[q.sample_id]
        ]
        finite = [x for x in before if math.isfinite(x)]
        covariates.append(math.fsum(finite) / len(finite) if finite else None)
    return values, weights, covariates


def cuped_rows(
    conn: Connection,
    day: dt.date,
    settings: Settings,
    queries: Sequence[GradedQuery],
    history: Sequence[float | None],
) -> list[MetricRow]:
    """The day's ``ndcg_cuped`` row (none when ``cuped`` is off); ``history`` is the stored
    daily ``ndcg@10`` of the days before, oldest first (the step's change-point series).
    No value, with the reason, without a stored level or with fewer than
    ``MIN_WITH_HISTORY`` queries seen before."""
    if not settings.cuped:
        return []
    recent = [v for v in history[-settings.baseline_days :] if v is not None]
    values, weights, covariates = cuped_inputs(conn, day, settings, queries)
    seen = sum(x is not None for x in covariates)
    if not recent:
        est = Estimate.missing(
            len(values), f"no stored ndcg@{CUPED_K} in the {settings.baseline_days} days before"
        )
    else:
        adjusted, theta = cuped_values(values, weights, covariates, statistics.fmean(recent))
        if theta is None:
            est = Estimate.missing(
                len(values),
                f"{seen} queries with a judged history (need {MIN_WITH_HISTORY}, varying)",
            )
        else:
            est = weighted_mean(adjusted, weights)
    return [MetricRow.of(CUPED_METRIC, est, segment=ALL, judge=ENSEMBLE, k=CUPED_K)]
