"""The cycle collector is paced while judges wait on their endpoints, and put back after."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from monitor import gc_pacing
from monitor.config import JudgeConfig
from monitor.gc_pacing import YOUNG_THRESHOLD, fewer_collections
from monitor.judges import build_judge
from monitor.judging import judge_with_cache
from monitor.store.db import Database
from monitor.types import JudgeItem, Result, Verdict


@pytest.fixture(autouse=True)
def default_threshold() -> Iterator[tuple[int, int, int]]:
    """Python's defaults during each test, whatever ran before; the original after."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*before)


def test_overlapping_users_put_back_the_threshold_however_they_leave() -> None:
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    second.__enter__()
    first.__exit__(None, None, None)  # the first one in leaves first
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # the second still judges
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10) and gc_pacing._depth == 0


def test_an_error_puts_back_the_threshold_and_a_higher_one_is_kept() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("endpoint gone")
    assert gc.get_threshold() == (700, 10, 10)
    gc.set_threshold(50_000, 10, 10)  # an application that paces it further itself
    with fewer_collections():
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold() == (50_000, 10, 10)


class _Recording:
    """A lexical judge that notes the collector's threshold while it judges."""

    def __init__(self, name: str) -> None:
        self._inner = build_judge(JudgeConfig(name=name, kind="lexical", api_key_env=None))
        self.thresholds: list[int] = []

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._inner, attribute)

    async def judge(self, items: Any) -> list[Verdict]:
        self.thresholds.append(gc.get_threshold()[0])
        await asyncio.sleep(0)  # the other judge runs meanwhile
        return list(await self._inner.judge(items))


def test_judging_paces_the_collector_and_puts_it_back(database: Database) -> None:
    items = [JudgeItem(f"red shoes {i}", Result(f"r{i}", 1, f"shoes {i}")) for i in range(10)]
    judges = [_Recording("a"), _Recording("b")]
    verdicts, _ = asyncio.run(judge_with_cache(database, judges, items, chunk=3))
    assert all(v is not None for answers in verdicts.values() for v in answers)
    for judge in judges:
        assert judge.thresholds and set(judge.thresholds) == {YOUNG_THRESHOLD}
    assert gc.get_threshold() == (700, 10, 10)
