"""The stored history a day's sample design reads: each stratum's spread of nDCG@10 (a
Neyman allocation) and the queries a paired panel may take (``stored_design``).

``sampling.sample_day`` allocates a Neyman sample in proportion to searches × the
stratum's per-query sd of nDCG@10 (``sampling.neyman_sizes``); this reads that sd from
the ``neyman_history_days`` stored days before the day sampled. The sd is that of the
per-list nDCG@10 (``ndcg_list``), which needs no pool read per stored day; only the
strata's relative spreads matter to the allocation, and the inclusion probabilities stay
exact whatever it is, so the estimates stay unbiased.

What a day's first run read is kept (``monitor.store.day_designs``) and its reruns read
that: a day backfilled or rerun before it since would otherwise change its sample.
Kept with the settings that shape the read (``design_inputs``); a change of those reads
afresh.
"""

from __future__ import annotations

import datetime as dt

from monitor.config import Settings
from monitor.metrics.quality import query_figures
from monitor.pipeline.panel_step import panel_history
from monitor.sampling import stratum_sd
from monitor.store import day_designs, pool_reads
from monitor.store.db import Database

__all__ = ["design_inputs", "stored_design", "stored_stratum_sd"]

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


def design_inputs(settings: Settings) -> str:
    """The settings the design's read depends on, as ``day_designs.inputs`` keeps them."""
    sampling = settings.sampling
    neyman = sampling.neyman_history_days if sampling.allocation == "neyman" else "-"
    panel = settings.baseline_days if sampling.panel_share > 0 else "-"
    grade = settings.relevant_grade if sampling.allocation == "neyman" else "-"
    return f"neyman_history_days={neyman}|relevant_grade={grade}|panel_history_days={panel}"


def stored_design(
    database: Database, day: dt.date, settings: Settings, *, keep: bool = False
) -> tuple[dict[str, float] | None, set[str] | None]:
    """What the day's sample design reads from the store: each stratum's sd (a Neyman
    allocation; else None) and the queries a panel may take (None when it is off). The
    run and ``sample``'s preview both read it, so the preview draws the run's sample.

    What an earlier run of the day kept is read instead, if the same settings shaped
    it; ``keep`` (the run) keeps what was read for the day's later runs."""
    inputs = design_inputs(settings)
    with database.engine.connect() as conn:
        kept = day_designs.read_design(conn, day=day)
    if kept is not None and kept.inputs == inputs:
        return kept.stratum_sd, kept.panel_history
    neyman = settings.sampling.allocation == "neyman"
    sd = stored_stratum_sd(database, day, settings) if neyman else None
    history = panel_history(database, day, settings)
    if keep:
        design = day_designs.StoredDesign(inputs=inputs, stratum_sd=sd, panel_history=history)
        with database.engine.begin() as conn:
            day_designs.write_design(conn, day=day, design=design)
    return sd, history
