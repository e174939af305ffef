"""The paired panel's two hooks in the daily run: what the sampler may draw the panel
from, and the panel's figure among the day's metrics.

``panel_history`` is what ``steps.fetch_sample`` passes to ``sampling.sample_day``: the
queries stored in the ``baseline_days`` before the day (``panel_reads.seen_queries``).

``panel_rows`` is the metric ``panel_ndcg_change`` (k = 10): for each of the day's panel
samples (stratum ``sampling_panel.PANEL_STRATUM``), its nDCG@10 minus the mean of the
same query's nDCG@10 on the days it was judged in the ``baseline_days`` before, averaged
over the panel's queries with a t interval (``metrics.paired``). Every list of the
query, today's and the past days', is scored against the *same* ideal, today's pool
(every result judged for the query up to today), so a pool that grew since a past day
does not read as a change of the ranking.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import Connection

from monitor.config import Settings
from monitor.metrics.daily import ALL, ENSEMBLE, MetricRow
from monitor.metrics.paired import PanelQuery, paired_change
from monitor.metrics.quality import pooled_ndcg_at_k
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
    """Each of the day's panel queries with today's nDCG@10 and its past days' figures."""
    rows = panel_reads.panel_lists(
        conn, day=day, days=settings.baseline_days, stratum=PANEL_STRATUM
    )
    pools = pool_reads.pooled_grades(conn, day=day)
    today: dict[str, list[tuple[float | None, ...]]] = defaultdict(list)
    past: dict[str, list[tuple[float | None, ...]]] = defaultdict(list)
    pool_of: dict[str, tuple[float, ...]] = {}
    for sample_id, query_norm, date, grades in rows:
        if date == day:
            today[query_norm].append(tuple(grades))
            pool_of[query_norm] = pools.get(sample_id, ())
        else:
            past[query_norm].append(tuple(grades))
    out = []
    for query_norm in sorted(today):
        pool = pool_of[query_norm]
        out.append(
            PanelQuery(
                query_norm=query_norm,
                today=pooled_ndcg_at_k(today[query_norm][0], PANEL_K, pool),
                history=tuple(pooled_ndcg_at_k(g, PANEL_K, pool) for g in past[query_norm]),
            )
        )
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
