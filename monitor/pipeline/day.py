"""One day, start to finish: the sequence the daily flow, backfill and the benchmarks run.

``run_day`` opens the day's run in ``runs``, samples the source, stores the sample,
judges it with the (calibrated) ensemble, computes the day's figures and records the
outcome whatever happens. It knows nothing of Prefect: every step goes through a
``StepRunner``, which by default just calls it. The daily flow passes one that runs each
step as a Prefect task (retries, the endpoint concurrency slots, the UI); the benchmark
passes one that times each step.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from monitor.config import Settings
from monitor.export.pushgateway import push_run_metrics
from monitor.judges.base import Judge, gather_or_raise
from monitor.judges.factory import build_ensemble, close_judges
from monitor.pipeline.budget_step import apply_budget
from monitor.pipeline.canary import judge_canary
from monitor.pipeline.metrics_step import compute_day_metrics
from monitor.pipeline.steps import (
    DAILY_FLOW,
    DayOutcome,
    JudgeOutcome,
    StoredSample,
    check_day,
    failed_calls_note,
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
from monitor.sampling import DailySample
from monitor.sampling_budget import BudgetDecision
from monitor.sources.base import BadRows
from monitor.store.calibrations import calibrated_settings
from monitor.store.db import Database
from monitor.store.run_lease import DayLease, abandon_running

__all__ = ["STEPS", "StepRunner", "call_step", "first_line", "run_day"]

T = TypeVar("T")

log = logging.getLogger(__name__)

#: The steps of a day, in order, as a ``StepRunner`` sees their names.
STEPS = ("sample", "store", "judge", "metrics")


class StepRunner(Protocol):
    """Runs one named step of the day (``STEPS``) and returns what it returned.

    ``judges`` names the judges a step calls (the ``judge`` step only), so a runner can
    hold a concurrency slot per endpoint while it runs.
    """

    def __call__(self, step: str, fn: Callable[[], T], *, judges: Sequence[str] = ()) -> T: ...


def call_step(step: str, fn: Callable[[], T], *, judges: Sequence[str] = ()) -> T:
    """The plain runner: call the step."""
    return fn()


def run_day(
    database: Database,
    settings: Settings,
    day: dt.date,
    *,
    runner: StepRunner = call_step,
) -> DayOutcome:
    """The day's steps in order, with the run recorded in ``runs`` whatever happens.

    A failure is recorded (status ``failed``, first line of the error) and raised; Ctrl-C
    is recorded as ``aborted``. A day whose judges had failed calls, each within
    ``max_failed_call_share`` of its calls, completes as ``degraded`` (its failed items
    left out of the figures, counted in ``failed_calls``, asked again on a rerun);
    past that share it fails.

    The day is held for the run (``monitor.store.run_lease``): a second run of it is
    refused with one line naming this one, and the row of a run that died is recorded
    as ``abandoned`` by the next run of the day (``counts.took_over``).
    """
    check_day(day)
    # one run of a day at a time: a second is refused, naming this one (DayBusyError)
    with DayLease(database, flow=DAILY_FLOW, day=day, lease_s=settings.run_lease_s) as lease:
        return _run_held(database, settings, day, runner=runner, lease=lease)


def _run_held(
    database: Database,
    settings: Settings,
    day: dt.date,
    *,
    runner: StepRunner,
    lease: DayLease,
) -> DayOutcome:
    """``run_day`` with the day's lease held."""
    started = time.monotonic()
    # holding the day, a `running` row it still has is a run whose process died
    with database.engine.begin() as conn:
        abandoned = abandon_running(conn, flow=DAILY_FLOW, run_date=day)
    # the run is recorded under the configuration as written, so resuming recognises it
    run_id = start_day(database, settings, day)
    lease.claim(run_id)  # the row names this process, and its heartbeat starts
    took_over = abandoned.describe(day) if abandoned else None
    if took_over:
        log.info("%s; judging the day again", took_over)
    sample: DailySample | None = None
    budget: BudgetDecision | None = None
    bad_rows: BadRows | None = None
    judged: JudgeOutcome | None = None

    def record(status: str, error: str | None = None) -> DayOutcome:
        """Write the run's outcome (as far as it got) to ``runs``, and push it."""
        lease.stop_beating()
        lease.check()  # a run that lost its day to another leaves the row to that run
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
            extra_counts=_extra_counts(took_over, budget),
        )
        _push(settings, outcome)
        return outcome

    def step(name: str, fn: Callable[[], T], *, judges: Sequence[str] = ()) -> T:
        lease.check()
        return runner(name, fn, judges=judges)

    try:
        with database.engine.connect() as conn:
            settings = calibrated_settings(conn, settings)
        # built per day: async clients belong to the event loop of the day's judging
        judges = build_ensemble(settings.judges)
        with warm_day_workers(settings, judges):
            report("sampling", 0, 1)
            sample, bad_rows, budget = step(
                "sample", lambda: _sample(database, settings, day, judges)
            )
            drawn = sample
            samples = step("store", lambda: _store(database, day, drawn, settings))
            report("sampling", 1, 1)
            judged = step(
                "judge",
                lambda: asyncio.run(_judge(database, settings, judges, samples, day)),
                judges=[judge.name for judge in judges],
            )
        raise_for_judging(judged, settings.max_failed_call_share)
        report("metrics", 0, 1)
        step("metrics", lambda: len(compute_day_metrics(database, day, settings)))
        report("metrics", 1, 1)
    except KeyboardInterrupt:
        record("aborted", "interrupted (Ctrl-C)")
        raise
    except Exception as exc:
        record("failed", first_line(exc))
        raise
    note = failed_calls_note(judged)
    return record("degraded", note) if note else record("completed")


def _sample(
    database: Database, settings: Settings, day: dt.date, judges: Sequence[Judge]
) -> tuple[DailySample, BadRows, BudgetDecision | None]:
    """The day's sample as it will be judged: drawn with the design its first run kept,
    under the paid-call ceiling if one is set (``budget_step``)."""
    sample, bad_rows = fetch_sample(settings, day, database=database, keep_design=True)
    judged, budget = apply_budget(database, settings, day, sample, judges)
    return judged, bad_rows, budget


def _store(
    database: Database, day: dt.date, sample: DailySample, settings: Settings
) -> list[StoredSample]:
    store_sample(database, day, sample, settings.sampling.top_k)
    return load_samples(database, day)


async def _judge(
    database: Database,
    settings: Settings,
    judges: list[Judge],
    samples: list[StoredSample],
    day: dt.date,
) -> JudgeOutcome:
    try:
        judged: list[JudgeOutcome] = []

        async def judging() -> None:
            judged.append(
                await judge_as_configured(database, settings, judges, samples, judge_progress)
            )

        async def canary() -> None:  # fixed anchors, re-judged without the cache
            await judge_canary(database, settings, judges, samples, day)

        # the canary beside the day's judging, not after it: its few calls add no round trip
        await gather_or_raise([judging(), canary()])
        return judged[0]
    finally:
        await close_judges(judges)  # on this event loop, before it ends


def _extra_counts(took_over: str | None, budget: BudgetDecision | None) -> dict[str, Any] | None:
    """The run's counts beyond the steps' own: a take-over, the paid-call ceiling's p."""
    extra: dict[str, Any] = {"took_over": took_over} if took_over else {}
    if budget is not None and budget.p is not None:
        extra["budget_p"] = round(budget.p, 6)
    return extra or None


def first_line(exc: BaseException) -> str:
    """The error as ``runs.error`` keeps it: its first line, at most 500 characters."""
    message = str(exc)
    return message.splitlines()[0][:500] if message else type(exc).__name__


def _push(settings: Settings, outcome: DayOutcome) -> None:
    if settings.pushgateway_url:
        push_run_metrics(
            settings.pushgateway_url,
            flow="daily",
            duration_s=outcome.duration_s,
            counts=outcome.counts,
            cost_usd=outcome.cost_usd,
            success=outcome.status in ("completed", "degraded"),
            run_date=outcome.day,
        )
