"""The paired panel's two hooks in the daily run: what the sampler may draw the panel
from, and the panel's figure among the day's metrics.

``panel_history`` is what ``steps.fetch_sample`` passes to ``sampling.sample_day``: the
queries stored in the ``baseline_days`` before the day (``panel_reads.seen_queries``).

``panel_rows`` is the metric ``panel_ndcg_change`` (k = 10): for each of the day's panel
samples (stratum ``sampling_panel.PANEL_STRATUM``), its nDCG@10 minus the mean of the
same query's nDCG@10 on the days it was judged in the ``baseline_days`` before (a day
with several of its lists: their search-weighted mean, so a share of traffic served a
worse list moves the query's figure by that share every day), averaged
over the panel's queries with a t interval (``metrics.paired``): each query counting
once, or, with ``sampling.panel_lists`` > 1, weighted by its searches of the day. The
weighting pays off only with every list judged (``bench/_panel_sim.py``: with one list a
query changes by the whole gap or not at all, and weighting lets the few biggest decide;
with its lists a head query moves by its own share of the gap, small and steady, and
its searches say how much of the traffic that is). Every list of the
query, today's and the past days', is scored against the *same* ideal, today's pool
(every result judged for the query up to today), so a pool that grew since a past day
does not read as a change of the ranking.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

from sqlalchemy import Connection

from monitor.config import Settings
from monitor.metrics.daily import ALL, ENSEMBLE, MetricRow
from monitor.metrics.paired import PanelQuery, paired_change
from monitor.metrics.quality import pooled_ndcg_at_k, served_mean
from monitor.sampling_panel import PANEL_STRATUM
from monitor.store import panel_reads, pool_reads
from monitor.store.db import Database

__all__ = ["PANEL_K", "PANEL_METRIC", "panel_history", "panel_queries", "panel_rows"]

PANEL_METRIC = "panel_ndcg_change"
PANEL_K = 10


def panel_history(database: Database, day: dt.date, settings: Settings) -> set[str] | None:
    """The queries the day's panel may be drawn from (None when the panel is off)."""
    if settings.sampling.panel_share <= 0:
        return None
    with database.engine.connect() as conn:
        return panel_reads.seen_queries(conn, day=day, days=settings.baseline_days)


def panel_queries(conn: Connection, day: dt.date, settings: Settings) -> list[PanelQuery]:
    """Each of the day's panel queries with today's nDCG@10 and its past days' figures;
    a day with several lists of the query (``sampling.panel_lists``) reads as their
    search-weighted mean. With ``panel_lists`` > 1 each query weighs its searches today
    in the panel's mean, else every query counts once (``metrics.paired``)."""
    weighted = settings.sampling.panel_lists > 1
    rows = panel_reads.panel_lists(
        conn, day=day, days=settings.baseline_days, stratum=PANEL_STRATUM
    )
    pools = pool_reads.pooled_grades(conn, day=day)
    lists: dict[str, dict[dt.date, list[tuple[float, tuple[float | None, ...]]]]] = {}
    pool_of: dict[str, tuple[float, ...]] = {}
    for sample_id, query_norm, date, weight, grades in rows:
        lists.setdefault(query_norm, defaultdict(list))[date].append((weight, tuple(grades)))
        if date == day:
            pool_of.setdefault(query_norm, pools.get(sample_id, ()))
    out = []
    for query_norm in sorted(pool_of):
        pool = pool_of[query_norm]
        scored = {
            date: [(w, pooled_ndcg_at_k(g, PANEL_K, pool)) for w, g in served]
            for date, served in lists[query_norm].items()
        }
        by_day = {date: served_mean(figures) for date, figures in scored.items()}
        today = by_day.pop(day)
        past = tuple(by_day[d] for d in sorted(by_day))
        # the searches its figure stands for: a list left unjudged (its calls failed)
        # is not in today's figure, so it does not weigh in the panel's mean either (none
        # judged: today is NaN and the query is left out whatever its weight)
        judged = math.fsum(w for w, x in scored[day] if math.isfinite(x)) or 1.0
        out.append(PanelQuery(query_norm, today, past, weight=judged if weighted else 1.0))
    return out


def panel_rows(
    conn_or_database: Connection | Database, day: dt.date, settings: Settings
) -> list[MetricRow]:
    """The day's ``panel_ndcg_change`` row; none when the panel is off
    (``sampling.panel_share`` 0), a row without a value and with the reason when fewer
    than 5 panel queries have judged history."""
    if settings.sampling.panel_share <= 0:
        return []
    if isinstance(conn_or_database, Database):
        with conn_or_database.engine.connect() as conn:
            queries = panel_queries(conn, day, settings)
    else:
        queries = panel_queries(conn_or_database, day, settings)
    return [
        MetricRow.of(PANEL_METRIC, paired_change(queries), segment=ALL, judge=ENSEMBLE, k=PANEL_K)
    ]
