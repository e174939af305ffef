"""Test doubles that live in the package so tests and benchmarks share them.

Only the LLM's HTTP boundary is faked: ``FakeOpenAI`` is a real HTTP server speaking the
OpenAI chat-completions and Batch API protocols, driven through the real ``openai`` client.
"""

from monitor.testing.fake_openai import (
    FakeOpenAI,
    RecordedRequest,
    Reply,
    default_policy,
    prefer_first,
)

__all__ = ["FakeOpenAI", "RecordedRequest", "Reply", "default_policy", "prefer_first"]
