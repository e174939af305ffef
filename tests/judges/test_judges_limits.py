"""The client-side rate limiter keeps a rate-limited endpoint from refusing calls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from monitor.config import JudgeConfig
from monitor.errors import ConfigError, JudgeError
from monitor.judges import LLMJudge, RateLimiter
from monitor.testing import FakeOpenAI
from monitor.types import JudgeItem, Result

ITEMS = [JudgeItem(f"query {i}", Result(str(i), 1, "", f"result {i}")) for i in range(40)]
RPM = 1200  # 20 per second, so 40 calls take about two seconds


def run(judge: LLMJudge) -> None:
    async def go() -> None:
        try:
            await judge.judge(ITEMS)
        finally:
            await judge.aclose()

    asyncio.run(go())


def test_limiter_keeps_429_share_under_five_percent(
    make_config: Callable[..., JudgeConfig],
) -> None:
    """With rpm set, a burst of 40 calls against an endpoint enforcing that rpm sees <5% 429s."""
    with FakeOpenAI(rpm_limit=RPM, rpm_burst=5) as limited:
        config = make_config(base_url=limited.base_url, rpm=RPM, max_concurrency=64)
        run(LLMJudge(config))
        refused = limited.status_counts[429]
        assert limited.status_counts[200] == len(ITEMS)
        assert refused / limited.total < 0.05


def test_without_limiter_the_same_burst_is_refused(
    make_config: Callable[..., JudgeConfig],
) -> None:
    """The control: no rpm and no retries, the burst hits 429s and fails with JudgeError."""
    with FakeOpenAI(rpm_limit=RPM, rpm_burst=5) as limited:
        config = make_config(base_url=limited.base_url, max_concurrency=64, max_retries=0)
        with pytest.raises(JudgeError, match="429"):
            run(LLMJudge(config))
        assert limited.status_counts[429] / limited.total > 0.05


def test_limiter_serves_requests_in_order_of_arrival() -> None:
    """Waiters acquire in FIFO order, so no call starves behind later ones."""
    limiter = RateLimiter(per_minute=6000)
    order: list[int] = []

    async def take(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    async def go() -> None:
        await asyncio.gather(*(take(i) for i in range(10)))

    asyncio.run(go())
    assert order == list(range(10))


def test_limiter_rejects_non_positive_rates() -> None:
    """A zero or negative rate is a ConfigError, not a division by zero later."""
    with pytest.raises(ConfigError, match="positive"):
        RateLimiter(per_minute=0)
