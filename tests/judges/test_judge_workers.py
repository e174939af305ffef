"""LLM judges in worker processes: the same verdicts, the same cache, failures reported.

Workers are real ``python -m monitor.judging.workers`` processes talking to the fake
endpoint (a thread of this process, on loopback) and to the test's real database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from monitor.config import JudgeConfig
from monitor.errors import InputError
from monitor.judges import LLMJudge, build_judge
from monitor.judging.cache import JudgeTally
from monitor.judging.ensemble import judge_with_cache
from monitor.judging.workers import AUTO_MIN_ITEMS, movable, warm_workers, worker_count
from monitor.store.db import Database
from monitor.testing import FakeOpenAI
from monitor.types import JudgeItem, Result, Verdict

MakeConfig = Callable[..., JudgeConfig]
Outcome = tuple[dict[str, list[Verdict | None]], dict[str, JudgeTally]]

ITEMS = [
    JudgeItem(f"red shoes {i}", Result(f"r{i}", 1, f"red shoes size {i}" if i % 2 else "a hose"))
    for i in range(24)
]


def judge_all(database: Database, judges: list[Any], processes: int, **kwargs: Any) -> Outcome:
    async def go() -> Outcome:
        try:
            return await judge_with_cache(
                database, judges, ITEMS, processes=processes, chunk=4, **kwargs
            )
        finally:
            for judge in judges:
                if hasattr(judge, "aclose"):
                    await judge.aclose()

    return asyncio.run(go())


def cached_rows(database: Database, judge: str) -> int:
    with database.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM verdict_cache WHERE judge_name = :j"), {"j": judge}
            ).scalar_one()
        )


def test_workers_judge_as_the_process_does(
    database: Database, server: FakeOpenAI, make_config: MakeConfig
) -> None:
    """Two LLM judges in two workers give the verdicts in-process judging gives, store
    them in the cache, report progress, and a rerun pays for nothing."""
    configs = [make_config(name="one"), make_config(name="two", model="other-model")]
    lexical = build_judge(JudgeConfig(name="lex", kind="lexical", api_key_env=None))
    here, _ = judge_all(database, [*(LLMJudge(c) for c in configs), lexical], processes=1)
    assert server.total == 2 * len(ITEMS)
    with database.engine.begin() as conn:
        conn.execute(text("TRUNCATE verdict_cache"))

    llm = [LLMJudge(c) for c in configs]
    seen: list[tuple[str, int, int]] = []
    verdicts, tallies = judge_all(
        database, [*llm, lexical], processes=2, progress=lambda *p: seen.append(p)
    )
    assert server.total == 4 * len(ITEMS)  # the workers called the endpoint
    assert all(not judge._clients for judge in llm)  # and this process did not
    for name in ("one", "two", "lex"):
        assert [v.grade if v else None for v in verdicts[name]] == [
            v.grade if v else None for v in here[name]
        ]
        assert all(v is not None and not v.cache_hit for v in verdicts[name])
        assert tallies[name].paid == len(ITEMS) and not tallies[name].errors
    assert tallies["one"].input_tokens > 0 and cached_rows(database, "one") == len(ITEMS)
    assert ("one", len(ITEMS), len(ITEMS)) in seen and ("two", len(ITEMS), len(ITEMS)) in seen

    again, tallies = judge_all(database, [LLMJudge(c) for c in configs], processes=2)
    assert server.total == 4 * len(ITEMS)  # nothing paid twice
    assert tallies["one"].cached == len(ITEMS) and tallies["one"].paid == 0
    assert [v.grade for v in again["two"] if v] == [v.grade for v in verdicts["two"] if v]


def test_a_worker_with_two_judges_pays_a_repeated_question_once(
    database: Database, server: FakeOpenAI, make_config: MakeConfig
) -> None:
    """Three judges in two workers (one worker holds two of them); the run lists three
    questions twice. Each judge pays once per distinct question, and every position,
    the repeats included, gets its verdict back from the worker streaming them."""
    items = [*ITEMS, *ITEMS[:3]]
    names = ("one", "two", "three")
    judges = [LLMJudge(make_config(name=n, model=f"model-{n}")) for n in names]

    async def go() -> Outcome:
        try:
            return await judge_with_cache(database, judges, items, processes=2, chunk=4)
        finally:
            for judge in judges:
                await judge.aclose()

    verdicts, tallies = asyncio.run(go())
    assert server.total == len(names) * len(ITEMS)
    for name in names:
        got = verdicts[name]
        assert all(v is not None and v.judge == name for v in got)
        first, repeats = got[: len(ITEMS)], got[len(ITEMS) :]
        assert not any(v.cache_hit for v in first if v)
        assert all(v.cache_hit for v in repeats if v)
        assert [(v.cache_key, v.grade) for v in repeats if v] == [
            (v.cache_key, v.grade) for v in first[:3] if v
        ]
        assert tallies[name].paid == len(ITEMS) and tallies[name].cached == 3


def _worker_pids() -> list[int]:
    pids = []
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        for pid in children.read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"monitor.judging.workers" in cmdline:
                pids.append(int(pid))
    return pids


def _started_workers(count: int) -> list[int]:
    """The worker pids once ``count`` have exec'd (a child is a copy of pytest before)."""
    deadline = time.monotonic() + 10
    while len(pids := _worker_pids()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pids) == count
    return pids


def test_a_worker_that_dies_is_reported_and_its_stored_answers_kept(
    database: Database, make_config: MakeConfig
) -> None:
    """Killing a worker mid-run fails its judge with a clear error; the verdicts it had
    sent are kept and counted, the chunks it had stored stay in the cache, so the rerun
    pays only for the rest."""
    with FakeOpenAI(latency_s=0.05) as slow:
        config = make_config(name="doomed", base_url=slow.base_url, max_concurrency=2)
        killed: list[int] = []

        def kill_after_some(name: str, done: int, total: int) -> None:
            if done >= 8 and not killed:
                for pid in _worker_pids():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)

        verdicts, tallies = judge_all(
            database, [LLMJudge(config)], processes=2, progress=kill_after_some
        )
        assert killed
        (error,) = tallies["doomed"].errors
        assert "'doomed'" in error and "worker process stopped" in error
        stored = cached_rows(database, "doomed")
        assert 8 <= stored < len(ITEMS)
        sent = [v for v in verdicts["doomed"] if v is not None]
        assert 8 <= len(sent) <= stored  # a chunk is stored, then sent
        assert tallies["doomed"].paid == len(sent) and sent[0].grade is not None

        time.sleep(0.3)  # calls in flight when it died are answered (and counted) now
        before = slow.total
        verdicts, tallies = judge_all(database, [LLMJudge(config)], processes=2)
        assert not tallies["doomed"].errors
        assert tallies["doomed"].cached == stored
        assert slow.total - before == len(ITEMS) - stored
        assert all(v is not None for v in verdicts["doomed"])


def test_a_workers_error_is_raised_as_it_was_raised_there(
    database: Database, make_config: MakeConfig
) -> None:
    """A reference judge given items without references fails in the worker; the parent
    raises the same InputError, naming the judge and the item."""
    judge = LLMJudge(make_config(name="ref", prompt="reference"))
    with pytest.raises(InputError, match=r"judge 'ref' grades against a reference.*item 0"):
        judge_all(database, [judge], processes=2)


def test_worker_count(make_config: MakeConfig, server: FakeOpenAI) -> None:
    """Auto uses a worker per LLM judge on big runs only; 1 never; N caps; judges with an
    injected client, local judges and Batch API judges stay in the process."""
    llm = [LLMJudge(make_config(name=f"j{i}")) for i in range(3)]
    lexical = build_judge(JudgeConfig(name="lex", kind="lexical", api_key_env=None))
    batch = build_judge(make_config(name="b", batch=True))
    injected = LLMJudge(make_config(name="inj"), client=_client(server))
    assert [movable(j) for j in (*llm, lexical, batch, injected)] == [True] * 3 + [False] * 3
    cores = os.cpu_count() or 1
    assert worker_count(0, llm, AUTO_MIN_ITEMS) == (3 if cores > 1 else 0)
    assert worker_count(0, llm, AUTO_MIN_ITEMS - 1) == 0
    assert worker_count(1, llm, 10**6) == 0
    assert worker_count(2, llm, 10) == 2
    assert worker_count(8, [*llm, lexical], 10) == 3
    assert worker_count(4, [lexical, batch, injected], 10**6) == 0


def _client(server: FakeOpenAI) -> Any:
    from openai import AsyncOpenAI

    return AsyncOpenAI(api_key="sk-test", base_url=server.base_url)


def test_a_cancelled_run_leaves_no_worker_behind(
    database: Database, make_config: MakeConfig
) -> None:
    """A run cancelled mid-way (a timeout, Ctrl-C) kills its workers: none is left
    calling the endpoint in the background. Cancelled once a worker has called the
    endpoint, however long its start took (a fixed timeout failed on a loaded machine)."""
    with FakeOpenAI(latency_s=0.5) as slow:
        judge = LLMJudge(make_config(name="slow", base_url=slow.base_url, max_concurrency=1))

        async def go() -> bool:
            run = asyncio.ensure_future(judge_with_cache(database, [judge], ITEMS, processes=2))
            deadline = time.monotonic() + 120
            while slow.total == 0 and not run.done():
                assert time.monotonic() < deadline, "no worker called the endpoint in 120 s"
                await asyncio.sleep(0.05)
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            return run.cancelled()

        assert asyncio.run(go()), "the run finished before it could be cancelled"
        assert _worker_pids() == []
        time.sleep(0.6)  # the call in flight when it was killed is answered now
        answered = slow.total
        time.sleep(1.0)
        assert slow.total == answered  # and nothing calls any more
        assert 0 < answered < len(ITEMS)


def test_warm_workers_are_taken_by_the_run_and_the_unused_ones_stopped(
    database: Database, server: FakeOpenAI, make_config: MakeConfig
) -> None:
    """Workers started ahead (while the day is sampled) are the ones that judge; those
    a run did not need are stopped when the warm-up ends."""
    configs = [make_config(name="one"), make_config(name="two", model="other-model")]
    judges = [LLMJudge(c) for c in configs]
    with warm_workers(0, judges, AUTO_MIN_ITEMS):  # auto: one per LLM judge
        warm = _started_workers(2)
        verdicts, tallies = judge_all(database, judges, processes=2)
        assert server.total == 2 * len(ITEMS)
        assert not _worker_pids()  # both taken, both done: no new worker was started
    assert all(v is not None for v in verdicts["one"]) and not tallies["two"].errors

    with warm_workers(0, judges, AUTO_MIN_ITEMS):
        warm = _started_workers(2)
        judge_all(database, [LLMJudge(c) for c in configs], processes=1)  # in-process
        assert _worker_pids() == warm  # untouched, still waiting for a job
    assert not _worker_pids()
    with warm_workers(1, judges, AUTO_MIN_ITEMS):  # 1 = never in workers: none started
        assert not _worker_pids()
