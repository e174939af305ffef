"""The backfill flow: the daily steps for each day of a range, resumable.

Days already completed with the same configuration are skipped, so a backfill that
stopped (a crash, an endpoint down) picks up where it left off.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow

from flows.daily import run_day
from monitor.config import load_settings
from monitor.errors import InputError
from monitor.judges.factory import build_ensemble
from monitor.pipeline import DAILY_FLOW, DayOutcome, check_day
from monitor.progress import report
from monitor.store.db import connect
from monitor.store.migrate import upgrade
from monitor.store.runs import completed_days

__all__ = ["backfill", "days_between"]


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end`` inclusive; an end before the start is refused."""
    if end < start:
        raise InputError(
            f"--end {end.isoformat()} is before --start {start.isoformat()}; "
            "give the range oldest day first"
        )
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


@flow(name="backfill", log_prints=False)
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
        todo = [d for d in days if d not in done]
        report("days", len(days) - len(todo), len(days))
        for number, day in enumerate(todo, start=1):
            # the daily steps inside this flow run (one connection, no sub-flow per day);
            # each day is recorded in `runs` exactly as the daily flow records it
            outcomes.append(run_day(database, settings, day))
            report("days", len(days) - len(todo) + number, len(days))
        return outcomes
    finally:
        database.dispose()
