"""The panel's day tests judge through the fake OpenAI endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.testing import FakeOpenAI


@pytest.fixture
def fake_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-test-not-a-secret")
    with FakeOpenAI() as server:
        yield server
