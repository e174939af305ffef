"""The daily flow: source → sample → judge (ensemble) → store → metrics → push.

Idempotent per day: a rerun, or a resume after a crash, stores the same result, adds
no duplicates and pays for no verdict twice (the verdict cache).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from contextlib import AsyncExitStack

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.concurrency.asyncio import concurrency

from monitor.config import Settings, load_settings
from monitor.judges.base import Judge
from monitor.judges.factory import build_ensemble, close_judges
from monitor.metrics_step import compute_day_metrics
from monitor.pipeline import (
    DayOutcome,
    JudgeOutcome,
    StoredSample,
    check_day,
    fetch_sample,
    finish_day,
    judge_as_configured,
    load_samples,
    raise_for_judging,
    start_day,
    store_sample,
    warm_day_workers,
)
from monitor.progress import judge_progress, report
from monitor.pushgateway import push_run_metrics
from monitor.sampling import DailySample
from monitor.sources.base import BadRows
from monitor.store.calibrations import calibrated_settings
from monitor.store.db import Database, connect
from monitor.store.migrate import upgrade

__all__ = ["daily", "run_day", "yesterday"]


def yesterday() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


@task(cache_policy=NONE, retries=2, retry_delay_seconds=10)
def sample_task(settings: Settings, day: dt.date) -> tuple[DailySample, BadRows]:
    """Read the source and draw the sample (retried: sources are I/O)."""
    return fetch_sample(settings, day)


@task(cache_policy=NONE, retries=2, retry_delay_seconds=5)
def store_sample_task(
    database: Database, day: dt.date, sample: DailySample, top_k: int
) -> list[StoredSample]:
    store_sample(database, day, sample, top_k)
    return load_samples(database, day)


@task(cache_policy=NONE)
async def judge_task(
    database: Database, settings: Settings, judges: list[Judge], samples: list[StoredSample]
) -> JudgeOutcome:
    """Judge the sample; a global concurrency slot per judge endpoint guards parallel runs."""
    async with AsyncExitStack() as stack:
        for judge in judges:
            await stack.enter_async_context(
                concurrency(f"judge-endpoint-{judge.name}", occupy=1, strict=False)
            )
        try:
            return await judge_as_configured(database, settings, judges, samples, judge_progress)
        finally:
            await close_judges(judges)  # on this event loop, before it ends


@task(cache_policy=NONE, retries=1, retry_delay_seconds=5)
def metrics_task(database: Database, day: dt.date, settings: Settings) -> int:
    return len(compute_day_metrics(database, day, settings))


def run_day(database: Database, settings: Settings, day: dt.date) -> DayOutcome:
    """The day's steps in order, with the run recorded in ``runs`` whatever happens."""
    check_day(day)
    started = time.monotonic()
    # the run is recorded under the configuration as written, so resuming recognises it
    run_id = start_day(database, settings, day)
    sample: DailySample | None = None
    bad_rows: BadRows | None = None
    judged: JudgeOutcome | None = None

    def record(status: str, error: str | None = None) -> DayOutcome:
        """Write the run's outcome (as far as it got) to `runs`, and push it."""
        outcome = finish_day(
            database,
            run_id=run_id,
            day=day,
            started=started,
            status=status,
            sample=sample,
            bad_rows=bad_rows,
            judged=judged,
            error=error,
        )
        _push(settings, outcome)
        return outcome

    try:
        with database.engine.connect() as conn:
            settings = calibrated_settings(conn, settings)
        # built per day: async clients belong to the event loop of the day's judging
        judges = build_ensemble(settings.judges)
        with warm_day_workers(settings, judges):
            report("sampling", 0, 1)
            sample, bad_rows = sample_task(settings, day)
            samples = store_sample_task(database, day, sample, settings.sampling.top_k)
            report("sampling", 1, 1)
            judged = asyncio.run(judge_task(database, settings, judges, samples))
        raise_for_judging(judged)
        report("metrics", 0, 1)
        metrics_task(database, day, settings)
        report("metrics", 1, 1)
    except Exception as exc:
        record("failed", str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__)
        raise
    return record("completed")


def _push(settings: Settings, outcome: DayOutcome) -> None:
    if settings.pushgateway_url:
        push_run_metrics(
            settings.pushgateway_url,
            flow="daily",
            duration_s=outcome.duration_s,
            counts=outcome.counts,
            cost_usd=outcome.cost_usd,
            success=outcome.status == "completed",
            run_date=outcome.day,
        )


@flow(name="daily", log_prints=False)
def daily(day: dt.date | None = None) -> DayOutcome:
    """Judge one day of production search (default: yesterday, UTC)."""
    settings = load_settings()
    day = day or yesterday()
    check_day(day)
    build_ensemble(settings.judges)  # every judge's key checked before anything runs
    database = connect(settings)
    try:
        upgrade(database.engine, database.url)
        return run_day(database, settings, day)
    finally:
        database.dispose()
