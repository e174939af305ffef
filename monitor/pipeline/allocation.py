"""The stored history the Neyman allocation reads: each stratum's spread of nDCG@10.

``sampling.sample_day`` allocates a Neyman sample in proportion to searches × the
stratum's per-query sd of nDCG@10 (``sampling.neyman_sizes``); this reads that sd from
the ``neyman_history_days`` stored days before the day sampled. The sd is that of the
per-list nDCG@10 (``ndcg_list``), which needs no pool read per stored day; only the
strata's relative spreads matter to the allocation, and the inclusion probabilities stay
exact whatever it is, so the estimates stay unbiased.
"""

from __future__ import annotations

import datetime as dt

from monitor.config import Settings
from monitor.metrics.quality import query_figures
from monitor.sampling import stratum_sd
from monitor.store import pool_reads
from monitor.store.db import Database

__all__ = ["stored_stratum_sd"]

_K = 10


def stored_stratum_sd(database: Database, day: dt.date, settings: Settings) -> dict[str, float]:
    """Per-stratum sd of per-query nDCG@10 over the stored days before ``day`` (a stratum
    with fewer than 10 graded queries there has none; empty with no history)."""
    days = settings.sampling.neyman_history_days
    with database.engine.connect() as conn:
        rows = pool_reads.stratum_grades(
            conn, first=day - dt.timedelta(days=days), last=day - dt.timedelta(days=1)
        )
    relevant = settings.relevant_grade
    return stratum_sd(
        (stratum, query_figures(grades, (_K,), relevant)[f"ndcg_list@{_K}"])
        for stratum, grades in rows
    )
