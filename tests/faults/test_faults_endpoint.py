"""Endpoint faults are failed calls, never verdicts: retried, counted, never cached.

Each fault of the issue's table is injected at the OpenAI-protocol test server (an HTML
page with status 200, a truncated JSON body, a connection closed mid-response, an answer
slower than the timeout, 5xx and 429 beyond the retries, a port nobody listens on). The
call is retried; once the retries are spent the item has no verdict, its one-line cause
names the judge, the endpoint and what really happened, nothing of it is cached, and the
next run asks exactly the items that failed. What the server billed (``server.paid``:
completions delivered whole, by prompt) shows that nothing is ever paid twice.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from fault_setup import (
    DAY,
    KEY,
    LEXICAL,
    closed_port,
    day_settings,
    llm_config,
    run_row,
    scalar,
)

from monitor.config import JudgeConfig
from monitor.errors import JudgeError
from monitor.judges.batch import BatchJudge
from monitor.judges.llm import LLMJudge
from monitor.judging.cache import JudgeTally
from monitor.judging.ensemble import judge_with_cache
from monitor.pipeline.day import run_day
from monitor.store.db import Database
from monitor.testing import FakeOpenAI, Reply
from monitor.testing.fake_openai import default_policy, prompt_fields
from monitor.types import JudgeItem, Result, Verdict, VerdictStatus

QUERY = "waterproof trail shoes"
ITEMS = [
    JudgeItem(QUERY, Result("r1", 1, "Trail shoes", "waterproof trail running shoes")),
    JudgeItem(QUERY, Result("r2", 2, "Sandals", "open beach sandals")),
    JudgeItem(QUERY, Result("r3", 3, "Boots", "waterproof hiking boots")),
]
Outcome = tuple[list[Verdict | None], JudgeTally]

#: fault -> (what the server does for one item's two attempts, the cause in the message)
FAULTS: dict[str, tuple[list[Reply], str]] = {
    "html_200": ([Reply.html()] * 2, "answered HTTP 200 with an HTML page, not JSON"),
    "truncated_json": ([Reply.truncated()] * 2, "sent a truncated or malformed JSON body"),
    "closed_mid_response": ([Reply.hang_up()] * 2, "closed the connection mid-response"),
    "slow": ([Reply.slow(2.0)] * 2, "did not answer within 0.3s"),
    "http_500": ([Reply.error(500, retry_after=0.01)] * 2, "answered HTTP 500"),
    "http_429": ([Reply.error(429, retry_after=0.01)] * 2, "answered HTTP 429"),
}


def invalid_when(broken: Callable[[str], bool]) -> Callable[[dict[str, Any]], Reply]:
    """A policy answering prose (no grade, repair included) for results ``broken`` picks."""

    def policy(body: dict[str, Any]) -> Reply:
        if broken(prompt_fields(body).get("result", "")):
            return Reply.text("I would rather not grade this one.")
        return default_policy(body)

    return policy


def judge_all(database: Database, config: JudgeConfig, items: Sequence[JudgeItem]) -> Outcome:
    judge = LLMJudge(config)

    async def go() -> tuple[dict[str, list[Verdict | None]], dict[str, JudgeTally]]:
        try:
            return await judge_with_cache(database, [judge], items)
        finally:
            await judge.aclose()

    verdicts, tallies = asyncio.run(go())
    return verdicts[config.name], tallies[config.name]


def assert_one_line_cause(message: str, base_url: str, cause: str) -> None:
    """The message is one line naming the judge, the endpoint and the cause, no secret."""
    assert "\n" not in message
    assert message.startswith(f"judge 'gpt': endpoint {base_url}: "), message
    assert cause in message and "(after 1 retry)" in message
    assert KEY not in message and QUERY not in message


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_beyond_the_retries_is_a_failed_call_and_asked_again(
    database: Database, server: FakeOpenAI, fault: str
) -> None:
    """The first item meets the fault on both attempts: it has no verdict, one failed call
    with its cause, nothing cached; the others are answered; the next run pays only it."""
    replies, cause = FAULTS[fault]
    config = llm_config(server.base_url, max_concurrency=1, timeout_s=0.3)
    server.script(*replies)
    verdicts, tally = judge_all(database, config, ITEMS)
    assert verdicts[0] is None
    assert all(v is not None and v.status is VerdictStatus.OK for v in verdicts[1:])
    assert (tally.failed, tally.invalid, tally.paid) == (1, 0, 2)
    (message,) = tally.failures
    assert_one_line_cause(message, server.base_url, cause)
    assert scalar(database, "SELECT count(*) FROM verdict_cache") == 2
    assert server.paid_calls == server.distinct_paid == 2  # the fault was never billed

    verdicts, tally = judge_all(database, config, ITEMS)
    assert all(v is not None and v.status is VerdictStatus.OK for v in verdicts)
    assert (tally.failed, tally.paid, tally.cached) == (0, 1, 2)
    assert server.paid_calls == server.distinct_paid == 3 and server.paid_twice == 0


def test_in_a_judge_worker_a_failed_call_comes_back_counted_with_its_cause(
    database: Database, server: FakeOpenAI
) -> None:
    """A judge in a worker process: the failed item has no verdict, the tally the worker
    sends back counts it with its cause, and what was answered is in the cache."""
    config = llm_config(server.base_url, max_concurrency=1)
    server.script(*[Reply.error(500, retry_after=0.01)] * 2)
    judge = LLMJudge(config)

    async def go() -> tuple[dict[str, list[Verdict | None]], dict[str, JudgeTally]]:
        try:
            return await judge_with_cache(database, [judge], ITEMS, processes=2)
        finally:
            await judge.aclose()

    verdicts, tallies = asyncio.run(go())
    assert verdicts["gpt"][0] is None and all(v is not None for v in verdicts["gpt"][1:])
    (message,) = tallies["gpt"].failures
    assert tallies["gpt"].failed == 1 and tallies["gpt"].paid == 2
    assert_one_line_cause(message, server.base_url, "answered HTTP 500")
    assert scalar(database, "SELECT count(*) FROM verdict_cache") == 2


def test_connection_refused_is_named_as_such_and_quickly(database: Database) -> None:
    """A port nobody listens on: every item is a failed call, "connection refused" (not a
    timeout), within a few seconds; once the endpoint is up, the rerun pays each once."""
    port = closed_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    config = llm_config(base_url, max_concurrency=1)
    started = time.monotonic()
    verdicts, tally = judge_all(database, config, ITEMS)
    assert time.monotonic() - started < 5.0
    assert verdicts == [None, None, None] and tally.failed == 3 and tally.paid == 0
    (message,) = tally.failures
    assert_one_line_cause(message, base_url, "connection refused")
    assert "did not answer" not in message
    with FakeOpenAI(port=port) as back:
        verdicts, tally = judge_all(database, config, ITEMS)
        assert all(v is not None for v in verdicts) and tally.failed == 0
        assert back.paid_calls == back.distinct_paid == 3


def test_invalid_answers_are_stored_but_never_served_from_the_cache(
    database: Database, server: FakeOpenAI
) -> None:
    """An answer invalid even after the repair is a verdict (invalid), stored, but the next
    run asks it again, and only it; the valid answer then replaces it in the cache."""
    config = llm_config(server.base_url)
    server.policy = invalid_when(lambda result: "sandals" in result)
    verdicts, tally = judge_all(database, config, ITEMS)
    second = verdicts[1]
    assert second is not None and second.status is VerdictStatus.INVALID and second.grade is None
    assert tally.invalid == 1 and tally.failed == 0
    status = "SELECT count(*) FROM verdict_cache WHERE status = :s"
    assert scalar(database, status, s="invalid") == 1

    server.policy = default_policy  # the endpoint is fixed
    calls = server.paid_calls
    verdicts, tally = judge_all(database, config, ITEMS)
    assert server.paid_calls - calls == 1 and (tally.paid, tally.cached) == (1, 2)
    assert all(v is not None and v.status is VerdictStatus.OK for v in verdicts)
    assert scalar(database, status, s="ok") == 3 and scalar(database, status, s="invalid") == 0

    calls = server.paid_calls
    _, tally = judge_all(database, config, ITEMS)
    assert server.paid_calls == calls and tally.cached == 3


# -- a day's fate ----------------------------------------------------------------------

#: fault -> (a way to break the endpoint for every call, the cause in the message)
PERSISTENT: dict[str, tuple[Callable[[FakeOpenAI], None], str]] = {
    "html_200": (lambda s: s.fail_every(1, Reply.html()), "an HTML page"),
    "truncated_json": (lambda s: s.fail_every(1, Reply.truncated()), "truncated"),
    "http_503": (lambda s: s.fail_every(1, Reply.error(503, retry_after=0.01)), "HTTP 503"),
}


def items_of_day(database: Database) -> int:
    return int(scalar(database, "SELECT count(*) FROM ensemble_grades"))


def verdict_count(database: Database, judge: str, status: str | None = None) -> int:
    sql = "SELECT count(*) FROM verdicts v JOIN judges j ON j.id = v.judge_id WHERE j.name = :n"
    if status is None:
        return int(scalar(database, sql, n=judge))
    return int(scalar(database, sql + " AND v.status = :s", n=judge, s=status))


@pytest.mark.parametrize("fault", sorted(PERSISTENT))
def test_a_persistent_fault_fails_the_day_in_one_line_and_poisons_nothing(
    database: Database, server: FakeOpenAI, fault: str
) -> None:
    """Every call breaks: the day fails with one line naming judge, endpoint and cause;
    not one invalid verdict, nothing of the LLM judge cached, the local judge's verdicts
    stored; the judge stops asking once the day is lost. Fixed, the rerun completes and
    pays each question once."""
    breaks, cause = PERSISTENT[fault]
    breaks(server)
    settings = day_settings([llm_config(server.base_url), LEXICAL])
    with pytest.raises(JudgeError) as failure:
        run_day(database, settings, DAY)
    message = str(failure.value)
    assert "\n" not in message and cause in message
    assert message.startswith(f"judge 'gpt': {30} of 30 calls failed")
    assert f"endpoint {server.base_url}: " in message
    assert KEY not in message
    items = items_of_day(database)
    row = run_row(database)
    assert row.status == "failed" and cause in row.error and "judge 'gpt'" in row.error
    assert row.counts["failed_calls"] == items and row.counts["partial_ensemble"] == items
    assert verdict_count(database, "gpt") == 0 and verdict_count(database, "lex") == items
    assert scalar(database, "SELECT count(*) FROM verdicts WHERE status = 'invalid'") == 0
    assert scalar(database, "SELECT count(*) FROM verdict_cache WHERE judge_name = 'gpt'") == 0
    # a day lost is not worth a retry cycle per item: 2 failures allowed on 30, 4 in flight
    assert server.received <= 2 * (int(0.05 * items) + 1 + 4)
    assert server.paid_calls == 0

    server.fail_every(1, None)
    outcome = run_day(database, settings, DAY)
    assert outcome.status == "completed" and outcome.counts["failed_calls"] == 0
    assert verdict_count(database, "gpt", "ok") == items
    assert server.paid_calls == server.distinct_paid == items and server.paid_twice == 0


def test_connection_refused_fails_the_day_naming_the_cause(database: Database) -> None:
    """The endpoint down: the day fails with "connection refused" (not a timeout) in one
    line; the rerun against the endpoint back up completes."""
    port = closed_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    settings = day_settings([llm_config(base_url), LEXICAL])
    with pytest.raises(JudgeError, match="connection refused") as failure:
        run_day(database, settings, DAY)
    assert "did not answer" not in str(failure.value)
    assert run_row(database).status == "failed"
    with FakeOpenAI(port=port) as back:
        assert run_day(database, settings, DAY).status == "completed"
        assert back.paid_calls == back.distinct_paid == items_of_day(database)


def test_a_few_failed_calls_leave_the_day_degraded_and_the_rerun_fills_them(
    database: Database, server: FakeOpenAI
) -> None:
    """One item of 30 fails (within the 5% allowed): the day completes ``degraded``, the
    item has no LLM verdict, its ensemble grade is the local judge's alone (n_judges 1,
    not averaged with a 0); the rerun asks that one item only and completes."""
    server.script(*[Reply.error(500, retry_after=0.01)] * 2)
    settings = day_settings([llm_config(server.base_url, max_concurrency=1), LEXICAL])
    outcome = run_day(database, settings, DAY)
    items = items_of_day(database)
    assert outcome.status == "degraded" and outcome.counts["failed_calls"] == 1
    assert outcome.error is not None and "1 of 30 calls failed" in outcome.error
    assert "HTTP 500" in outcome.error and "\n" not in outcome.error
    assert run_row(database).status == "degraded"
    assert verdict_count(database, "gpt") == items - 1
    assert outcome.counts["partial_ensemble"] >= 1
    lonely = (
        "SELECT count(*) FROM ensemble_grades e JOIN verdicts v ON v.sample_id = e.sample_id "
        "AND v.result_id = e.result_id JOIN judges j ON j.id = v.judge_id AND j.name = 'lex' "
        "WHERE e.n_judges = 1 AND e.grade = v.grade AND NOT EXISTS (SELECT 1 FROM verdicts g "
        "JOIN judges gj ON gj.id = g.judge_id AND gj.name = 'gpt' "
        "WHERE g.sample_id = e.sample_id AND g.result_id = e.result_id)"
    )
    assert scalar(database, lonely) == 1

    paid = server.paid_calls
    again = run_day(database, settings, DAY)
    assert again.status == "completed" and again.error is None
    assert server.paid_calls - paid == 1 and again.counts["judged"] == 1
    assert verdict_count(database, "gpt") == items
    assert scalar(database, "SELECT min(n_judges) FROM ensemble_grades") == 2
    assert server.paid_twice == 0


def test_every_other_call_failing_is_retried_and_the_day_completes(
    database: Database, server: FakeOpenAI
) -> None:
    """Every second request answers 500: the retries absorb it, the day completes with
    every item judged, each question paid once."""
    server.fail_every(2, Reply.error(500, retry_after=0.01))
    settings = day_settings([llm_config(server.base_url, max_retries=2, max_concurrency=1)])
    outcome = run_day(database, settings, DAY)
    items = items_of_day(database)
    assert outcome.status == "completed" and outcome.counts["failed_calls"] == 0
    assert server.status_counts[500] >= items // 3
    assert verdict_count(database, "gpt", "ok") == items
    assert server.paid_calls == server.distinct_paid == items


def test_invalid_answers_on_a_day_are_asked_again_by_the_rerun(
    database: Database, server: FakeOpenAI
) -> None:
    """A day with an invalid answer completes (it is the model's answer, counted as
    invalid); the rerun with the endpoint fixed re-asks that item only, and the valid
    answer replaces the stored invalid verdict row."""
    server.policy = invalid_when(lambda result: zlib.crc32(result.encode()) % 5 == 0)
    settings = day_settings([llm_config(server.base_url)])
    outcome = run_day(database, settings, DAY)
    invalid = outcome.counts["invalid"]
    assert outcome.status == "completed" and invalid > 0
    items = items_of_day(database)
    assert verdict_count(database, "gpt", "invalid") == invalid
    server.policy = default_policy
    paid = server.paid_calls
    again = run_day(database, settings, DAY)
    assert again.counts["judged"] == invalid and again.counts["cached"] == items - invalid
    assert again.counts["invalid"] == 0 and server.paid_calls - paid == invalid
    # the valid answer replaced the day's invalid verdict row: one row per item, all ok
    assert verdict_count(database, "gpt", "invalid") == 0
    assert verdict_count(database, "gpt", "ok") == items


def test_a_failed_batch_line_is_one_failed_call_and_the_rest_are_verdicts(
    database: Database, server: FakeOpenAI
) -> None:
    """In Batch API mode a line the batch failed leaves only its item without a verdict
    (a failed call naming the line); the other lines are verdicts, cached."""
    judge = BatchJudge(llm_config(server.base_url, batch=True), poll_interval_s=0.01)
    server.script(Reply.error(500))

    async def go() -> tuple[dict[str, list[Verdict | None]], dict[str, JudgeTally]]:
        try:
            return await judge_with_cache(database, [judge], ITEMS)
        finally:
            await judge.aclose()

    verdicts, tallies = asyncio.run(go())
    assert verdicts["gpt"][0] is None and all(v is not None for v in verdicts["gpt"][1:])
    (message,) = tallies["gpt"].failures
    assert tallies["gpt"].failed == 1 and "item-0" in message and "HTTP 500" in message
    assert scalar(database, "SELECT count(*) FROM verdict_cache") == 2
