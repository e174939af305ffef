"""Judging on a Prefect task runner refuses to start without a Prefect server."""

from __future__ import annotations

import asyncio

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from monitor.config import JudgeConfig
from monitor.errors import ConfigError
from monitor.judges.factory import build_ensemble
from monitor.judging.ensemble import judge_with_cache
from monitor.store.db import Database
from monitor.types import JudgeItem, Result


@pytest.mark.parametrize("runner", ["dask", "process-pool"])
def test_a_task_runner_without_a_prefect_server_is_one_line(
    monkeypatch: pytest.MonkeyPatch, database: Database, runner: str
) -> None:
    """judge_runner dask or process-pool with no PREFECT_API_URL fails at once with one
    line naming the setting to give (its workers could not report their task runs)."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-test-not-a-secret")
    judges = build_ensemble(
        [JudgeConfig(name="gpt", base_url="http://127.0.0.1:9/v1", api_key_env="FAKE_OPENAI_KEY")]
    )
    items = [JudgeItem(query="q", result=Result(id="r", position=1, text="t"))]
    # the flow tests' session-wide Prefect API (a test harness) is a setting, not only an
    # environment variable: take it away too, as on a machine with no server configured
    with (
        temporary_settings(restore_defaults={PREFECT_API_URL}),
        pytest.raises(ConfigError, match=rf"judge_runner = '{runner}' needs a Prefect server"),
    ):
        asyncio.run(
            judge_with_cache(database, judges, items, runner=runner, dask_address="tcp://x:1")
        )
