"""Flow tests: real Prefect (a temporary local API), real PostgreSQL, the fake OpenAI.

Flows read their settings the way production does: from a ``judge-monitor.toml`` named
by ``JUDGE_MONITOR_CONFIG`` and ``DATABASE_URL``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.testing import FakeOpenAI


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[None]:
    """One temporary Prefect API for the session, quiet in the terminal as the CLI is
    (the runs' logs still reach the API, where tests read them)."""
    from monitor.cli._prefect import quiet_prefect

    quiet_prefect()
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory(prefix="jm-prefect-") as home:
        os.environ["PREFECT_HOME"] = home
        with prefect_test_harness(server_startup_timeout=120):
            yield


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def write_config(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


@pytest.fixture
def flow_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, fake_llm: FakeOpenAI
) -> Path:
    """Settings for a small daily run: demo source, one LLM judge on the fake server."""
    config = write_config(
        tmp_path / "judge-monitor.toml",
        f"""
baseline_days = 3
canary_size = 0  # the judge canary's own calls are counted in its own tests

[[judges]]
name = "gpt"
kind = "llm"
model = "fake-model"
base_url = "{fake_llm.base_url}"
api_key_env = "FAKE_OPENAI_KEY"
max_retries = 0
price_input_per_mtok = 1.0
price_output_per_mtok = 2.0

[source]
kind = "demo"
[source.options]
seed = 3
searches_per_day = 400
items = 600
queries_per_locale = 300

[sampling]
size = 20
min_per_stratum = 2
top_k = 5
""",
    )
    monkeypatch.setenv("JUDGE_MONITOR_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-test-not-a-secret")
    return config
