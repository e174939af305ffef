"""The semantic judge, for real: the packaged all-MiniLM-L6-v2 on the CPU, offline."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest

from monitor.config import JudgeConfig
from monitor.errors import ConfigError
from monitor.judges import SemanticJudge, build_judge
from monitor.types import JudgeItem, Result, VerdictStatus


class CountingJudge(SemanticJudge):
    """Counts the texts that reach the encoder."""

    encoded: list[str]

    def _encode(self, texts: list[str]) -> npt.NDArray[np.float32]:
        self.encoded = [*getattr(self, "encoded", []), *texts]
        return super()._encode(texts)


def _config(**overrides: object) -> JudgeConfig:
    return JudgeConfig(name="semantic", kind="semantic", api_key_env=None, **overrides)


def _item(query: str, text: str, position: int = 1) -> JudgeItem:
    return JudgeItem(query=query, result=Result(id=f"d{position}", position=position, text=text))


QUERY = "how long to boil an egg"
RELEVANT = "Boil the eggs for 9 to 12 minutes for hard-boiled eggs, 6 minutes for soft yolks."
IRRELEVANT = "The stock market closed higher on Tuesday as technology shares rallied."


def test_relevant_passage_scores_above_irrelevant() -> None:
    """Cosine of a query with an on-topic passage beats an off-topic one."""
    judge = SemanticJudge(_config())
    relevant, irrelevant = judge.scores([_item(QUERY, RELEVANT), _item(QUERY, IRRELEVANT)])
    assert relevant > irrelevant + 0.2


def test_repeated_texts_are_encoded_once() -> None:
    """A query repeated over its results, and a judge called twice, encode each text once."""
    judge = CountingJudge(_config(), memo={})
    items = [_item(QUERY, RELEVANT, 1), _item(QUERY, IRRELEVANT, 2), _item(QUERY, RELEVANT, 3)]
    first = judge.scores(items)
    second = judge.scores(items)
    assert sorted(judge.encoded) == sorted([QUERY, RELEVANT, IRRELEVANT])
    assert first == second


def test_judges_built_anew_share_the_process_memo() -> None:
    """A daily run builds its judges each day; texts seen by an earlier one are not re-encoded."""
    texts = ("a text only this test uses, once", "and a second one, also only here")
    first = CountingJudge(_config())
    first.scores([_item(texts[0], texts[1])])
    second = CountingJudge(_config())
    second.scores([_item(texts[0], texts[1])])
    assert sorted(first.encoded) == sorted(texts)
    assert getattr(second, "encoded", []) == []


def test_thresholds_map_scores_to_grades() -> None:
    """The grade counts the cut points a score reaches, and verdicts carry it."""
    judge = SemanticJudge(_config())
    score = judge.scores([_item(QUERY, RELEVANT)])[0]
    cuts = [score - 0.2, score - 0.1, score + 0.1]
    graded = judge.with_thresholds(cuts)
    assert graded.grade_for(score) == 2
    verdicts = asyncio.run(graded.judge([_item(QUERY, RELEVANT), _item(QUERY, "  ")]))
    assert verdicts[0].status is VerdictStatus.OK and verdicts[0].grade == 2
    assert verdicts[0].model == "all-MiniLM-L6-v2" and verdicts[0].cost_usd == 0
    assert verdicts[1].status is VerdictStatus.INVALID and verdicts[1].grade is None


def test_thresholds_change_the_prompt_version() -> None:
    """Other cut points are another judge for the verdict cache."""
    a = SemanticJudge(_config())
    b = a.with_thresholds([0.1, 0.2, 0.3])
    assert a.prompt_version != b.prompt_version


def test_bad_thresholds_are_a_config_error() -> None:
    """Descending cut points name the judge and the problem."""
    with pytest.raises(ConfigError, match=r"semantic.*ascending"):
        SemanticJudge(_config(thresholds=[0.5, 0.4, 0.6]))


def test_factory_builds_the_semantic_judge() -> None:
    """kind 'semantic' in the configuration gives a SemanticJudge."""
    assert isinstance(build_judge(_config()), SemanticJudge)
