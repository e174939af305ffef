"""What the local judges share: a continuous score cut into grades 0–3, no endpoint.

A local judge scores each (query, result) — lexical coverage, embedding cosine — and
three ascending cut points (configured, fitted by ``calibrate``, or the judge's
defaults) turn the score into a grade. Its "prompt version" is a hash of the method and
the cut points, so new cut points re-grade instead of reusing cached verdicts. Empty
query or result text is ``invalid``, exactly as for an LLM judge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from monitor.config import JudgeConfig
from monitor.errors import ConfigError
from monitor.judges.base import item_key, key_prefix
from monitor.judges.prompts import clean_text
from monitor.types import MAX_GRADE, JudgeItem, Verdict, VerdictStatus

__all__ = ["ScoringJudge", "check_thresholds"]


def check_thresholds(name: str, thresholds: Sequence[float]) -> tuple[float, ...]:
    """Three ascending cut points, or a ConfigError naming the judge."""
    cuts = tuple(float(t) for t in thresholds)
    if len(cuts) != MAX_GRADE or list(cuts) != sorted(cuts):
        raise ConfigError(
            f"judge {name!r}: thresholds must be {MAX_GRADE} ascending cut points "
            f"(for grades 1..{MAX_GRADE}), got {list(cuts)}"
        )
    return cuts


def _problem(item: JudgeItem) -> str:
    if not clean_text(item.query).strip():
        return "empty query text"
    if not clean_text(item.result.content).strip():
        return "empty result text"
    return ""


class ScoringJudge:
    """Base of the local judges: subclasses set ``KIND``, ``METHOD``, ``MODEL``,
    ``DEFAULT_THRESHOLDS``, ``SCORE_NAME`` and implement ``scores``."""

    KIND = ""
    METHOD = ""
    MODEL = ""
    SCORE_NAME = "score"
    DEFAULT_THRESHOLDS: tuple[float, ...] = ()

    def __init__(self, config: JudgeConfig) -> None:
        if config.kind != self.KIND:
            raise ConfigError(
                f"judge {config.name!r}: {type(self).__name__} needs kind {self.KIND!r}, "
                f"not {config.kind!r}"
            )
        self._config = config
        self.thresholds = check_thresholds(
            config.name, config.thresholds or self.DEFAULT_THRESHOLDS
        )
        blob = json.dumps({"method": self.METHOD, "thresholds": self.thresholds})
        self._version = hashlib.sha256(blob.encode()).hexdigest()[:12]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, thresholds={list(self.thresholds)})"

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def config(self) -> JudgeConfig:
        return self._config

    @property
    def prompt_version(self) -> str:
        """Hash of the scoring method and cut points: changing either re-grades."""
        return self._version

    @property
    def mode(self) -> str:
        return "pointwise"

    async def aclose(self) -> None:
        """A local judge holds no client: nothing to close."""

    def with_thresholds(self, thresholds: Sequence[float]) -> ScoringJudge:
        """The same judge with other cut points."""
        config = self._config.model_copy(update={"thresholds": [float(t) for t in thresholds]})
        return type(self)(config)

    def scores(self, items: Sequence[JudgeItem]) -> list[float]:
        """The continuous score of each item, before thresholds."""
        raise NotImplementedError

    def grade_for(self, score: float) -> int:
        """How many cut points the score reaches: 0..3."""
        return sum(1 for cut in self.thresholds if score >= cut)

    def verdicts(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item; only items with text are scored."""
        problems = [_problem(item) for item in items]
        gradable = [item for item, problem in zip(items, problems, strict=True) if not problem]
        scored = iter(self.scores(gradable))
        prefix = key_prefix(self._config, self._version)
        out = []
        for item, problem in zip(items, problems, strict=True):
            score = None if problem else next(scored)
            out.append(
                Verdict(
                    judge=self.name,
                    cache_key=item_key(prefix, item),
                    status=VerdictStatus.INVALID if score is None else VerdictStatus.OK,
                    grade=None if score is None else self.grade_for(score),
                    reasoning=problem or f"{self.SCORE_NAME} {score:.3f}",
                    raw="" if score is None else f"{score:.6f}",
                    model=self.MODEL,
                    prompt_version=self._version,
                )
            )
        return out

    async def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        return self.verdicts(items)
