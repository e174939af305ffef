"""The judge canary's figures: has a judge started grading the same items differently?

Every day the canary asks each judge about the same fixed (query, result) anchors, with
the verdict cache bypassed, so the answers are the endpoint's answers of that day. Each
anchor's *reference* grade is the median of its grades over the judge configuration's
first days; the day is compared with it pair by pair, which is far more sensitive to a
swapped model than comparing two grade distributions (a model that moves grades both
ways can keep the distribution and still change half the answers):

* ``canary_changed_share``: the share of anchors graded differently from their
  reference (0 for a deterministic judge that did not change; a little above 0 for an
  LLM's own sampling noise; well above it when the model behind the name changed);
* ``canary_grade_shift``: the mean of (today − reference), which way grades moved.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["CanaryFigures", "canary_figures", "reference_grades"]


@dataclass(frozen=True, slots=True)
class CanaryFigures:
    changed_share: float | None
    grade_shift: float | None
    n: int
    reason: str | None = None


def reference_grades(
    grades: Sequence[tuple[dt.date, str, int | None]], *, days: int
) -> dict[str, int]:
    """Each anchor's median valid grade over the first ``days`` days in ``grades``
    (rounded half up), from (day, anchor, grade) triples."""
    first = sorted({d for d, _, _ in grades})[:days]
    by_anchor: dict[str, list[int]] = defaultdict(list)
    for day, anchor, grade in grades:
        if day in first and grade is not None:
            by_anchor[anchor].append(grade)
    return {a: int(statistics.median(g) + 0.5) for a, g in by_anchor.items()}


def canary_figures(
    reference: Mapping[str, int], today: Mapping[str, int | None], *, min_n: int = 5
) -> CanaryFigures:
    """Today's grades against the reference grades, anchor by anchor."""
    pairs = [(reference[a], g) for a, g in today.items() if g is not None and a in reference]
    if len(pairs) < min_n:
        reason = f"n={len(pairs)} < {min_n} anchors graded both today and in the reference"
        return CanaryFigures(None, None, len(pairs), reason)
    changed = sum(ref != grade for ref, grade in pairs) / len(pairs)
    shift = sum(grade - ref for ref, grade in pairs) / len(pairs)
    return CanaryFigures(changed, shift, len(pairs))
