"""The daily flow: source → sample → judge (ensemble) → store → metrics → push.

The steps and their order are the library's (``monitor.pipeline.day.run_day``); this
file only makes each step a Prefect task: I/O steps retry, and the judging step holds
one slot of ``judge-endpoint-<judge>`` per judge, so parallel runs (a backfill beside
the daily run) never hammer one endpoint together.

Idempotent per day: a rerun, or a resume after a crash, stores the same result, adds
no duplicates and pays for no verdict twice (the verdict cache).

A run without a ``day`` judges the day before its *scheduled* date (in the schedule's
timezone), so a late start or a retry after midnight judges the same day. Each run is
named after its day ("daily 2026-11-29"), logs its progress and figures to the run's
logs, and leaves a markdown artifact with the day's headline figures and alerts.
"""

# No `from __future__ import annotations`: `serve` pickles this flow's function by
# value into each run's process, where its parameters' annotations must be real types.

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TypeVar

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.concurrency.sync import concurrency
from prefect.runtime import flow_run

from flows.reporting import daily_artifact, headline, log_day, log_judging
from monitor.config import Settings, load_settings
from monitor.judges.factory import build_ensemble
from monitor.pipeline.day import run_day
from monitor.pipeline.steps import DayOutcome, check_day, day_for_schedule
from monitor.store.db import connect
from monitor.store.migrate import upgrade

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "daily",
    "daily_run_name",
    "endpoint_limit",
    "existing_limits",
    "judged_day",
    "prefect_steps",
]

T = TypeVar("T")

#: Retries per step: sources and storage are I/O; judging is not retried as a whole
#: (each call retries on its own, and a rerun pays for nothing already answered).
RETRIES = {"sample": 2, "store": 2, "judge": 0, "metrics": 1}

#: Concurrency limits read per call to the Prefect API.
_PAGE = 200

#: The flow's own timeout, the setting's default; ``serve`` applies the configured
#: ``flow_timeout_hours`` to the deployment it serves (``flows.serve``).
DEFAULT_TIMEOUT_S = float(Settings.model_fields["flow_timeout_hours"].default) * 3600


@task(cache_policy=NONE, task_run_name="{step}")
def _step(step: str, fn: Callable[[], T]) -> T:
    return fn()


def prefect_steps(step: str, fn: Callable[[], T], *, judges: Sequence[str] = ()) -> T:
    """Run one step of the day as a Prefect task (``run_day``'s ``StepRunner``)."""
    as_task = _step.with_options(retries=RETRIES.get(step, 0), retry_delay_seconds=5)
    if not judges:
        return as_task(step, fn)
    names = existing_limits([endpoint_limit(name) for name in judges])
    if not names:  # no limit to hold (none created by ``serve``): no acquisition call
        return as_task(step, fn)
    with concurrency(names, occupy=1, strict=False):
        return as_task(step, fn)


def endpoint_limit(judge: str) -> str:
    """The global concurrency limit guarding ``judge``'s endpoint (``serve`` creates it)."""
    return f"judge-endpoint-{judge}"


def existing_limits(names: Sequence[str]) -> list[str]:
    """Those of ``names`` that exist as global concurrency limits on the Prefect API.

    Asked first because acquiring slots of limits that do not exist is not free: on a
    temporary Prefect server it took 1.5 to 2.5 s a day (Prefect 3.9), a backfill's or the
    demo's largest fixed cost, while this list takes a few hundredths of a second.
    """
    from prefect.client.orchestration import get_client

    existing: set[str] = set()
    with get_client(sync_client=True) as client:
        while True:  # every page: a limit past the first page still guards its endpoint
            page = client.read_global_concurrency_limits(limit=_PAGE, offset=len(existing))
            existing |= {limit.name for limit in page}
            if len(page) < _PAGE:
                break
    return [name for name in names if name in existing]


def judged_day(day: dt.date | None, timezone: str) -> dt.date:
    """The day a run judges: ``day`` when given, else the day before the date the run
    was scheduled for (its scheduled start in ``timezone``; for a run started by hand,
    the time it was created)."""
    if day is not None:
        return day
    return day_for_schedule(flow_run.scheduled_start_time, timezone)


def daily_run_name() -> str:
    """The flow run's name, "daily <day>": the day worked out as the run works it out."""
    day = flow_run.parameters.get("day")
    try:
        if isinstance(day, str):
            day = dt.date.fromisoformat(day)
        timezone = load_settings().schedule_timezone if day is None else "UTC"
        return f"daily {judged_day(day, timezone).isoformat()}"
    except Exception:  # bad settings or day: the run itself then fails with the clear error
        return "daily"


@flow(
    name="daily",
    flow_run_name=daily_run_name,
    log_prints=False,
    timeout_seconds=DEFAULT_TIMEOUT_S,
)
def daily(day: dt.date | None = None) -> DayOutcome:
    """Judge one day of production search (default: the day before the scheduled date)."""
    settings = load_settings()
    asked = day is not None
    day = judged_day(day, settings.schedule_timezone)
    log_judging(day, None if asked else flow_run.scheduled_start_time)
    check_day(day)
    build_ensemble(settings.judges)  # every judge's key checked before anything runs
    database = connect(settings)
    try:
        upgrade(database.engine, database.url)
        outcome = run_day(database, settings, day, runner=prefect_steps)
        figures = headline(database, day)
        log_day(outcome, figures)
        daily_artifact(outcome, figures)
        return outcome
    finally:
        database.dispose()
