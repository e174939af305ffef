"""LLM judges as Prefect tasks on a task runner: a Dask cluster (other machines), or
Prefect's process pool on this one.

``judge_runner = "dask"`` sends each movable judge (``workers.movable``: rebuilt from its
configuration) to a Dask cluster as one Prefect task, through ``prefect-dask``'s
``DaskTaskRunner``: the cluster at ``dask_address`` (``tcp://scheduler:8786``), or, when
that is unset, a local cluster of one worker process per judge started for the run.
``judge_runner = "process-pool"`` runs the same tasks on Prefect's
``ProcessPoolTaskRunner``. The home-made pool (``workers``, ``judge_runner = "local"``)
stays the default: ``bench/daily_run.py`` measures it faster on one machine
(bench/README.md, "Judging on Prefect task runners").

A task runs exactly what in-process judging runs (``cache.judge_one``: the cache lookup,
chunks, every chunk's answers stored in the verdict cache as they arrive) on the
worker's own event loop and connection, and returns the judge's verdicts and tally. One
task per judge, never a judge split over workers: its concurrency and rate limits hold
per process, so two workers judging for one judge would call its endpoint twice as hard.
A worker that dies loses only its answers in flight; the rerun finds the rest in the
cache.

Secrets stay in the environment: a task carries the judge's configuration (which names
the variable holding its key, never the key) and the items. A worker connects to the
database named by its own ``DATABASE_URL`` (or ``JUDGE_MONITOR_DATABASE_URL``) and reads
its judges' keys from its own environment; the local cluster and the process pool are
started with this process's environment and database URL. A real cluster's workers are
started with them (README, "A second machine"), and with ``PREFECT_API_URL`` pointing at
the Prefect server the run reports to.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from prefect import task
from prefect.cache_policies import NONE

from monitor.errors import ConfigError
from monitor.judges.base import Judge
from monitor.judging.workers import Outcome, _pack, _unpack
from monitor.store.db import Database

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner

    from monitor.judging.cache import JudgeTally, Progress

__all__ = ["TaskRunnerKind", "run_as_tasks"]

TaskRunnerKind = Literal["dask", "process-pool"]
_URL_ENV = "JUDGE_MONITOR_DATABASE_URL"

#: A worker's database engines, by URL: a Dask worker lives on and runs many tasks.
_engines: dict[str, Any] = {}


def _task_runner(
    kind: TaskRunnerKind, address: str | None, workers: int, url: str
) -> TaskRunner[Any]:
    """The Prefect task runner ``kind`` names; local ones get this process's database URL
    in their workers' environment.

    Its workers report their task runs to the Prefect API: without a server in
    ``PREFECT_API_URL`` each would start a temporary one of its own and time out, so that
    is refused here, in one line, before anything starts.
    """
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        raise ConfigError(
            f"judge_runner = {kind!r} needs a Prefect server its workers report to: set "
            "PREFECT_API_URL (e.g. http://prefect-host:4200/api), or use judge_runner = 'local'"
        )
    if kind == "process-pool":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(
            max_workers=workers, initializer=_set_database_url, initargs=(url,)
        )
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError(
            "judge_runner = 'dask' needs prefect-dask: pip install 'judge-monitor[dask]'"
        ) from None
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "processes": True,
            "threads_per_worker": 1,
            "dashboard_address": None,
            "env": {_URL_ENV: url},
        }
    )


def _set_database_url(url: str) -> None:
    os.environ[_URL_ENV] = url


async def run_as_tasks(
    database: Database,
    judges: Sequence[Judge],
    items: Sequence[Any],
    *,
    kind: TaskRunnerKind,
    address: str | None,
    chunk: int,
    progress: Progress | None,
    max_failed: int | None = None,
) -> dict[str, Outcome]:
    """Every judge's verdicts and tally, each judge one Prefect task on the task runner
    ``kind`` (``dask``: the cluster at ``address``, or a local one)."""
    packed = await asyncio.to_thread(_pack, items)
    runner = _task_runner(kind, address, len(judges), database.url)
    job = (packed, len(items), chunk, max_failed)
    return await asyncio.to_thread(_run_flow, runner, judges, job, progress)


def _run_flow(
    runner: TaskRunner[Any],
    judges: Sequence[Judge],
    job: tuple[bytes, int, int, int | None],
    progress: Progress | None,
) -> dict[str, Outcome]:
    """Submit one task per judge inside a flow on ``runner`` (the flow has no parameters,
    so no item is ever stored as one in the Prefect API); collect them as they finish."""
    from prefect import flow

    packed, size, chunk, max_failed = job
    # The flow's function travels with each task's context (Dask pickles it), so it must
    # close over plain data only: not the judges, whose clients hold locks once they
    # have been used on this process's loop (the canary asks them meanwhile).
    specs = [(judge.name, judge.config.model_dump()) for judge in judges]

    @flow(name="judge-on-task-runner", task_runner=runner, log_prints=False)
    def judge_on_task_runner() -> dict[str, Outcome]:
        futures = {
            name: judge_task.submit(name, config, packed, chunk, max_failed)
            for name, config in specs
        }
        outcomes: dict[str, Outcome] = {}
        for name, future in futures.items():
            verdicts, tally = future.result()
            outcomes[name] = (verdicts, tally)
            if progress is not None:
                progress(name, size, size)
        return outcomes

    with _quiet_dask():
        return judge_on_task_runner()


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's INFO lines (cluster start, worker registration) are not the run's output."""
    import logging

    loggers = [logging.getLogger(name) for name in ("distributed", "prefect_dask")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _database() -> Database:
    """This worker's database, from its environment (never sent with the task)."""
    from sqlalchemy import create_engine

    from monitor.config import load_settings

    url = load_settings().database_url_value()
    if url is None:
        raise ConfigError(
            f"this Dask worker ({os.uname().nodename}) has no database URL: start it with "
            "DATABASE_URL set to the database judge-monitor uses"
        )
    if url not in _engines:
        _engines[url] = create_engine(url, pool_pre_ping=True)
    return Database(engine=_engines[url], url=url, where="dask worker", embedded=False)


@task(name="judge", task_run_name="judge-{name}", cache_policy=NONE, persist_result=False)
def judge_task(
    name: str, config: dict[str, Any], packed: bytes, chunk: int, max_failed: int | None
) -> Outcome:
    """One judge on the items, through the cache, in this worker."""
    from monitor.config import JudgeConfig
    from monitor.judges.factory import build_judge, close_judges
    from monitor.judging.cache import judge_one

    database = _database()
    judge = build_judge(JudgeConfig(**config))
    items = _unpack(pickle.loads(packed))

    async def run() -> tuple[list[Any], JudgeTally]:
        try:
            return await judge_one(database, judge, items, chunk, None, max_failed=max_failed)
        finally:
            await close_judges([judge])

    return asyncio.run(run())
