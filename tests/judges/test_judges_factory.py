"""Building judges from configuration, and the package's public surface."""

from __future__ import annotations

import importlib

import pytest

from monitor.config import JudgeConfig
from monitor.errors import ConfigError
from monitor.judges import Judge, LexicalJudge, LLMJudge, build_ensemble, build_judge
from monitor.testing import FakeOpenAI


def test_build_judge_dispatches_on_kind(server: FakeOpenAI) -> None:
    """llm and lexical kinds build their judges, which satisfy the Judge protocol."""
    llm = build_judge(
        JudgeConfig(name="l", base_url=server.base_url, api_key_env="JUDGE_TEST_API_KEY")
    )
    lexical = build_judge(JudgeConfig(name="x", kind="lexical", api_key_env=None))
    assert isinstance(llm, LLMJudge) and isinstance(lexical, LexicalJudge)
    assert isinstance(llm, Judge) and isinstance(lexical, Judge)


def test_semantic_kind_builds_the_semantic_judge() -> None:
    """kind = "semantic" gives the local embedding judge (the extra is installed by make)."""
    from monitor.judges.semantic import SemanticJudge

    judge = build_judge(JudgeConfig(name="s", kind="semantic", api_key_env=None))
    assert isinstance(judge, SemanticJudge) and judge.name == "s"


def test_build_ensemble_checks_every_key_before_any_call(server: FakeOpenAI) -> None:
    """All missing key variables are named at once, and nothing reaches the server."""
    configs = [
        JudgeConfig(name="ok", base_url=server.base_url, api_key_env="JUDGE_TEST_API_KEY"),
        JudgeConfig(name="m1", base_url=server.base_url, api_key_env="MISSING_KEY_ONE"),
        JudgeConfig(name="lex", kind="lexical"),
        JudgeConfig(name="m2", base_url=server.base_url, api_key_env="MISSING_KEY_TWO"),
    ]
    with pytest.raises(ConfigError, match=r"MISSING_KEY_ONE.*MISSING_KEY_TWO"):
        build_ensemble(configs)
    assert server.total == 0


def test_build_ensemble_refuses_repeated_names() -> None:
    """Two judges with one name would mix their verdicts; that is a ConfigError."""
    lexical = JudgeConfig(name="lex", kind="lexical")
    with pytest.raises(ConfigError, match="lex"):
        build_ensemble([lexical, lexical])


def test_unknown_prompt_in_config_is_a_config_error(server: FakeOpenAI) -> None:
    """A judge configured with a template that does not exist fails at build time."""
    config = JudgeConfig(
        name="l", base_url=server.base_url, api_key_env="JUDGE_TEST_API_KEY", prompt="nope"
    )
    with pytest.raises(ConfigError, match="unknown prompt template 'nope'"):
        build_judge(config)
    assert server.total == 0


@pytest.mark.parametrize(
    "module",
    [
        "monitor.judges",
        "monitor.judges.base",
        "monitor.judges.batch",
        "monitor.judges.ensemble",
        "monitor.judges.factory",
        "monitor.judges.lexical",
        "monitor.judges.limits",
        "monitor.judges.llm",
        "monitor.judges.prompts",
        "monitor.testing",
        "monitor.testing.fake_openai",
    ],
)
def test_exported_members_exist(module: str) -> None:
    """Every name in a module's __all__ is defined there."""
    imported = importlib.import_module(module)
    assert imported.__all__
    for name in imported.__all__:
        assert hasattr(imported, name), f"{module}.{name}"
