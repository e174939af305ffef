"""Combine several judges' grades for one (query, result) into one grade and a spread.

Invalid answers (``None``) are left out, never counted as 0. ``disagreement`` is the
spread of the valid grades, max − min, in grade points (0 = unanimous, 3 = one judge says
irrelevant and another perfect); it is 0.0 when fewer than two judges answered.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.errors import ConfigError, InputError
from monitor.types import Verdict, VerdictStatus

__all__ = ["METHODS", "EnsembleGrade", "Method", "aggregate", "aggregate_verdicts"]

Method = Literal["median", "majority", "mean", "weighted"]
METHODS: tuple[str, ...] = ("median", "majority", "mean", "weighted")


@dataclass(frozen=True, slots=True)
class EnsembleGrade:
    """The ensemble's grade (None when no judge gave a valid one) and how split it was."""

    grade: float | None
    disagreement: float
    n_judges: int


def aggregate(
    grades: Mapping[str, int | None],
    method: str = "median",
    weights: Mapping[str, float] | None = None,
) -> EnsembleGrade:
    """Aggregate judge -> grade.

    ``median`` of an even count is the mean of the two middle grades; ``majority`` is the
    most common grade, ties going to the lowest tied grade (a monitor should err towards
    reporting a problem); ``mean`` is the plain mean; ``weighted`` the mean weighted by
    ``weights`` (e.g. each judge's agreement with human labels), which must name every
    judge that answered.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown ensemble method {method!r}; choose one of {', '.join(METHODS)}")
    valid = {judge: grade for judge, grade in grades.items() if grade is not None}
    if not valid:
        return EnsembleGrade(grade=None, disagreement=0.0, n_judges=0)
    values = list(valid.values())
    spread = float(max(values) - min(values))
    value: float
    if method == "median":
        value = float(statistics.median(values))
    elif method == "majority":
        counts = Counter(values)
        top = max(counts.values())
        value = float(min(g for g, c in counts.items() if c == top))
    elif method == "mean":
        value = statistics.fmean(values)
    else:
        if weights is None:
            raise InputError("ensemble method 'weighted' needs weights per judge")
        missing = sorted(set(valid) - set(weights))
        if missing:
            raise InputError(f"ensemble weights missing for judges: {', '.join(missing)}")
        if any(weights[j] < 0 for j in valid):
            raise InputError("ensemble weights must be >= 0")
        total = sum(weights[j] for j in valid)
        if total <= 0:
            # only zero-weight judges answered: they are not trusted, so no grade
            return EnsembleGrade(grade=None, disagreement=spread, n_judges=0)
        value = sum(weights[j] * g for j, g in valid.items()) / total
    return EnsembleGrade(grade=value, disagreement=spread, n_judges=len(values))


def aggregate_verdicts(
    verdicts: Sequence[Verdict],
    method: str = "median",
    weights: Mapping[str, float] | None = None,
) -> EnsembleGrade:
    """``aggregate`` over the verdicts of one item; invalid verdicts count as no answer."""
    grades: dict[str, int | None] = {}
    for verdict in verdicts:
        ok = verdict.status is VerdictStatus.OK
        grades[verdict.judge] = verdict.grade if ok else None
    return aggregate(grades, method, weights)
