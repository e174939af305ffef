"""A local judge with no API: BM25-style query-term coverage mapped to 0–3 by thresholds.

It serves the demo, the tests and the ensemble as a cheap member. Its score depends on the
(query, result) pair alone — not on what else is in the batch — so a cached verdict stays
right: each query term contributes its BM25 saturated term frequency, normalised to
[0, 1), with uniform IDF, and the score is their mean. ``scores`` exposes the continuous
figure so calibration can fit ``config.thresholds`` on human labels.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from monitor.judges.local import ScoringJudge
from monitor.judges.prompts import clean_text
from monitor.types import JudgeItem

__all__ = ["DEFAULT_THRESHOLDS", "LexicalJudge", "coverage_score"]

#: Score cut points for grades 1, 2 and 3. A result holding every query term once, at
#: average length, scores 1/(1+k1) ≈ 0.45; half of the terms ≈ 0.23.
DEFAULT_THRESHOLDS: tuple[float, float, float] = (0.1, 0.25, 0.4)
K1 = 1.2
B = 0.75
AVG_DOC_LEN = 64.0
METHOD = f"bm25-coverage-v1 k1={K1} b={B} avgdl={AVG_DOC_LEN}"
_WORD = re.compile(r"\w+")


def _terms(text: str) -> list[str]:
    words = [w for w in _WORD.findall(clean_text(text).casefold())]
    # A light plural fold ("shoes" ~ "shoe") without a stemmer dependency.
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


def coverage_score(query: str, text: str) -> float:
    """Mean BM25-saturated frequency of the query's terms in ``text``, in [0, 1)."""
    query_terms = _terms(query)
    content = [t for t in query_terms if t not in ENGLISH_STOP_WORDS] or query_terms
    wanted = set(content)
    if not wanted:
        return 0.0
    doc = _terms(text)
    counts = Counter(doc)
    norm = K1 * (1 - B + B * len(doc) / AVG_DOC_LEN)
    total = 0.0
    for term in wanted:
        tf = counts.get(term, 0)
        total += tf / (tf + norm) if tf else 0.0
    return total / len(wanted)


class LexicalJudge(ScoringJudge):
    """Grades by lexical coverage; status OK, zero cost, no endpoint."""

    KIND = "lexical"
    METHOD = METHOD
    MODEL = "lexical-bm25-coverage"
    SCORE_NAME = "coverage score"
    DEFAULT_THRESHOLDS = DEFAULT_THRESHOLDS

    def scores(self, items: Sequence[JudgeItem]) -> list[float]:
        """The continuous score of each item, before thresholds."""
        return [coverage_score(item.query, item.result.content) for item in items]
