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
from collections.abc import Iterable, Sequence

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
    "served_mean",
    "unjudged_share",
]

#: One grade per shown position, in rank order; None (NaN in an array) for a position
#: with no valid grade.
Grades = Sequence[float | None] | npt.NDArray[np.float64]

_MAX_GRADE = 3.0


def _floats(grades: Grades, name: str = "grades") -> list[float]:
    """Grades as a list of floats with NaN for unjudged positions, checked against the
    0–3 scale.

    Plain Python, not numpy: a list holds ten or twenty grades, and a day computes its
    figures for thousands of lists, where numpy's per-call cost was most of the metrics
    step's time.
    """
    values = [math.nan if g is None else float(g) for g in grades]
    bad = [g for g in values if g == g and not 0.0 <= g <= _MAX_GRADE]
    if bad:
        raise InputError(
            f"{name}: grades must lie in [0, {_MAX_GRADE:g}], got {sorted(set(bad))[:5]}"
        )
    return values


def _check_k(k: int) -> None:
    if k < 1:
        raise InputError(f"k: must be a positive cut-off, got {k}")


def _judged(values: list[float]) -> list[float]:
    return [g for g in values if g == g]


def _dcg(grades: Sequence[float]) -> float:
    """DCG with exponential gains 2^g − 1; an unjudged (NaN) position earns nothing."""
    return sum((2.0**g - 1.0) / math.log2(i + 2) for i, g in enumerate(grades) if g == g)


def _ndcg(values: list[float], k: int, ideal: list[float]) -> float:
    idcg = _dcg(sorted(_judged(ideal), reverse=True)[:k])
    if idcg <= 0:
        return math.nan
    return min(1.0, _dcg(values[:k]) / idcg)


def ndcg_at_k(grades: Grades, k: int, *, ideal: Grades | None = None) -> float:
    """nDCG@k with exponential gains 2^g − 1 and log2 discounts (the TREC convention).

    The ideal ranking is built from the same list's judged grades, which measures how
    well the system ordered what it retrieved; pass ``ideal`` (e.g. all human labels
    known for the query) to also penalise what it failed to retrieve. An ideal with no
    positive gain makes nDCG undefined, so the result is NaN rather than a misleading 0.
    Unjudged positions earn no gain and are left out of the ideal.
    """
    _check_k(k)
    values = _floats(grades)
    return _ndcg(values, k, values if ideal is None else _floats(ideal, "ideal"))


def _pooled(values: list[float], k: int, pool: list[float]) -> float:
    own = sorted(_judged(values), reverse=True)[:k]
    if not own:
        return math.nan
    best = sorted(_judged(pool), reverse=True)[:k]
    ideal = best + [0.0] * (len(own) - len(best))
    ideal[: len(own)] = [max(a, b) for a, b in zip(ideal, own, strict=False)]
    value = _ndcg(values, k, ideal)
    return 0.0 if math.isnan(value) else value


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
    return _pooled(_floats(grades), k, _floats(pool, "pool"))


def _precision(values: list[float], k: int, relevant: float) -> float:
    judged = _judged(values[:k])
    return sum(g >= relevant for g in judged) / len(judged) if judged else math.nan


def precision_at_k(grades: Grades, k: int, relevant: float = 2) -> float:
    """Share of the judged results among the top k graded ≥ ``relevant``.

    The denominator is the number of judged positions in the top k, not k: a niche
    query that correctly returns 4 perfect results should not score 0.4 at k=10, and
    an unjudged position should not count as a miss. NaN when no top-k result is judged.
    """
    _check_k(k)
    return _precision(_floats(grades), k, relevant)


def _mean(values: list[float]) -> float:
    judged = _judged(values)
    return sum(judged) / len(judged) if judged else math.nan


def mean_grade(grades: Grades) -> float:
    """Mean grade over the judged positions of the list; NaN when none is judged."""
    return _mean(_floats(grades))


def _bad_top1(values: list[float]) -> float:
    if not values or values[0] != values[0]:
        return math.nan
    return float(values[0] == 0)


def bad_top1(grades: Grades) -> float:
    """1.0 when the top result is graded 0 (irrelevant), 0.0 when not, NaN if unknown.

    The first result is the one most users see and click; an irrelevant one there is
    the most visible failure. An empty or unjudged top position gives NaN.
    """
    return _bad_top1(_floats(grades))


def _no_relevant(values: list[float], relevant: float) -> float:
    if not values:
        return 1.0
    judged = _judged(values)
    if not judged:
        return math.nan
    return float(not any(g >= relevant for g in judged))


def no_relevant(grades: Grades, relevant: float = 2) -> float:
    """1.0 when no judged result is graded ≥ ``relevant``, else 0.0.

    An empty list (a zero-result search) counts as 1.0: the user found nothing. A
    non-empty list with no judged position at all gives NaN.
    """
    return _no_relevant(_floats(grades), relevant)


def _unjudged(values: list[float]) -> float:
    return sum(g != g for g in values) / len(values) if values else math.nan


def unjudged_share(grades: Grades) -> float:
    """Share of positions with no valid grade; NaN for an empty list."""
    return _unjudged(_floats(grades))


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
    for k in ks:
        _check_k(k)
    values = _floats(grades)
    judged_any = any(g == g for g in values)
    pool_values = None if pool is None else _floats(pool, "pool")
    figures: dict[str, float] = {}
    for k in ks:
        value = _ndcg(values, k, values)
        per_list = 0.0 if math.isnan(value) and judged_any else value
        pooled = per_list if pool_values is None else _pooled(values, k, pool_values)
        figures[f"ndcg@{k}"] = pooled
        figures[f"ndcg_list@{k}"] = per_list
        figures[f"precision@{k}"] = _precision(values, k, relevant)
    figures["mean_grade"] = _mean(values)
    figures["bad_top1_rate"] = _bad_top1(values)
    figures["no_relevant_rate"] = _no_relevant(values, relevant)
    figures["unjudged_share"] = _unjudged(values)
    return figures


def served_mean(figures: Iterable[tuple[float, float]]) -> float:
    """A query's figure on a day it was served several lists (a panel query's): the mean
    of the lists' figures weighted by the searches each was served, over the finite
    ones; NaN when none is. ``figures``: (searches, figure) per list."""
    finite = [(w, x) for w, x in figures if math.isfinite(x)]
    total = math.fsum(w for w, _ in finite)
    return math.fsum(w * x for w, x in finite) / total if total > 0 else math.nan
