"""Per-query quality figures from the grades of one ranked list.

Grades arrive in rank order, one per shown position, on the 0–3 scale (an ensemble
grade may be fractional, e.g. a median of 1.5). ``None`` (or NaN) means the position has
no valid grade — every judge failed or answered invalid JSON. Such a position is
*unjudged*: it earns no gain, is left out of the ideal ranking and out of the
denominators, and is reported as ``unjudged_share`` so that a drop caused by failing
judges is not mistaken for a drop in search quality.

A figure that is undefined for a query (nDCG when nothing in the list is relevant) is
NaN, never 0: the daily aggregation drops NaN instead of averaging in a fake zero.

Two nDCGs. ``ndcg@k`` builds its ideal ranking from a *pool*: every result ever judged
for the query (``monitor.store.pool_reads``), as TREC pooling does, so it drops when the
system shows worse results than it has shown before, not only when it orders them badly.
``ndcg_list@k`` builds the ideal from the judged list itself: how well the system
ordered what it retrieved (ten mediocre results in a sensible order score 1.0). A query
seen once has a pool that is its own list, so its two figures are equal: the pooled
figure never calls a query bad for missing results nobody has ever found, and a query's
figure does not jump when it is seen a second time with the same results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from monitor.errors import InputError

__all__ = [
    "Grades",
    "bad_top1",
    "mean_grade",
    "ndcg_at_k",
    "no_relevant",
    "pooled_ndcg_at_k",
    "precision_at_k",
    "query_figures",
    "unjudged_share",
]

#: One grade per shown position, in rank order; None (NaN in an array) for a position
#: with no valid grade.
Grades = Sequence[float | None] | npt.NDArray[np.float64]

_MAX_GRADE = 3.0


def _to_array(grades: Grades, name: str = "grades") -> npt.NDArray[np.float64]:
    """Grades as floats with NaN for unjudged positions, checked against the 0–3 scale.

    An array of floats (what ``query_figures`` converts once for all its figures) is
    checked as it is, not rebuilt element by element.
    """
    if isinstance(grades, np.ndarray) and grades.dtype == np.float64:
        arr = grades
    else:
        arr = np.array([np.nan if g is None else g for g in grades], dtype=np.float64)
    judged = arr[~np.isnan(arr)]
    if np.any((judged < 0) | (judged > _MAX_GRADE)):
        bad = sorted(set(judged[(judged < 0) | (judged > _MAX_GRADE)].tolist()))[:5]
        raise InputError(f"{name}: grades must lie in [0, {_MAX_GRADE:g}], got {bad}")
    return arr


def _check_k(k: int) -> None:
    if k < 1:
        raise InputError(f"k: must be a positive cut-off, got {k}")


def _dcg(gains: npt.NDArray[np.float64]) -> float:
    discounts = 1.0 / np.log2(np.arange(2, gains.size + 2))
    return float(np.dot(gains, discounts))


def ndcg_at_k(grades: Grades, k: int, *, ideal: Grades | None = None) -> float:
    """nDCG@k with exponential gains 2^g − 1 and log2 discounts (the TREC convention).

    The ideal ranking is built from the same list's judged grades, which measures how
    well the system ordered what it retrieved; pass ``ideal`` (e.g. all human labels
    known for the query) to also penalise what it failed to retrieve. An ideal with no
    positive gain makes nDCG undefined, so the result is NaN rather than a misleading 0.
    Unjudged positions earn no gain and are left out of the ideal.
    """
    _check_k(k)
    arr = _to_array(grades)
    top = arr[:k]
    gains = np.where(np.isnan(top), 0.0, np.exp2(np.nan_to_num(top)) - 1.0)
    ideal_arr = arr if ideal is None else _to_array(ideal, "ideal")
    ideal_grades = np.sort(ideal_arr[~np.isnan(ideal_arr)])[::-1][:k]
    idcg = _dcg(np.exp2(ideal_grades) - 1.0)
    if idcg <= 0:
        return math.nan
    return min(1.0, _dcg(gains) / idcg)


def pooled_ndcg_at_k(grades: Grades, k: int, pool: Grades) -> float:
    """nDCG@k against a pooled ideal: ``pool`` holds one grade per distinct result ever
    judged for the query (the list's own results among them).

    The ideal's i-th grade is the larger of the pool's and the list's own i-th best, so
    a pool that misses the list's results (or holds older, lower grades for them) never
    makes the ideal worse than the list itself, and the figure stays in [0, 1]. A
    judged list with no gain against a pool with none is 0 (as in ``query_figures``);
    NaN when nothing in the list is judged.
    """
    _check_k(k)
    arr = _to_array(grades)
    own = np.sort(arr[~np.isnan(arr)])[::-1][:k]
    if own.size == 0:
        return math.nan
    pooled = _to_array(pool, "pool")
    best = np.sort(pooled[~np.isnan(pooled)])[::-1][:k]
    ideal = np.zeros(max(own.size, best.size))
    ideal[: best.size] = best
    ideal[: own.size] = np.maximum(ideal[: own.size], own)
    value = ndcg_at_k(arr, k, ideal=ideal)
    return 0.0 if math.isnan(value) else value


def precision_at_k(grades: Grades, k: int, relevant: float = 2) -> float:
    """Share of the judged results among the top k graded ≥ ``relevant``.

    The denominator is the number of judged positions in the top k, not k: a niche
    query that correctly returns 4 perfect results should not score 0.4 at k=10, and
    an unjudged position should not count as a miss. NaN when no top-k result is judged.
    """
    _check_k(k)
    top = _to_array(grades)[:k]
    judged = top[~np.isnan(top)]
    if judged.size == 0:
        return math.nan
    return float(np.mean(judged >= relevant))


def mean_grade(grades: Grades) -> float:
    """Mean grade over the judged positions of the list; NaN when none is judged."""
    arr = _to_array(grades)
    judged = arr[~np.isnan(arr)]
    return float(judged.mean()) if judged.size else math.nan


def bad_top1(grades: Grades) -> float:
    """1.0 when the top result is graded 0 (irrelevant), 0.0 when not, NaN if unknown.

    The first result is the one most users see and click; an irrelevant one there is
    the most visible failure. An empty or unjudged top position gives NaN.
    """
    arr = _to_array(grades)
    if arr.size == 0 or np.isnan(arr[0]):
        return math.nan
    return float(arr[0] == 0)


def no_relevant(grades: Grades, relevant: float = 2) -> float:
    """1.0 when no judged result is graded ≥ ``relevant``, else 0.0.

    An empty list (a zero-result search) counts as 1.0: the user found nothing. A
    non-empty list with no judged position at all gives NaN.
    """
    arr = _to_array(grades)
    if arr.size == 0:
        return 1.0
    judged = arr[~np.isnan(arr)]
    if judged.size == 0:
        return math.nan
    return float(not np.any(judged >= relevant))


def unjudged_share(grades: Grades) -> float:
    """Share of positions with no valid grade; NaN for an empty list."""
    arr = _to_array(grades)
    return float(np.mean(np.isnan(arr))) if arr.size else math.nan


def query_figures(
    grades: Grades,
    ks: Sequence[int] = (3, 10),
    relevant: float = 2,
    *,
    pool: Grades | None = None,
) -> dict[str, float]:
    """Every per-query figure of one ranked list, keyed like "ndcg@3" or "mean_grade".

    Keys: ``ndcg@k`` (against ``pool``, the query's pooled grades, see
    ``pooled_ndcg_at_k``; without a pool, against the list itself), ``ndcg_list@k``
    (always against the list itself) and ``precision@k`` for each k, ``mean_grade``,
    ``bad_top1_rate``, ``no_relevant_rate`` and ``unjudged_share``. Per query the rates
    are 0/1 flags; averaged over queries they become rates, hence the names.

    For monitoring, a judged list in which nothing earns a gain (every result graded 0)
    counts as nDCG 0, not NaN: the ideal is built from the list itself, so leaving such
    lists out would hide exactly the worst failure (a segment served garbage). A list
    with no judged position at all stays NaN (unknown, not bad).
    """
    figures: dict[str, float] = {}
    arr = _to_array(grades)
    judged_any = bool(np.any(~np.isnan(arr)))
    pool_arr = None if pool is None else _to_array(pool, "pool")
    for k in ks:
        value = ndcg_at_k(arr, k)
        per_list = 0.0 if math.isnan(value) and judged_any else value
        figures[f"ndcg@{k}"] = per_list if pool_arr is None else pooled_ndcg_at_k(arr, k, pool_arr)
        figures[f"ndcg_list@{k}"] = per_list
        figures[f"precision@{k}"] = precision_at_k(arr, k, relevant)
    figures["mean_grade"] = mean_grade(arr)
    figures["bad_top1_rate"] = bad_top1(arr)
    figures["no_relevant_rate"] = no_relevant(arr, relevant)
    figures["unjudged_share"] = unjudged_share(arr)
    return figures
