"""Judging through the verdict cache: an identical question is never paid for twice.

For each judge, the items' cache keys are looked up in Postgres first; only the misses
go to the judge, in chunks (two in flight), and every answer is stored in the cache soon
after it arrives: the judge reports each verdict as it comes (``judge_each``) and the
answers are flushed to the cache in small batches, every ``FLUSH_ANSWERS`` answers or
every ``FLUSH_S`` seconds, whichever comes first. A run that dies half-way (``kill -9``,
a lost machine, an endpoint that goes down) loses at most the calls in flight and the
last half second of answers: the rerun finds everything else in the cache.

A *failed call* (the endpoint down or timing out, 5xx or 429 beyond the retries, a body
that is not a chat completion) is not an answer: nothing is stored or cached, the item's
verdict stays None, its cause is counted in the judge's tally (``failed``, ``failures``)
and the judge goes on with the other items; a rerun asks it again. Past ``max_failed``
failed calls the judge asks nothing more: the run fails anyway, and a dead endpoint is
not worth a retry cycle per item.

Only valid answers are served from the cache. An ``invalid`` answer (no grade on the
scale, even after the repair round) is stored like any other, in the day's verdicts
(the judge's ``invalid_rate``) and in the cache (a record of what was paid for), but it is
*never served* from the cache: a later day or a rerun asks again, and the new answer
replaces it there. Never rather than a short TTL, because an invalid answer is most often
the endpoint's fault (a broken proxy, a model or template change) that the operator
fixes and then reruns the day: any TTL would serve the broken answer exactly then. When
the invalid answer is the model's own (a hard item), asking again costs a call per
invalid item per run, about the judge's invalid rate, which is small, bounded and shown
on the dashboard; a TTL would only trade that for a window of stale answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from monitor.errors import JudgeError
from monitor.judges.base import BatchSubmitter, Judge, gather_or_raise, item_key, key_prefix
from monitor.judging.gc_pacing import fewer_collections
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import JudgeItem, Verdict, VerdictStatus

__all__ = [
    "FLUSH_ANSWERS",
    "FLUSH_S",
    "Answered",
    "JudgeTally",
    "Progress",
    "StreamingJudge",
    "judge_one",
    "max_failed_for",
]

#: Called with (judge name, items done, items total) as answers are stored.
Progress = Callable[[str, int, int], None]
#: Called with (item index, verdict) pairs as they become known: the cache's answers
#: first, then each flushed batch's (a judge worker streams them to its parent this way).
Answered = Callable[[list[tuple[int, Verdict]]], None]

#: Answers are flushed to the cache once this many wait...
FLUSH_ANSWERS = 256
#: ...or this many seconds after the last flush, whichever comes first.
FLUSH_S = 0.5
_CHUNKS_IN_FLIGHT = 2
#: Distinct causes of failed calls kept per judge, as examples.
_EXAMPLES = 3


@runtime_checkable
class StreamingJudge(Protocol):
    """A judge that reports each item's verdict, or failed call, as soon as it is known
    (``LLMJudge.judge_each``); others are asked a chunk at a time with ``judge``."""

    async def judge_each(
        self,
        items: Sequence[JudgeItem],
        answered: Callable[[int, Verdict], None],
        failed: Callable[[int, str], None],
        *,
        stop: Callable[[], bool] | None = None,
    ) -> None: ...


@dataclass
class JudgeTally:
    """What one judge cost in one call of ``judge_with_cache``.

    ``failed`` counts the items left without a verdict because their call failed (or was
    not made once the judge gave up: ``not_asked`` of them), ``failures`` a few of the
    causes. ``errors`` are failures of the judge as a whole (its worker process died):
    they fail the run.
    """

    paid: int = 0
    cached: int = 0
    invalid: int = 0
    failed: int = 0
    not_asked: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

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

    def add_failure(self, cause: str, items: int = 1) -> None:
        """``items`` left without a verdict by a failed call with this one-line cause."""
        self.failed += items
        if cause not in self.failures and len(self.failures) < _EXAMPLES:
            self.failures.append(cause)


def max_failed_for(share: float | None, items: int) -> int | None:
    """The most failed calls a judge may have on ``items`` items within ``share``."""
    return None if share is None else int(share * items + 1e-9)


def _lookup(database: Database, keys: list[str]) -> dict[str, Verdict]:
    with database.engine.connect() as conn:
        return repo.lookup_cache(conn, keys=keys)


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
    *,
    max_failed: int | None = None,
) -> tuple[list[Verdict | None], JudgeTally]:
    """One judge's verdicts on ``items`` through the cache, and what they cost.

    An item whose call failed has no verdict (None) and is counted in the tally's
    ``failed``. Once more than ``max_failed`` calls failed, nothing more is asked (the
    items left are failed too); None asks every item whatever fails.
    """
    tally = JudgeTally()
    mode = judge.mode
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
    reported: set[str] = set()  # keys answered or failed
    unflushed: list[tuple[list[int], Verdict]] = []
    wake = asyncio.Event()
    finished = gave_up = False

    def take(key: str, indexes: list[int], verdict: Verdict) -> None:
        reported.add(key)
        unflushed.append((indexes, verdict))
        if len(unflushed) >= FLUSH_ANSWERS:
            wake.set()

    def fail(key: str, indexes: list[int], cause: str) -> None:
        nonlocal done, gave_up
        reported.add(key)
        tally.add_failure(cause, len(indexes))
        done += len(indexes)
        if max_failed is not None and tally.failed > max_failed:
            gave_up = True

    def publish(batch: list[tuple[list[int], Verdict]]) -> None:
        nonlocal done
        filled: list[tuple[int, Verdict]] = []
        for indexes, answer in batch:
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

    async def flush() -> None:
        batch = unflushed[:]
        unflushed.clear()
        await asyncio.to_thread(_store, database, [answer for _, answer in batch])
        publish(batch)  # stored first: what a worker sends its parent is in the cache

    async def flushing() -> None:
        while not (finished and not unflushed):
            if not finished and len(unflushed) < FLUSH_ANSWERS:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), FLUSH_S)
            wake.clear()
            if unflushed:
                await flush()

    streams = isinstance(judge, StreamingJudge)
    # Two chunks in flight: while one finishes its last calls, the next one already
    # fills the judge's free slots, so the endpoint never waits on a chunk boundary.
    slots = asyncio.Semaphore(_CHUNKS_IN_FLIGHT)

    async def run(batch: list[tuple[str, list[int]]]) -> None:
        async with slots:
            if gave_up:
                return
            asked = [items[indexes[0]] for _, indexes in batch]
            if streams:
                assert isinstance(judge, StreamingJudge)
                await judge.judge_each(
                    asked,
                    lambda i, verdict: take(*batch[i], verdict),
                    lambda i, cause: fail(*batch[i], cause),
                    stop=lambda: gave_up,
                )
                return
            try:
                answers = await judge.judge(asked)
            except JudgeError as exc:
                for key, indexes in batch:
                    fail(key, indexes, str(exc))
                return
            for (key, indexes), answer in zip(batch, answers, strict=True):
                take(key, indexes, answer)

    async def judging(batches: list[list[tuple[str, list[int]]]]) -> None:
        nonlocal finished
        try:
            await gather_or_raise([run(batch) for batch in batches])
        finally:
            finished = True
            wake.set()

    # A Batch API judge takes every pending item as one batch: the provider schedules it.
    whole = isinstance(judge, BatchSubmitter) and judge.submits_batches
    size = len(pending) if whole else chunk
    batches = [pending[i : i + size] for i in range(0, len(pending), max(size, 1))]
    with fewer_collections():
        try:
            # a storage failure stops the judging, a judging failure the flushing
            await gather_or_raise([judging(batches), flushing()])
        except BaseException:
            # interrupted or failed: keep what was answered but not yet flushed
            if unflushed:
                with contextlib.suppress(Exception):
                    _store(database, [answer for _, answer in unflushed])
            raise
    unanswered = [(key, indexes) for key, indexes in pending if key not in reported]
    if unanswered:  # not asked once the judge gave up (or, never silently, left out)
        cause = (
            f"judge {judge.name!r}: not asked: the judge stopped after {tally.failed} "
            f"failed calls (more than the {max_failed} a run may have)"
            if gave_up
            else f"judge {judge.name!r}: gave no answer and no error"
        )
        for key, indexes in unanswered:
            fail(key, indexes, cause)
            tally.not_asked += len(indexes) if gave_up else 0
        if progress:
            progress(judge.name, done, len(items))
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
