"""A daily ceiling on paid judge calls: past it, the lists that need calls are subsampled.

Why: most days cost little (unchanged lists are answered by the verdict cache), but a day
an index is rebuilt or a ranker rolled out serves mostly new results, and every one of
them is a paid call for every judge. ``sampling.paid_calls_per_day`` caps that day.

Design (pure; ``pipeline.budget_step`` reads the cache and keeps the decision):

* **Who gives way.** Only rows (sampled lists) that need a call: a list the cache answers
  whole costs nothing and is always judged, so the panel's unchanged lists and every
  cached query keep their figures.
* **How.** Each row that needs calls is judged with one probability p (Poisson
  sampling) and its weight raised by 1/p (Horvitz–Thompson), so the day's estimates stay
  unbiased, with a wider CI. p is the one whose *expected* calls meet the ceiling: a call
  (a cache key) that m of those rows need is paid with probability 1 − (1 − p)^m. The
  ceiling holds in expectation, not on every day.
* **Which.** A row is kept when its draw ``row_draw(seed, day, row)`` is below p: the same
  row, seed and day give the same draw, so a rerun that uses the first run's p and rows
  (``BudgetDecision``) keeps the same rows, although the rows it kept are cached by then.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from monitor.sampling import DailySample
from monitor.types import SampledQuery

__all__ = [
    "BudgetDecision",
    "apply_decision",
    "budget_probability",
    "reweighted",
    "row_draw",
    "row_key",
    "within_budget",
]

_BISECTIONS = 50


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    """The day's ceiling at work: rows that needed calls (``costly``, by ``row_key``) were
    judged with probability ``p``; ``p`` None when every call fitted."""

    p: float | None
    costly: frozenset[str]


def row_key(sq: SampledQuery) -> str:
    """A sampled list's identity within its day: ranker, query, list number, results."""
    r = sq.record
    ids = "\x1f".join(x.id for x in r.results)
    blob = "|".join((r.ranker, r.normalized_query, str(sq.list_no), ids))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def row_draw(seed: int, day: dt.date, key: str) -> float:
    """The row's uniform draw in [0, 1): the same seed, day and row give the same one."""
    digest = hashlib.sha256(f"{seed}|{day.isoformat()}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def budget_probability(calls: Sequence[Collection[str]], ceiling: int) -> float | None:
    """The p whose expected paid calls are ``ceiling``, ``calls[i]`` being the cache keys
    row i would pay for; None when all of them fit."""
    needed = Counter(key for row in calls for key in set(row))
    if len(needed) <= ceiling:
        return None
    low, high = 0.0, 1.0
    for _ in range(_BISECTIONS):
        mid = (low + high) / 2
        expected = sum(1.0 - (1.0 - mid) ** m for m in needed.values())
        low, high = (mid, high) if expected <= ceiling else (low, mid)
    return low


def within_budget(
    queries: Sequence[SampledQuery], decision: BudgetDecision, *, seed: int, day: dt.date
) -> list[int]:
    """Indexes of the rows judged under ``decision``; a kept costly row's inclusion
    probability is multiplied by p (see ``reweighted``)."""
    if decision.p is None:
        return list(range(len(queries)))
    p = decision.p
    return [
        i
        for i, sq in enumerate(queries)
        if (key := row_key(sq)) not in decision.costly or row_draw(seed, day, key) < p
    ]


def reweighted(sq: SampledQuery, decision: BudgetDecision) -> SampledQuery:
    """``sq`` as judged under ``decision``: a costly row stands for 1/p rows like it."""
    if decision.p is None or row_key(sq) not in decision.costly:
        return sq
    return replace(sq, inclusion_probability=sq.inclusion_probability * decision.p)


def apply_decision(sample: DailySample, decision: BudgetDecision) -> DailySample:
    """The day's sample as judged under ``decision``: the rows kept, reweighted."""
    kept = within_budget(sample.queries, decision, seed=sample.seed, day=sample.day)
    if len(kept) == len(sample.queries) and decision.p is None:
        return sample
    return replace(
        sample,
        queries=[reweighted(sample.queries[i], decision) for i in kept],
        searches=[sample.searches[i] for i in kept],
        query_probabilities=[sample.query_probabilities[i] for i in kept],
    )
