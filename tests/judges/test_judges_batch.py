"""The Batch API mode, end to end against the fake server's files and batches endpoints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from monitor.config import JudgeConfig
from monitor.errors import JudgeError
from monitor.judges import BATCH_DISCOUNT, BatchJudge, LLMJudge, build_judge
from monitor.testing import FakeOpenAI, Reply, default_policy
from monitor.testing.fake_openai import prompt_fields
from monitor.types import JudgeItem, Result, Verdict, VerdictStatus

ITEMS = [
    JudgeItem("red running shoes", Result("a", 1, "Red running shoes", "Light.")),
    JudgeItem("red running shoes", Result("b", 2, "Garden hose", "Long.")),
    JudgeItem("red running shoes", Result("c", 3, "", "")),
]


def run(judge: LLMJudge) -> list[Verdict]:
    async def go() -> list[Verdict]:
        try:
            return await judge.judge(ITEMS)
        finally:
            await judge.aclose()

    return asyncio.run(go())


def test_batch_mode_maps_answers_back_by_custom_id(
    server: FakeOpenAI, make_config: Callable[..., JudgeConfig]
) -> None:
    """Uploaded lines, a polled batch, and verdicts matching each item's own answer."""
    config = make_config(batch=True, price_input_per_mtok=2.0, price_output_per_mtok=8.0)
    judge = build_judge(config)
    assert isinstance(judge, BatchJudge)
    judge.poll_interval_s = 0.01
    verdicts = run(judge)
    paths = [(r.method, r.path) for r in server.requests if r.via == "http"]
    assert ("POST", "/v1/files") in paths and ("POST", "/v1/batches") in paths
    assert any(p[1].endswith("/content") for p in paths)
    assert sum(1 for p in paths if p[0] == "GET" and p[1].startswith("/v1/batches/")) >= 2
    lines = [r.body for r in server.chat_requests() if r.via == "batch"]
    assert len(lines) == 2  # the empty result needs no call
    expected = {prompt_fields(b)["result"]: default_policy(b).grade for b in lines}
    assert verdicts[0].grade == expected[ITEMS[0].result.content]
    assert verdicts[1].grade == expected[ITEMS[1].result.content]
    assert verdicts[2].status is VerdictStatus.INVALID and verdicts[2].grade is None
    for verdict in verdicts[:2]:
        full = (verdict.input_tokens * 2.0 + verdict.output_tokens * 8.0) / 1e6
        assert verdict.cost_usd == pytest.approx(full * BATCH_DISCOUNT, abs=1e-12)


def test_batch_invalid_answer_is_invalid_with_raw(
    server: FakeOpenAI, make_config: Callable[..., JudgeConfig]
) -> None:
    """A non-JSON line in the batch output becomes an INVALID verdict holding the text."""
    server.script(Reply.text("no idea"), Reply.grade_answer(1))
    judge = BatchJudge(make_config(batch=True), poll_interval_s=0.01)
    verdicts = run(judge)
    assert verdicts[0].status is VerdictStatus.INVALID and verdicts[0].raw == "no idea"
    assert verdicts[1].grade == 1


def test_batch_line_error_raises_judge_error(
    server: FakeOpenAI, make_config: Callable[..., JudgeConfig]
) -> None:
    """A request that failed inside the batch is a JudgeError, not a verdict."""
    server.script(Reply.error(500))
    with pytest.raises(JudgeError, match="item-0"):
        run(BatchJudge(make_config(batch=True), poll_interval_s=0.01))


def test_batch_request_file_is_valid_jsonl(
    server: FakeOpenAI, make_config: Callable[..., JudgeConfig]
) -> None:
    """The uploaded file has one chat-completions request per line with a custom_id."""
    run(BatchJudge(make_config(batch=True), poll_interval_s=0.01))
    upload = next(r for r in server.requests if r.path == "/v1/files")
    assert isinstance(upload.body, bytes)
    jsonl = upload.body.split(b"\r\n\r\n", 1)[1]
    rows = [json.loads(line) for line in jsonl.splitlines() if line.startswith(b"{")]
    assert [r["custom_id"] for r in rows] == ["item-0", "item-1"]
    assert all(r["url"] == "/v1/chat/completions" and r["method"] == "POST" for r in rows)


def test_cached_judging_submits_one_batch_and_reruns_pay_nothing(
    server: FakeOpenAI, make_config: Callable[..., JudgeConfig], database_url: str
) -> None:
    """Through the verdict cache a batch judge sends all misses as one batch, then none."""
    from sqlalchemy import create_engine

    from monitor.judging.ensemble import judge_with_cache
    from monitor.store.db import Database

    items = [
        JudgeItem(f"query {i}", Result(f"r{i}", 1, f"title {i}", f"text about query {i}"))
        for i in range(300)  # more than one chunk of the synchronous path
    ]
    judge = build_judge(make_config(batch=True))
    assert isinstance(judge, BatchJudge)
    judge.poll_interval_s = 0.01
    database = Database(create_engine(database_url), database_url, "test", False)
    try:
        verdicts, tallies = asyncio.run(judge_with_cache(database, [judge], items, chunk=64))
        batches = [r for r in server.requests if r.method == "POST" and r.path == "/v1/batches"]
        assert len(batches) == 1
        assert tallies[judge.name].paid == 300
        assert all(v is not None for v in verdicts[judge.name])
        _, tallies = asyncio.run(judge_with_cache(database, [judge], items, chunk=64))
        assert tallies[judge.name].cached == 300 and tallies[judge.name].paid == 0
        assert len([r for r in server.requests if r.path == "/v1/batches"]) == 1
    finally:
        database.dispose()
