"""The local lexical judge."""

from __future__ import annotations

import asyncio

import pytest

from monitor.config import JudgeConfig
from monitor.errors import ConfigError
from monitor.judges import LexicalJudge
from monitor.types import JudgeItem, Result, VerdictStatus

RELEVANT = JudgeItem(
    "red running shoes",
    Result("1", 1, "Red running shoes", "Lightweight red shoes for running on roads."),
)
IRRELEVANT = JudgeItem("red running shoes", Result("2", 2, "Garden hose", "Thirty metres."))


def judge(thresholds: list[float] | None = None) -> LexicalJudge:
    return LexicalJudge(JudgeConfig(name="lex", kind="lexical", thresholds=thresholds))


def test_relevant_result_grades_above_irrelevant() -> None:
    """A result containing the query's terms outranks one sharing none."""
    verdicts = asyncio.run(judge().judge([RELEVANT, IRRELEVANT]))
    assert all(v.status is VerdictStatus.OK and v.cost_usd == 0 for v in verdicts)
    assert verdicts[0].grade is not None and verdicts[1].grade is not None
    assert verdicts[0].grade > verdicts[1].grade
    high, low = judge().scores([RELEVANT, IRRELEVANT])
    assert high > low


def test_score_does_not_depend_on_the_batch() -> None:
    """An item's score is the same alone or among others, so cached verdicts stay right."""
    alone = judge().scores([RELEVANT])
    together = judge().scores([IRRELEVANT, RELEVANT, IRRELEVANT])
    assert alone[0] == together[1]


def test_thresholds_drive_grades_and_version() -> None:
    """Grades count the cut points reached; other thresholds give another prompt_version."""
    default, strict = judge(), judge([0.9, 0.95, 0.99])
    (score,) = default.scores([RELEVANT])
    (verdict,) = asyncio.run(strict.judge([RELEVANT]))
    assert verdict.grade == sum(score >= cut for cut in strict.thresholds)
    assert default.prompt_version != strict.prompt_version


def test_bad_thresholds_are_refused() -> None:
    """Thresholds must be three ascending cut points."""
    with pytest.raises(ConfigError, match="ascending"):
        judge([0.5, 0.2, 0.9])


def test_empty_result_is_invalid() -> None:
    """Empty text gets the same INVALID treatment as with LLM judges."""
    (verdict,) = asyncio.run(judge().judge([JudgeItem("shoes", Result("e", 1))]))
    assert verdict.status is VerdictStatus.INVALID and verdict.reasoning == "empty result text"
