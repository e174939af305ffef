"""Pairwise comparison, asked in both orders to expose position bias."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from monitor.config import JudgeConfig
from monitor.judges import LLMJudge
from monitor.testing import FakeOpenAI, prefer_first
from monitor.testing.fake_openai import prompt_fields
from monitor.types import PairwiseVerdict, Result

GOOD = Result("good", 1, "Red running shoes", "Lightweight red running shoes.")
BAD = Result("bad", 2, "Garden hose", "Thirty metres of hose.")


def compare(judge: LLMJudge, a: Result, b: Result) -> PairwiseVerdict:
    async def go() -> PairwiseVerdict:
        try:
            return await judge.judge_pairwise("red running shoes", a, b)
        finally:
            await judge.aclose()

    return asyncio.run(go())


def test_consistent_preference_wins(
    server: FakeOpenAI, make_config: Callable[..., JudgeConfig]
) -> None:
    """A judge preferring the same result in both orders names it the winner."""
    verdict = compare(LLMJudge(make_config()), BAD, GOOD)
    assert (verdict.first, verdict.second, verdict.winner) == ("b", "b", "b")
    assert verdict.consistent and verdict.b_id == "good"
    shown_first = [prompt_fields(r.body)["result_a"] for r in server.chat_requests()]
    assert sorted(shown_first) == sorted([GOOD.content, BAD.content])


def test_position_biased_judge_counts_as_tie(make_config: Callable[..., JudgeConfig]) -> None:
    """A judge that always prefers what is shown first is inconsistent, hence a tie."""
    with FakeOpenAI(policy=prefer_first) as biased:
        verdict = compare(LLMJudge(make_config(base_url=biased.base_url)), GOOD, BAD)
        assert len(biased.chat_requests()) == 2
    assert (verdict.first, verdict.second) == ("a", "b")
    assert verdict.winner == "tie" and not verdict.consistent


def test_pairwise_cost_sums_both_orders(
    server: FakeOpenAI, make_config: Callable[..., JudgeConfig]
) -> None:
    """Tokens and cost cover both calls of the pair."""
    verdict = compare(LLMJudge(make_config(price_input_per_mtok=1.0)), GOOD, BAD)
    assert verdict.input_tokens > 0
    assert verdict.cost_usd == verdict.input_tokens / 1e6
    assert len(server.chat_requests()) == 2
    assert all(
        r.body["response_format"]["json_schema"]["name"] == "pairwise_preference"
        for r in server.chat_requests()
    )
