"""The ``Judge`` protocol every backend implements, and the verdict cache key.

A judge grades a batch of (query, result) items and returns one ``Verdict`` per item, in
order. A failed parse is a verdict (status ``invalid``); a failed endpoint is a
``JudgeError``: the caller decides what that means for the run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from monitor.config import JudgeConfig
from monitor.types import JudgeItem, Verdict

__all__ = ["Judge", "cache_key"]


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
    blob = json.dumps(
        [
            config.identity_hash(),
            prompt_version,
            mode,
            item.query,
            item.result.content,
            item.reference,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()
