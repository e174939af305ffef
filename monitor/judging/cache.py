"""Judging through the verdict cache: an identical question is never paid for twice.

For each judge, the items' cache keys are looked up in Postgres first; only the misses
go to the judge, in chunks, and every chunk's answers are stored in the cache as soon
as they arrive. A run that crashes (or an endpoint that goes down) half-way loses at
most the chunks in flight (two per judge): the rerun finds everything else in the cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.errors import JudgeError
from monitor.gc_pacing import fewer_collections
from monitor.judge_workers import movable, run_in_workers, worker_count
from monitor.judges.base import Judge, gather_or_raise, item_key, key_prefix
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import JudgeItem, Verdict, VerdictStatus

__all__ = ["Answered", "JudgeTally", "Progress", "judge_one", "judge_with_cache"]

#: Called with (judge name, items done, items total) as chunks complete.
Progress = Callable[[str, int, int], None]
#: Called with (item index, verdict) pairs as they become known: the cache's answers
#: first, then each chunk's (a judge worker streams them to its parent this way).
Answered = Callable[[list[tuple[int, Verdict]]], None]

_LOOKUP_CHUNK = 5_000
_CHUNKS_IN_FLIGHT = 2


@dataclass
class JudgeTally:
    """What one judge cost in one call of ``judge_with_cache``."""

    paid: int = 0
    cached: int = 0
    invalid: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)

    def add(self, verdict: Verdict) -> None:
        if verdict.cache_hit:
            self.cached += 1
        else:
            self.paid += 1
            self.input_tokens += verdict.input_tokens
            self.output_tokens += verdict.output_tokens
            self.cost_usd += verdict.cost_usd
        if verdict.status is VerdictStatus.INVALID:
            self.invalid += 1


def _mode(judge: Judge) -> str:
    return str(getattr(judge, "mode", "pointwise"))


def _lookup(database: Database, keys: list[str]) -> dict[str, Verdict]:
    found: dict[str, Verdict] = {}
    with database.engine.connect() as conn:
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            found.update(repo.lookup_cache(conn, keys=keys[start : start + _LOOKUP_CHUNK]))
    return found


def _store(database: Database, verdicts: list[Verdict]) -> None:
    with database.engine.begin() as conn:
        repo.store_cache(conn, verdicts=verdicts)


async def judge_one(
    database: Database,
    judge: Judge,
    items: Sequence[JudgeItem],
    chunk: int,
    progress: Progress | None,
    answered: Answered | None = None,
) -> tuple[list[Verdict | None], JudgeTally]:
    """One judge's verdicts on ``items`` through the cache, and what they cost."""
    tally = JudgeTally()
    mode = _mode(judge)
    prefix = key_prefix(judge.config, judge.prompt_version, mode)
    keys = [item_key(prefix, item) for item in items]
    cached = await asyncio.to_thread(_lookup, database, list(dict.fromkeys(keys)))
    out: list[Verdict | None] = [None] * len(items)
    todo: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        hit = cached.get(key)
        if hit is not None:
            # the stored answer, under this judge's current name
            out[index] = _renamed(hit, judge.name)
        else:
            todo.setdefault(key, []).append(index)
    hits = [(index, verdict) for index, verdict in enumerate(out) if verdict is not None]
    for _, verdict in hits:
        tally.add(verdict)
    if answered and hits:
        answered(hits)
    done = len(items) - sum(len(v) for v in todo.values())
    if progress:
        progress(judge.name, done, len(items))
    pending = list(todo.items())
    # Two chunks in flight: while one finishes its last calls and is stored, the next one
    # already fills the judge's free slots, so the endpoint never waits on a chunk boundary.
    slots = asyncio.Semaphore(_CHUNKS_IN_FLIGHT)
    failed = False

    async def run(batch: list[tuple[str, list[int]]]) -> None:
        nonlocal done, failed
        async with slots:
            if failed:
                return
            try:
                answers = await judge.judge([items[indexes[0]] for _, indexes in batch])
            except JudgeError as exc:
                if not failed:
                    tally.errors.append(str(exc))
                failed = True
                return
            await asyncio.to_thread(_store, database, answers)
        filled: list[tuple[int, Verdict]] = []
        for (_, indexes), answer in zip(batch, answers, strict=True):
            filled.append((indexes[0], answer))
            for duplicate in indexes[1:]:  # the same question twice in one run: paid once
                filled.append((duplicate, _renamed(answer, judge.name, hit=True)))
        for index, verdict in filled:
            tally.add(verdict)
            out[index] = verdict
        done += len(filled)
        if answered:
            answered(filled)
        if progress:
            progress(judge.name, done, len(items))

    # A Batch API judge takes every pending item as one batch: the provider schedules it.
    size = len(pending) if getattr(judge, "submits_batches", False) else chunk
    batches = [pending[i : i + size] for i in range(0, len(pending), max(size, 1))]
    with fewer_collections():
        await gather_or_raise([run(batch) for batch in batches])  # a storage failure stops all
    return out, tally


def _renamed(verdict: Verdict, name: str, *, hit: bool | None = None) -> Verdict:
    from dataclasses import replace

    cache_hit = verdict.cache_hit if hit is None else hit
    if verdict.judge == name and verdict.cache_hit == cache_hit:
        return verdict
    if cache_hit:
        return replace(
            verdict,
            judge=name,
            cache_hit=True,
            input_tokens=0,
            output_tokens=0,
            cost_usd=0.0,
            latency_ms=0.0,
        )
    return replace(verdict, judge=name)


async def judge_with_cache(
    database: Database,
    judges: Sequence[Judge],
    items: Sequence[JudgeItem],
    *,
    chunk: int = 256,
    progress: Progress | None = None,
    processes: int = 1,
) -> tuple[dict[str, list[Verdict | None]], dict[str, JudgeTally]]:
    """Every judge's verdict on every item, paying only for what the cache lacks.

    Judges run concurrently (each within its own limits); ``processes`` other than 1
    lets LLM judges run in worker processes (``monitor.judge_workers``: 0 = auto, N = at
    most N). A judge whose endpoint fails keeps what it answered before the failure;
    its missing verdicts are ``None`` and the failure is in its tally's ``errors``, so
    the caller decides the run's fate.
    """
    workers = worker_count(processes, judges, len(items))
    moved = [judge for judge in judges if workers and movable(judge)]
    here = [judge for judge in judges if judge not in moved]
    jobs: list[Coroutine[Any, Any, Any]] = [
        judge_one(database, judge, items, chunk, progress) for judge in here
    ]
    if moved:
        jobs.append(
            run_in_workers(database, moved, items, workers=workers, chunk=chunk, progress=progress)
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
