"""The ``Judge`` protocol every backend implements, its capabilities, and the cache key.

A judge grades a batch of (query, result) items and returns one ``Verdict`` per item, in
order. A failed parse is a verdict (status ``invalid``); a failed endpoint is a
``JudgeError``: the caller decides what that means for the run.

``Judge`` carries what every caller needs (its identity, ``mode``, ``judge``,
``aclose``). What only some judges can do is a small runtime-checkable protocol of its
own, so a caller asks ``isinstance(judge, PairwiseJudge)`` and never for a class:

- ``PairwiseJudge``: compares two results for a query (``judge_pairwise``);
- ``BatchSubmitter``: takes every pending item as one batch (the Batch API), not chunks;
- ``Scorer``: a local judge with a continuous score and cut points that can be refitted;
- ``Portable``: can be rebuilt from its configuration in a judge worker process.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from monitor.config import JudgeConfig
from monitor.types import JudgeItem, PairwiseVerdict, Result, Verdict

__all__ = [
    "BatchSubmitter",
    "Judge",
    "PairwiseJudge",
    "Portable",
    "Scorer",
    "cache_key",
    "gather_or_raise",
    "item_key",
    "key_prefix",
]

T = TypeVar("T")


@runtime_checkable
class Judge(Protocol):
    """Grades items on the 0–3 scale; holds no state between calls besides limits."""

    @property
    def name(self) -> str: ...

    @property
    def config(self) -> JudgeConfig: ...

    @property
    def prompt_version(self) -> str: ...

    @property
    def mode(self) -> str:
        """``pointwise`` or ``reference``: part of the cache key."""
        ...

    async def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]: ...

    async def aclose(self) -> None:
        """Release what the judge holds (HTTP clients) on the loop that used it."""
        ...


@runtime_checkable
class PairwiseJudge(Judge, Protocol):
    """A judge that can say which of two results serves a query better."""

    async def judge_pairwise(self, query: str, a: Result, b: Result) -> PairwiseVerdict: ...


@runtime_checkable
class BatchSubmitter(Judge, Protocol):
    """A judge that takes every pending item in one call: the provider schedules it."""

    submits_batches: bool


@runtime_checkable
class Scorer(Judge, Protocol):
    """A local judge: a continuous score per item, mapped to 0–3 by cut points."""

    def scores(self, items: Sequence[JudgeItem]) -> list[float]: ...

    def with_thresholds(self, thresholds: Sequence[float]) -> Scorer:
        """The same judge with other cut points (what ``calibrate`` fits)."""
        ...


@runtime_checkable
class Portable(Judge, Protocol):
    """A judge that a judge worker process can rebuild from ``config`` alone."""

    @property
    def portable(self) -> bool:
        """False when it holds what a config cannot carry (an injected client)."""
        ...


def cache_key(
    config: JudgeConfig, prompt_version: str, item: JudgeItem, mode: str = "pointwise"
) -> str:
    """The verdict cache's key: what decides the answer, and nothing that does not.

    The judge's identity (model, temperature, seed, rubric… but not weight, limits or
    prices), the prompt version, the mode, and the exact text judged. Hex sha256.
    """
    return item_key(key_prefix(config, prompt_version, mode), item)


def key_prefix(config: JudgeConfig, prompt_version: str, mode: str = "pointwise") -> list[str]:
    """The judge's part of ``cache_key``, worked out once for all the items it judges."""
    return [config.identity_hash(), prompt_version, mode]


def item_key(prefix: list[str], item: JudgeItem) -> str:
    """``cache_key`` of ``item`` for the judge whose ``key_prefix`` is ``prefix``."""
    blob = json.dumps(
        [*prefix, item.query, item.result.content, item.reference], ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


async def gather_or_raise(coroutines: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run all; on the first failure cancel the rest and raise that failure itself."""
    tasks: list[asyncio.Task[T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except BaseExceptionGroup as failures:
        first = failures.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [task.result() for task in tasks]
