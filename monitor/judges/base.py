"""The ``Judge`` protocol every backend implements, and the verdict cache key.

A judge grades a batch of (query, result) items and returns one ``Verdict`` per item, in
order. A failed parse is a verdict (status ``invalid``); a failed endpoint is a
``JudgeError``: the caller decides what that means for the run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from monitor.config import JudgeConfig
from monitor.types import JudgeItem, Verdict

__all__ = ["Judge", "cache_key", "gather_or_raise", "item_key", "key_prefix"]

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

    async def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]: ...


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
