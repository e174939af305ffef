"""Fixtures for the fault suite: a clean test key and the fake OpenAI endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fault_setup import KEY, KEY_VAR

from monitor.testing import FakeOpenAI


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test has the test key set and no real OpenAI key in sight."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv(KEY_VAR, KEY)
    return KEY


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake
