"""Every judge of the ensemble on the same items, in this process or in worker processes.

Judges run concurrently, each through the verdict cache (``monitor.judging.cache``); LLM
judges of a big run may move to worker processes (``monitor.judging.workers``). Kept
apart from the cache so the workers, which run ``judge_one``, import no module that
imports them.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any

from monitor.errors import ConfigError
from monitor.judges.base import Judge, gather_or_raise
from monitor.judging.cache import JudgeTally, Progress, judge_one, max_failed_for
from monitor.judging.workers import movable, run_in_workers, worker_count
from monitor.store.db import Database
from monitor.types import JudgeItem, Verdict

__all__ = ["judge_with_cache"]


async def judge_with_cache(
    database: Database,
    judges: Sequence[Judge],
    items: Sequence[JudgeItem],
    *,
    chunk: int = 256,
    progress: Progress | None = None,
    processes: int = 1,
    max_failed_share: float | None = None,
    runner: str = "local",
    dask_address: str | None = None,
) -> tuple[dict[str, list[Verdict | None]], dict[str, JudgeTally]]:
    """Every judge's verdict on every item, paying only for what the cache lacks.

    Judges run concurrently (each within its own limits); ``processes`` other than 1
    lets LLM judges run in worker processes (``monitor.judging.workers``: 0 = auto, N = at
    most N). An item whose call failed (beyond its retries) has no verdict (``None``)
    and is counted in its judge's tally (``failed``, with example causes), so the caller
    decides the run's fate; a judge that failed as a whole (its worker died) has its
    error in the tally's ``errors``. A judge whose failed calls pass
    ``max_failed_share`` of the items stops asking (None: it asks every item).

    ``runner`` ``"dask"`` or ``"process-pool"`` sends the movable judges to that Prefect
    task runner instead (``monitor.judging.task_runners``: the Dask cluster at
    ``dask_address``, or a local one), one task per judge.
    """
    if runner != "local":
        return await _on_task_runner(
            database, judges, items, chunk, progress, runner, dask_address, max_failed_share
        )
    workers = worker_count(processes, judges, len(items))
    moved = [judge for judge in judges if workers and movable(judge)]
    here = [judge for judge in judges if judge not in moved]
    max_failed = max_failed_for(max_failed_share, len(items))
    jobs: list[Coroutine[Any, Any, Any]] = [
        judge_one(database, judge, items, chunk, progress, max_failed=max_failed) for judge in here
    ]
    if moved:
        jobs.append(
            run_in_workers(
                database,
                moved,
                items,
                workers=workers,
                chunk=chunk,
                progress=progress,
                max_failed=max_failed,
            )
        )
    # a storage failure stops the workers and the other judges, and is raised as it is
    done = await gather_or_raise(jobs)
    by_name = dict(zip((judge.name for judge in here), done, strict=False))
    if moved:
        by_name.update(done[-1])
    results = [by_name[judge.name] for judge in judges]
    verdicts = {judge.name: out for judge, (out, _) in zip(judges, results, strict=True)}
    tallies = {judge.name: tally for judge, (_, tally) in zip(judges, results, strict=True)}
    return verdicts, tallies


async def _on_task_runner(
    database: Database,
    judges: Sequence[Judge],
    items: Sequence[JudgeItem],
    chunk: int,
    progress: Progress | None,
    runner: str,
    address: str | None,
    max_failed_share: float | None,
) -> tuple[dict[str, list[Verdict | None]], dict[str, JudgeTally]]:
    """``judge_with_cache`` with the movable judges as Prefect tasks on ``runner``."""
    from monitor.judging.task_runners import TaskRunnerKind, run_as_tasks

    if runner not in ("dask", "process-pool"):
        raise ConfigError(f"judge_runner {runner!r}: use local, dask or process-pool")
    moved = [judge for judge in judges if movable(judge)]
    here = [judge for judge in judges if judge not in moved]
    max_failed = max_failed_for(max_failed_share, len(items))
    jobs: list[Coroutine[Any, Any, Any]] = [
        judge_one(database, judge, items, chunk, progress, max_failed=max_failed) for judge in here
    ]
    if moved:
        kind: TaskRunnerKind = "dask" if runner == "dask" else "process-pool"
        jobs.append(
            run_as_tasks(
                database,
                moved,
                items,
                kind=kind,
                address=address,
                chunk=chunk,
                progress=progress,
                max_failed=max_failed,
            )
        )
    done = await gather_or_raise(jobs)
    by_name = dict(zip((judge.name for judge in here), done, strict=False))
    if moved:
        by_name.update(done[-1])
    verdicts = {judge.name: by_name[judge.name][0] for judge in judges}
    tallies = {judge.name: by_name[judge.name][1] for judge in judges}
    return verdicts, tallies
