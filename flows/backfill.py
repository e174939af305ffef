"""The backfill flow: the daily steps for each day of a range, resumable.

Days already completed with the same configuration are skipped, so a backfill that
stopped (a crash, an endpoint down) picks up where it left off. Each run is named after
its range ("backfill 2026-11-01..2026-11-07"), logs each day as the daily flow does and
leaves a table artifact with one row per day it ran.
"""

# No `from __future__ import annotations`: `serve` pickles this flow's function by
# value into each run's process, where its parameters' annotations must be real types.

import datetime as dt

from prefect import flow, get_run_logger

from flows.daily import prefect_steps
from flows.reporting import Headline, backfill_artifact, headline, log_day
from monitor.config import load_settings
from monitor.judges.factory import build_ensemble
from monitor.pipeline.day import run_day
from monitor.pipeline.steps import DAILY_FLOW, DayOutcome, check_day, days_between
from monitor.progress import report
from monitor.store.db import connect
from monitor.store.migrate import upgrade
from monitor.store.runs import completed_days

__all__ = ["backfill"]


@flow(name="backfill", flow_run_name="backfill {start}..{end}", log_prints=False)
def backfill(start: dt.date, end: dt.date, force: bool = False) -> list[DayOutcome]:
    """Run the daily steps for each day of [start, end] not yet completed (all with force)."""
    days = days_between(start, end)
    check_day(end)
    settings = load_settings()
    build_ensemble(settings.judges)  # every judge's key checked before anything runs
    database = connect(settings)
    try:
        upgrade(database.engine, database.url)
        done = (
            set()
            if force
            else completed_days(database, flow=DAILY_FLOW, config_hash=settings.config_hash())
        )
        outcomes = []
        ran: list[tuple[DayOutcome, Headline]] = []
        todo = [d for d in days if d not in done]
        get_run_logger().info(
            "backfill %s..%s: %d of %d days to run (%d already completed)",
            start.isoformat(),
            end.isoformat(),
            len(todo),
            len(days),
            len(days) - len(todo),
        )
        report("days", len(days) - len(todo), len(days))
        for number, day in enumerate(todo, start=1):
            # the daily steps inside this flow run (one connection, no sub-flow per day);
            # each day is recorded in `runs` exactly as the daily flow records it
            outcome = run_day(database, settings, day, runner=prefect_steps)
            figures = headline(database, day)
            log_day(outcome, figures)
            outcomes.append(outcome)
            ran.append((outcome, figures))
            report("days", len(days) - len(todo) + number, len(days))
        if ran:
            backfill_artifact(ran)
        return outcomes
    finally:
        database.dispose()
