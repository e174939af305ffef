"""Judging on Prefect task runners: a day through a local Dask cluster of two worker
processes, and through Prefect's process pool, stores the verdicts in-process judging
stores. Real Prefect (the session's temporary API), real PostgreSQL, the fake OpenAI."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg_fixtures import create_database, drop_database
from sqlalchemy import create_engine, text

from monitor.config import JudgeConfig, SamplingConfig, Settings, SourceConfig
from monitor.pipeline.day import run_day
from monitor.store.db import Database
from monitor.testing import FakeOpenAI

DAY = dt.date(2026, 10, 2)


def _settings(fake_llm: FakeOpenAI, **overrides: Any) -> Settings:
    return Settings(
        judges=[
            JudgeConfig(
                name=name,
                model=f"fake-{name}",
                base_url=fake_llm.base_url,
                api_key_env="FAKE_OPENAI_KEY",
                max_retries=0,
            )
            for name in ("gpt-a", "gpt-b")
        ]
        + [JudgeConfig(name="lexical", kind="lexical", api_key_env=None)],
        source=SourceConfig(
            kind="demo",
            options={"seed": 5, "searches_per_day": 300, "items": 400, "queries_per_locale": 200},
        ),
        sampling=SamplingConfig(size=15, min_per_stratum=2, top_k=4),
        baseline_days=3,
        **overrides,
    )


def _verdicts(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT j.name, s.query_norm, v.result_id, v.position, v.status, v.grade, "
                    "v.reasoning FROM verdicts v JOIN samples s ON s.id = v.sample_id "
                    "JOIN judges j ON j.id = v.judge_id ORDER BY 1, 2, 3"
                )
            ).all()
        return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def _run(url: str, settings: Settings) -> str:
    engine = create_engine(url)
    try:
        database = Database(engine=engine, url=url, where="test", embedded=False)
        return run_day(database, settings, DAY).status
    finally:
        engine.dispose()


@pytest.fixture
def second_database(admin_url: str, migrated_template: str) -> Iterator[str]:
    """Another fresh migrated database, for the same day judged another way."""
    name = f"jm_test_dask_{os.getpid()}"
    url = create_database(admin_url, name, template=migrated_template)
    yield url
    drop_database(admin_url, name)


def test_a_day_on_a_local_dask_cluster_stores_the_in_process_verdicts(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    second_database: str,
    fake_llm: FakeOpenAI,
) -> None:
    """A day judged on a local Dask cluster of two worker processes (the workers read
    the database URL and the key from their environment) stores every verdict that
    judging in this process stores; the local judge stays in this process."""
    from distributed import Client, LocalCluster

    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-test-not-a-secret")
    monkeypatch.chdir(tmp_path)  # no judge-monitor.toml for the workers to pick up
    assert _run(database_url, _settings(fake_llm, judge_processes=1)) == "completed"
    expected = _verdicts(database_url)
    assert {row[0] for row in expected} == {"gpt-a", "gpt-b", "lexical"}
    monkeypatch.setenv("JUDGE_MONITOR_DATABASE_URL", second_database)  # the workers' URL
    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        settings = _settings(fake_llm, judge_runner="dask", dask_address=cluster.scheduler_address)
        assert _run(second_database, settings) == "completed"
        with Client(cluster) as client:
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(executed) == 2 and sum(executed.values()) == 2  # a task per LLM judge
    assert _verdicts(second_database) == expected


def test_a_day_on_prefects_process_pool_stores_the_in_process_verdicts(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    database_url: str,
    second_database: str,
    fake_llm: FakeOpenAI,
) -> None:
    """The same day judged on Prefect's ProcessPoolTaskRunner stores the same verdicts
    as in this process."""
    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-test-not-a-secret")
    monkeypatch.chdir(tmp_path)
    assert _run(database_url, _settings(fake_llm, judge_processes=1)) == "completed"
    settings = _settings(fake_llm, judge_runner="process-pool")
    assert _run(second_database, settings) == "completed"
    assert _verdicts(second_database) == _verdicts(database_url)
