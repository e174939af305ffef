"""The stored history a day's sample design reads: each stratum's spread of nDCG@10 (a
Neyman allocation) and the queries a paired panel may take (``stored_design``).

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
from monitor.pipeline.panel_step import panel_history
from monitor.sampling import stratum_sd
from monitor.store import pool_reads
from monitor.store.db import Database

__all__ = ["stored_design", "stored_stratum_sd"]

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


def stored_design(
    database: Database, day: dt.date, settings: Settings
) -> tuple[dict[str, float] | None, set[str] | None]:
    """What the day's sample design reads from the store: each stratum's sd (a Neyman
    allocation; else None) and the queries a panel may take (None when it is off). The
    run and ``sample``'s preview both read it, so the preview draws the run's sample."""
    neyman = settings.sampling.allocation == "neyman"
    sd = stored_stratum_sd(database, day, settings) if neyman else None
    return sd, panel_history(database, day, settings)
