"""The compare flow: two rankers on the same sampled queries, pairwise and pointwise."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from prefect import flow, task
from prefect.cache_policies import NONE

from monitor.compare import CompareResult, compare_rankers
from monitor.config import Settings, SourceConfig, load_settings
from monitor.errors import ConfigError
from monitor.judges.factory import build_ensemble, close_judges
from monitor.pipeline import check_day
from monitor.progress import judge_progress
from monitor.sources.factory import build_source
from monitor.store import repository as repo
from monitor.store.calibrations import calibrated_settings
from monitor.store.db import Database, connect
from monitor.store.migrate import upgrade

__all__ = ["compare", "ranker_source"]

PRODUCTION = "production"


def ranker_source(settings: Settings, name: str) -> SourceConfig:
    """``production`` is the configured source; other names come from ``[rankers.NAME]``."""
    if name == PRODUCTION:
        return settings.source
    if name not in settings.rankers:
        known = ", ".join([PRODUCTION, *sorted(settings.rankers)])
        raise ConfigError(f"unknown ranker {name!r}; configured rankers: {known}")
    return settings.rankers[name]


@task(cache_policy=NONE)
async def compare_task(
    database: Database, settings: Settings, day: dt.date, a: str, b: str
) -> CompareResult:
    with database.engine.connect() as conn:
        settings = calibrated_settings(conn, settings)  # the same judges as the daily run
    judges = build_ensemble(settings.judges)
    try:
        return await compare_rankers(
            database,
            settings,
            day,
            name_a=a,
            source_a=build_source(ranker_source(settings, a)),
            name_b=b,
            source_b=build_source(ranker_source(settings, b)),
            judges=judges,
            progress=judge_progress,
        )
    finally:
        await close_judges(judges)


@flow(name="compare", log_prints=False)
def compare(a: str, b: str, day: dt.date) -> CompareResult:
    """Judge rankers ``a`` and ``b`` on the same sampled queries of ``day``."""
    check_day(day)
    settings = load_settings()
    ranker_source(settings, a), ranker_source(settings, b)
    database = connect(settings)
    started = time.monotonic()
    try:
        upgrade(database.engine, database.url)
        with database.engine.begin() as conn:
            run_id = repo.start_run(
                conn,
                flow="compare",
                run_date=day,
                config_hash=settings.config_hash(),
                run_key=f"{a}~{b}",
            )
        try:
            result = asyncio.run(compare_task(database, settings, day, a, b))
        except Exception as exc:
            with database.engine.begin() as conn:
                repo.finish_run(
                    conn,
                    run_id=run_id,
                    status="failed",
                    counts={},
                    cost_usd=0.0,
                    duration_s=time.monotonic() - started,
                    error=str(exc)[:500],
                )
            raise
        with database.engine.begin() as conn:
            repo.finish_run(
                conn,
                run_id=run_id,
                status="completed",
                counts={
                    "queries": result.queries,
                    "judged": result.judged.paid,
                    "cached": result.judged.cached,
                    "invalid": result.judged.invalid,
                },
                cost_usd=result.cost_usd,
                duration_s=time.monotonic() - started,
            )
        return result
    finally:
        database.dispose()
