"""Fixtures for the judge tests: a fake OpenAI endpoint and a clean key variable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from monitor.config import JudgeConfig
from monitor.testing import FakeOpenAI

KEY_VAR = "JUDGE_TEST_API_KEY"


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test starts with the test key set and no real OpenAI key in sight."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv(KEY_VAR, "sk-test-not-a-real-key")
    return "sk-test-not-a-real-key"


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def make_config(server: FakeOpenAI) -> Callable[..., JudgeConfig]:
    """A judge config pointing at the fake server, quick to fail, overridable."""

    def make(**overrides: Any) -> JudgeConfig:
        values: dict[str, Any] = {
            "name": "fake-llm",
            "base_url": server.base_url,
            "api_key_env": KEY_VAR,
            "model": "fake-model",
            "max_retries": 2,
            "timeout_s": 5.0,
        }
        values.update(overrides)
        return JudgeConfig(**values)

    return make
