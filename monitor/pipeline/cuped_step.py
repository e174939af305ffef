"""The CUPED figure of a day: the weighted nDCG@10 with each query's own past as control.

With ``cuped`` on, the metrics step adds ``ndcg_cuped`` (k = 10, segment ``all``, judge
``ensemble``) beside the headline ``ndcg``: the same queries, weights and pooled ideal,
each query's figure adjusted by ``metrics.cuped.cuped_values`` with, as its covariate,
its mean nDCG@10 on the days it was sampled in the ``baseline_days`` before
(``panel_reads.past_lists``), and, as the centre, the mean of the ``cuped_centre`` rows
stored on those days (each day's ``covariate_mean``, stored beside its figure). Every
list of a query, today's and the past ones, is scored against today's pool, as the
paired panel does (``panel_step``): a pool that grew since a past day then moves a
query's covariate as much as its figure, and does not read as a change of the ranking.
So the figure reads a regression at about its true size, where ``ndcg`` also reads the
pool's growth that the regression's new results bring (docs/detection-power.md).

The first day with ``cuped`` on stores only its centre (no value: nothing to centre on
yet). Off by default: it reads the history of every one of the day's queries
(``baseline_days`` days of grades), a read that grows with the window, where the rest of
the step does not.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection

from monitor.config import Settings
from monitor.metrics.cuped import MIN_WITH_HISTORY, covariate_mean, cuped_values
from monitor.metrics.daily import ALL, ENSEMBLE, GradedQuery, MetricRow
from monitor.metrics.estimate import Estimate, per_query, query_codes, weighted_mean
from monitor.metrics.quality import query_figures, served_mean
from monitor.store import panel_reads
from monitor.store.reads import daily_series

__all__ = ["CENTRE_METRIC", "CUPED_K", "CUPED_METRIC", "cuped_inputs", "cuped_rows"]

CUPED_METRIC = "ndcg_cuped"
CENTRE_METRIC = "cuped_centre"
CUPED_K = 10


def cuped_inputs(
    conn: Connection, day: dt.date, settings: Settings, queries: Sequence[GradedQuery]
) -> tuple[list[float], list[float], list[float | None]]:
    """(each query's nDCG@10, its weight, its mean nDCG@10 on its recent days or None),
    every list scored against the query's pool of today."""
    rows = panel_reads.past_lists(conn, day=day, days=settings.baseline_days)
    past: dict[int, dict[dt.date, list[tuple[float, list[float | None]]]]] = defaultdict(dict)
    for sample_id, date, weight, grades in rows:
        past[sample_id].setdefault(date, []).append((weight, grades))
    key, relevant = f"ndcg@{CUPED_K}", settings.relevant_grade
    values, weights, covariates = [], [], []
    for q in queries:
        values.append(query_figures(q.grades, (CUPED_K,), relevant, pool=q.pool)[key])
        weights.append(q.weight)
        before = []  # per earlier day: the search-weighted mean of that day's lists
        for lists in past[q.sample_id].values():
            day_figure = served_mean(
                (w, query_figures(g, (CUPED_K,), relevant, pool=q.pool)[key]) for w, g in lists
            )
            if math.isfinite(day_figure):
                before.append(day_figure)
        covariates.append(math.fsum(before) / len(before) if before else None)
    return values, weights, covariates


def cuped_rows(
    conn: Connection, day: dt.date, settings: Settings, queries: Sequence[GradedQuery]
) -> list[MetricRow]:
    """The day's ``ndcg_cuped`` and ``cuped_centre`` rows (none when ``cuped`` is off).
    No value, with the reason, without a stored centre in the window or with fewer than
    ``MIN_WITH_HISTORY`` of the day's queries seen before."""
    if not settings.cuped:
        return []
    values, weights, covariates = cuped_inputs(conn, day, settings, queries)
    seen = sum(x is not None for x in covariates)
    today = covariate_mean(weights, covariates)
    stored = daily_series(
        conn,
        metric=CENTRE_METRIC,
        segment=ALL,
        judge=ENSEMBLE,
        k=CUPED_K,
        first=day - dt.timedelta(days=settings.baseline_days),
        last=day - dt.timedelta(days=1),
    )
    centres = [p.value for p in stored if p.value is not None]
    if not centres:
        est = Estimate.missing(
            len(values),
            f"no stored {CENTRE_METRIC} in the {settings.baseline_days} days before (the "
            "first days with cuped on)",
        )
    else:
        adjusted, theta = cuped_values(values, weights, covariates, statistics.fmean(centres))
        if theta is None:
            est = Estimate.missing(
                len(values),
                f"{seen} queries with a judged history (need {MIN_WITH_HISTORY}, varying)",
            )
        else:
            # a panel query's lists are one query in n and the bootstrap
            of_query = query_codes([q.query for q in queries])
            est = weighted_mean(*per_query(np.asarray(adjusted), np.asarray(weights), of_query))
    centre = (
        Estimate(value=today, ci_low=None, ci_high=None, n=seen)
        if today is not None
        else Estimate.missing(0, "no query of the day was sampled in the window before")
    )
    return [
        MetricRow.of(CUPED_METRIC, est, segment=ALL, judge=ENSEMBLE, k=CUPED_K),
        MetricRow.of(CENTRE_METRIC, centre, segment=ALL, judge=ENSEMBLE, k=CUPED_K),
    ]
