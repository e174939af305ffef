"""Frozen value types that flow between the pipeline's stages.

source -> ``SearchRecord`` -> sampling -> ``SampledQuery`` -> judges -> ``Verdict``
-> store -> metrics. They are plain dataclasses so that every stage can be used and
tested without a database, Prefect or an LLM endpoint.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "GRADE_LABELS",
    "MAX_GRADE",
    "JudgeItem",
    "PairwiseVerdict",
    "Result",
    "SampledQuery",
    "SearchRecord",
    "Verdict",
    "VerdictStatus",
    "in_segment",
    "normalize_query",
]

#: The graded scale used by TREC and UMBRELA, and by every judge here.
GRADE_LABELS: dict[int, str] = {
    0: "irrelevant",
    1: "related",
    2: "highly relevant",
    3: "perfectly relevant",
}
MAX_GRADE = 3

_SPACES = re.compile(r"\s+")


def in_segment(values: Mapping[str, Any], segment: str | None) -> bool:
    """Whether a sample with these segment values belongs to ``segment`` (``key=value``;
    None or ``all``: every sample does)."""
    if segment is None or segment == "all":
        return True
    key, _, value = segment.partition("=")
    return key in values and str(values[key]) == value


def normalize_query(text: str) -> str:
    """Fold a query to the form used for deduplication and label matching.

    Two users typing "Red  Shoes" and "red shoes" asked the same thing; NFKC plus
    casefold plus collapsed whitespace makes them one key.
    """
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


@dataclass(frozen=True, slots=True)
class Result:
    """One item of a ranked result list, as the user saw it (position is 1-based)."""

    id: str
    position: int
    title: str = ""
    text: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def content(self) -> str:
        """The text a judge reads: title and body, the way a user would read them."""
        if self.title and self.text:
            return f"{self.title}\n{self.text}"
        return self.title or self.text


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """One search as production served it: the query, who asked, what came back."""

    query_id: str
    query: str
    timestamp: dt.datetime
    results: tuple[Result, ...]
    segment: Mapping[str, str] = field(default_factory=dict)
    clicks: int | None = None
    zero_result: bool = False
    reformulated: bool = False
    ranker: str = "production"

    @property
    def normalized_query(self) -> str:
        return normalize_query(self.query)


@dataclass(frozen=True, slots=True)
class SampledQuery:
    """A search chosen for judging, with the probability it had of being chosen.

    ``weight`` is ``1 / inclusion_probability`` (Horvitz–Thompson), so weighted means
    over the sample estimate means over all of the day's traffic. ``list_no`` tells a
    panel query's distinct result lists apart (0 for every other sample).
    """

    record: SearchRecord
    stratum: str
    inclusion_probability: float
    hard: bool = False
    list_no: int = 0

    @property
    def weight(self) -> float:
        return 1.0 / self.inclusion_probability


@dataclass(frozen=True, slots=True)
class JudgeItem:
    """What a pointwise judge is asked about: one query and one result."""

    query: str
    result: Result
    reference: str | None = None  # a known-good answer, for reference-based grading


class VerdictStatus(StrEnum):
    OK = "ok"
    #: The judge answered, but not with a valid grade even after a repair attempt.
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judge's answer about one (query, result), with everything needed to audit it.

    A parse failure is a status (``INVALID`` with ``grade=None``), never a grade.
    """

    judge: str
    cache_key: str
    status: VerdictStatus
    grade: int | None
    reasoning: str = ""
    raw: str = ""
    model: str = ""
    prompt_version: str = ""
    mode: str = "pointwise"
    expected_grade: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    truncated: bool = False
    cache_hit: bool = False


@dataclass(frozen=True, slots=True)
class PairwiseVerdict:
    """Which of two results serves the query better, asked in both orders.

    ``winner`` is ``"a"``, ``"b"`` or ``"tie"``. When the two orders disagree (the
    judge preferred whatever was shown first, say) the pair is position-inconsistent
    and counts as a tie.
    """

    judge: str
    query: str
    a_id: str
    b_id: str
    first: str  # preference with A shown first: "a" | "b" | "tie" | "invalid"
    second: str  # preference with B shown first, mapped back to a/b labels
    winner: str
    consistent: bool
    reasoning: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cache_hit: bool = False
