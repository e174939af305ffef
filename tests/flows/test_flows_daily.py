"""The daily and backfill flows end to end: Prefect, PostgreSQL, the fake OpenAI server."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import create_engine, text

from flows.backfill import backfill
from flows.daily import daily
from monitor.config import load_settings
from monitor.errors import InputError
from monitor.judges.factory import build_ensemble
from monitor.pipeline.steps import fetch_sample, judge_samples, load_samples, store_sample
from monitor.store.db import Database
from monitor.testing import FakeOpenAI

DAY = dt.date(2026, 10, 1)


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in ("samples", "verdicts", "verdict_cache", "ensemble_grades", "runs")
            } | {
                "metrics": int(
                    conn.execute(
                        text("SELECT count(*) FROM daily_metrics WHERE metric_date = :d"),
                        {"d": DAY},
                    ).scalar_one()
                )
            }
    finally:
        engine.dispose()


def _run_row(url: str, day: dt.date = DAY) -> dict[str, object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, counts, cost_usd, error FROM runs WHERE run_date = :d"),
                {"d": day},
            ).one()
            return {"status": row.status, "counts": row.counts, "cost": row.cost_usd}
    finally:
        engine.dispose()


def test_daily_end_to_end_then_rerun_pays_nothing(
    flow_env: object, database_url: str, fake_llm: FakeOpenAI
) -> None:
    """A day runs end to end; its rerun adds no rows and sends zero requests."""
    outcome = daily(day=DAY)
    assert outcome.status == "completed"
    first = _counts(database_url)
    calls = fake_llm.total
    assert first["samples"] == outcome.counts["sampled"] > 0
    assert first["verdicts"] == outcome.counts["verdicts"] == calls
    assert first["metrics"] > 0
    run = _run_row(database_url)
    assert run["status"] == "completed" and float(run["cost"]) > 0  # type: ignore[arg-type]

    again = daily(day=DAY)
    assert again.status == "completed"
    assert fake_llm.total == calls, "a rerun must not call the endpoint"
    assert again.counts["judged"] == 0 and again.counts["cached"] == calls
    assert _counts(database_url) == first


def test_daily_with_judge_worker_processes(
    flow_env: object,
    database_url: str,
    fake_llm: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With judge_processes = 2 the LLM judge runs in a worker process inside the flow's
    task; the day stores what it pays for, and its rerun pays nothing."""
    import monitor.judging.ensemble

    used: list[int] = []
    real = monitor.judging.ensemble.run_in_workers

    async def spy(*args: object, **kwargs: object) -> object:
        used.append(int(kwargs["workers"]))  # type: ignore[call-overload]
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(monitor.judging.ensemble, "run_in_workers", spy)
    monkeypatch.setenv("JUDGE_MONITOR_JUDGE_PROCESSES", "2")
    outcome = daily(day=DAY)
    assert outcome.status == "completed" and used == [1]  # one LLM judge, one worker
    calls = fake_llm.total
    assert _counts(database_url)["verdicts"] == outcome.counts["verdicts"] == calls > 0
    again = daily(day=DAY)
    assert again.status == "completed" and fake_llm.total == calls


def test_crash_between_judging_and_metrics_then_resume(
    flow_env: object, database_url: str, fake_llm: FakeOpenAI
) -> None:
    """Judging finished but the process died before metrics: the rerun completes, pays nothing."""
    settings = load_settings()
    database = Database(create_engine(database_url), database_url, "test", False)
    try:
        sample, _ = fetch_sample(settings, DAY)
        store_sample(database, DAY, sample, settings.sampling.top_k)
        stored = load_samples(database, DAY)
        asyncio.run(judge_samples(database, build_ensemble(settings.judges), stored))
    finally:
        database.dispose()
    paid = fake_llm.total
    assert paid > 0 and _counts(database_url)["metrics"] == 0

    outcome = daily(day=DAY)
    assert outcome.status == "completed"
    assert fake_llm.total == paid
    counts = _counts(database_url)
    assert counts["verdicts"] == paid and counts["metrics"] > 0


def test_endpoint_down_fails_the_run_and_rerun_completes(
    flow_env: object, database_url: str, fake_llm: FakeOpenAI
) -> None:
    """An endpoint failing every call marks the run failed; once it is back, the rerun completes."""
    from monitor.testing.fake_openai import Reply

    fake_llm.script(*[Reply.error(500)] * 200)
    with pytest.raises(Exception, match="gpt"):
        daily(day=DAY)
    assert _run_row(database_url)["status"] == "failed"
    fake_llm.reset()
    outcome = daily(day=DAY)
    assert outcome.status == "completed"
    assert _counts(database_url)["runs"] == 1


def test_future_date_is_refused(flow_env: object) -> None:
    """Today and later have not ended: refused with a clear message."""
    with pytest.raises(InputError, match="has not ended"):
        daily(day=dt.datetime.now(dt.UTC).date())


def test_backfill_five_days_is_resumable(
    flow_env: object, database_url: str, fake_llm: FakeOpenAI
) -> None:
    """Backfill runs each day once; a second backfill of the range finds nothing to do."""
    outcomes = backfill(start=DAY, end=DAY + dt.timedelta(days=4))
    assert [o.day for o in outcomes] == [DAY + dt.timedelta(days=i) for i in range(5)]
    assert all(o.status == "completed" for o in outcomes)
    calls = fake_llm.total
    assert backfill(start=DAY, end=DAY + dt.timedelta(days=4)) == []
    assert fake_llm.total == calls
    with pytest.raises(InputError, match="before"):
        backfill(start=DAY, end=DAY - dt.timedelta(days=1))


def test_a_rerun_does_not_ask_the_canary_again(
    flow_env: object, fake_llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the judge canary on, a rerun of the same day pays for nothing, canary included."""
    monkeypatch.setenv("JUDGE_MONITOR_CANARY_SIZE", "10")
    first = daily(day=DAY)
    calls = fake_llm.total
    assert first.status == "completed" and calls > first.counts["verdicts"]  # canary asked
    again = daily(day=DAY)
    assert again.status == "completed" and fake_llm.total == calls
