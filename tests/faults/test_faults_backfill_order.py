"""A day rerun after a day before it was backfilled draws its first run's sample.

The day's design reads the stored days before it: the queries its paired panel may take
(and a Neyman allocation's per-stratum sds). Run first with no history, the day has no
panel; backfilling the day before gives it one to read. A rerun that read it afresh would
replace the day's sample with another (a panel beside a fresh sample); the rerun reads
what the first run read instead, stores the same rows and pays for nothing. A change of
the settings that shape that read reads afresh.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fault_setup import day_settings, llm_config
from sqlalchemy import text

from monitor.config import Settings
from monitor.pipeline.allocation import stored_design
from monitor.pipeline.day import run_day
from monitor.pipeline.panel_step import panel_history
from monitor.pipeline.steps import day_window, fetch_sample
from monitor.sampling import sample_day
from monitor.sampling_panel import PANEL_STRATUM
from monitor.sources.factory import build_source
from monitor.store.db import Database
from monitor.testing import FakeOpenAI

DAY = dt.date(2026, 4, 8)
BEFORE = DAY - dt.timedelta(days=1)


def _settings(server: FakeOpenAI, **sampling: Any) -> Settings:
    settings = day_settings([llm_config(str(server.base_url))], size=30)
    return settings.model_copy(
        update={
            "sampling": settings.sampling.model_copy(
                update={"panel_share": 0.5, "allocation": "neyman", **sampling}
            )
        }
    )


def _stored(database: Database, day: dt.date) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT query_norm, list_no, stratum, inclusion_prob FROM samples "
                "WHERE sample_date = :d ORDER BY query_norm, list_no"
            ),
            {"d": day},
        ).all()
    return [tuple(r) for r in rows]


def test_a_rerun_after_a_backfill_before_it_keeps_its_first_sample(
    database: Database, server: FakeOpenAI
) -> None:
    settings = _settings(server)
    assert run_day(database, settings, DAY).status == "completed"
    first = _stored(database, DAY)
    assert first and not any(stratum == PANEL_STRATUM for _, _, stratum, _ in first)

    assert run_day(database, settings, BEFORE).status == "completed"  # the backfill
    # read afresh, the day's design now has a panel: the sample it draws differs
    history = panel_history(database, DAY, settings)
    assert history
    records = build_source(settings.source).fetch(*day_window(DAY))
    afresh = sample_day(records, day=DAY, config=settings.sampling, history=history)
    assert any(q.stratum == PANEL_STRATUM for q in afresh.queries)

    calls = server.total
    again = run_day(database, settings, DAY)
    assert again.status == "completed"
    assert _stored(database, DAY) == first
    assert server.total == calls and again.counts["judged"] == 0
    # the preview (`judge-monitor sample`) draws what the run drew
    preview, _ = fetch_sample(settings, DAY, database=database)
    assert sorted(
        (q.record.normalized_query, q.list_no, q.stratum, q.inclusion_probability)
        for q in preview.queries
    ) == sorted(first)


def test_a_change_of_what_the_design_reads_reads_afresh(
    database: Database, server: FakeOpenAI
) -> None:
    settings = _settings(server)
    assert run_day(database, settings, DAY).status == "completed"
    assert run_day(database, settings, BEFORE).status == "completed"
    # the panel's history is read over `baseline_days`: another window, another read
    changed = settings.model_copy(update={"baseline_days": 7})
    assert run_day(database, changed, DAY).status == "completed"
    assert any(stratum == PANEL_STRATUM for _, _, stratum, _ in _stored(database, DAY))


def test_a_first_run_that_stored_no_sample_keeps_no_design(
    database: Database, server: FakeOpenAI
) -> None:
    """A first run whose source failed after the design was read stored no sample: the
    design it read (no history yet) is not the day's, and the next run reads afresh."""
    settings = _settings(server)
    stored_design(database, DAY, settings, keep=True)  # what that run got to
    assert run_day(database, settings, BEFORE).status == "completed"
    assert run_day(database, settings, DAY).status == "completed"
    assert any(stratum == PANEL_STRATUM for _, _, stratum, _ in _stored(database, DAY))
