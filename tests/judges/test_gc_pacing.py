"""The cycle collector is paced while judges wait on their endpoints, and put back after."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from monitor.config import JudgeConfig
from monitor.judges import build_judge
from monitor.judging import gc_pacing
from monitor.judging.ensemble import judge_with_cache
from monitor.judging.gc_pacing import YOUNG_THRESHOLD, fewer_collections
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


def test_an_error_puts_back_the_threshold_and_a_higher_or_zero_one_is_kept() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("endpoint gone")
    assert gc.get_threshold() == (700, 10, 10)
    gc.set_threshold(50_000, 10, 10)  # an application that paces it further itself
    with fewer_collections():
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold() == (50_000, 10, 10)
    gc.set_threshold(0)  # or that collects only when it says so
    with fewer_collections():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0


class _Recording:
    """A lexical judge that notes the collector's threshold, and how many judges are
    inside ``fewer_collections``, while it judges. Its batches wait until the other judge
    has started too, so the two overlap."""

    def __init__(self, name: str, both_in: asyncio.Event, entered: list[str]) -> None:
        self._inner = build_judge(JudgeConfig(name=name, kind="lexical", api_key_env=None))
        self._both_in, self._entered = both_in, entered
        self.seen: list[tuple[int, int]] = []

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._inner, attribute)

    async def judge(self, items: Any) -> list[Verdict]:
        if self.name not in self._entered:
            self._entered.append(self.name)
            if len(self._entered) == 2:
                self._both_in.set()
        await asyncio.wait_for(self._both_in.wait(), timeout=10)
        self.seen.append((gc.get_threshold()[0], gc_pacing._depth))
        return list(await self._inner.judge(items))


def test_judging_paces_the_collector_and_puts_it_back(database: Database) -> None:
    items = [JudgeItem(f"red shoes {i}", Result(f"r{i}", 1, f"shoes {i}")) for i in range(10)]

    async def go() -> tuple[dict[str, list[Verdict | None]], list[_Recording]]:
        both_in, entered = asyncio.Event(), []
        judges = [_Recording(name, both_in, entered) for name in ("a", "b")]
        verdicts, _ = await judge_with_cache(database, judges, items, chunk=3)
        return verdicts, judges

    verdicts, judges = asyncio.run(go())
    assert all(v is not None for answers in verdicts.values() for v in answers)
    for judge in judges:
        assert judge.seen and {threshold for threshold, _ in judge.seen} == {YOUNG_THRESHOLD}
    # the second judge to start found the first one still inside
    assert max(depth for judge in judges for _, depth in judge.seen) == 2
    assert gc.get_threshold() == (700, 10, 10) and gc_pacing._depth == 0
