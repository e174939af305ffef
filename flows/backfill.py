"""The backfill flow: the daily flow for each day of a range, resumable.

Days already completed with the same configuration are skipped, so a backfill that
stopped (a crash, an endpoint down) picks up where it left off.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow

from flows.daily import daily
from monitor.config import load_settings
from monitor.errors import InputError
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
    """Run ``daily`` for each day of [start, end] not yet completed (all with force)."""
    days = days_between(start, end)
    check_day(end)
    settings = load_settings()
    database = connect(settings)
    try:
        upgrade(database.engine, database.url)
        done = (
            set()
            if force
            else completed_days(database, flow=DAILY_FLOW, config_hash=settings.config_hash())
        )
    finally:
        database.dispose()
    outcomes = []
    todo = [d for d in days if d not in done]
    report("days", len(days) - len(todo), len(days))
    for number, day in enumerate(todo, start=1):
        outcomes.append(daily(day=day))
        report("days", len(days) - len(todo) + number, len(days))
    return outcomes
