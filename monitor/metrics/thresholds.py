"""Cut points that turn a local judge's continuous score into a 0–3 grade.

A local judge (lexical coverage, embedding cosine) produces a score, not a grade; three
ascending cut points decide the grade (how many of them the score reaches). Two ways to
choose them: ``quantile_thresholds`` needs no labels (fixed shares of the scores become
grades 1, 2, 3), ``fit_thresholds`` picks the cut points that maximise quadratic-weighted
kappa against human grades.

A kappa measured on the pairs the cut points were fitted on flatters them, so the kappa
``fit_thresholds`` reports is cross-validated: fit on k−1 folds, grade the held-out
fold, pool the held-out grades of all folds, compute kappa once. Folds are grouped by
query (a query's pairs never sit on both sides), because pairs of one query share the
query text and are not independent. The final cut points are fitted on all pairs.

The search is coordinate ascent over candidate cut points taken from score quantiles.
Every statistic here is a function of the 4×4 table (human grade × judge grade), and the
table for any cut points is a difference of cumulative per-bin counts, so one sweep over
all candidates of one cut point costs a few vectorised array operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import GroupKFold

from monitor.errors import InputError
from monitor.metrics.agreement import LABELS, table_statistics

__all__ = [
    "DEFAULT_QUANTILES",
    "ThresholdFit",
    "apply_thresholds",
    "fit_thresholds",
    "quantile_thresholds",
]

#: Shares of scores below grade 1, 2 and 3 cut points when no labels are available.
DEFAULT_QUANTILES: tuple[float, float, float] = (0.5, 0.7, 0.9)
_N_CUTS = len(LABELS) - 1
_CANDIDATES = 199
_MAX_ROUNDS = 25


@dataclass(frozen=True, slots=True)
class ThresholdFit:
    """Fitted cut points, their cross-validated kappa, and the in-sample kappa for contrast."""

    thresholds: tuple[float, ...]
    cv_kappa: float
    fitted_kappa: float
    n: int


def _scores(name: str, values: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a flat sequence of scores, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: scores must be finite numbers (no NaN or inf)")
    return arr


def _check_cuts(cuts: Sequence[float]) -> npt.NDArray[np.float64]:
    arr = np.asarray(cuts, dtype=np.float64)
    if arr.shape != (_N_CUTS,) or np.any(np.diff(arr) < 0) or not np.all(np.isfinite(arr)):
        raise InputError(
            f"thresholds: need {_N_CUTS} ascending finite cut points, got {list(cuts)}"
        )
    return arr


def quantile_thresholds(
    scores: Sequence[float] | npt.ArrayLike,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> tuple[float, ...]:
    """Cut points at fixed score quantiles: the label-free baseline fitted cut points must beat.

    With the default (0.5, 0.7, 0.9), half of the results grade 0, a fifth 1, a fifth 2
    and a tenth 3 — roughly the shape of graded web-search judgments.
    """
    arr = _scores("scores", scores)
    if arr.size == 0:
        raise InputError("scores: need at least one score to take quantiles of")
    q = np.asarray(quantiles, dtype=np.float64)
    if q.shape != (_N_CUTS,) or np.any(np.diff(q) < 0) or np.any((q < 0) | (q > 1)):
        raise InputError(f"quantiles: need {_N_CUTS} ascending shares in [0, 1], got {quantiles}")
    return tuple(float(v) for v in np.quantile(arr, q))


def apply_thresholds(
    scores: Sequence[float] | npt.ArrayLike, cuts: Sequence[float]
) -> npt.NDArray[np.int64]:
    """Grade of each score: how many cut points it reaches (score ≥ cut), 0..3."""
    arr = _scores("scores", scores)
    c = _check_cuts(cuts)
    return (arr[:, None] >= c[None, :]).sum(axis=1).astype(np.int64)


def _kappa(human: npt.NDArray[np.int64], grades: npt.NDArray[np.int64]) -> float:
    if np.unique(human).size < 2 and np.unique(grades).size < 2:
        return float("nan")
    table = np.zeros((len(LABELS), len(LABELS)))
    np.add.at(table, (human, grades), 1.0)
    return float(table_statistics(table)["kappa"])


class _Binned:
    """Per-bin human-grade counts between candidate cut points, for O(1) tables."""

    def __init__(self, scores: npt.NDArray[np.float64], human: npt.NDArray[np.int64]) -> None:
        probs = np.linspace(0.0, 1.0, _CANDIDATES + 2)[1:-1]
        self.edges = np.unique(np.quantile(scores, probs))
        bins = np.searchsorted(self.edges, scores, side="right")  # candidates ≤ score
        counts = np.zeros((self.edges.size + 1, len(LABELS)))
        np.add.at(counts, (bins, human), 1.0)
        self.cum = np.vstack([np.zeros(len(LABELS)), counts.cumsum(axis=0)])

    def tables(self, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """(m, 4, 4) tables for m candidate index triples (grade g ⇔ score ≥ edges[idx[g-1]])."""
        top = self.edges.size + 1
        bounds = np.column_stack(
            [np.zeros(len(idx), dtype=np.int64), idx + 1, np.full(len(idx), top)]
        )
        cols = self.cum[bounds[:, 1:]] - self.cum[bounds[:, :-1]]  # (m, 4 judge, 4 human)
        return np.swapaxes(cols, 1, 2)

    def ascend(self, start: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], float]:
        idx = start.copy()
        best = float(np.nan_to_num(table_statistics(self.tables(idx[None]))["kappa"][0], nan=-2))
        for _ in range(_MAX_ROUNDS):
            improved = False
            for j in range(_N_CUTS):
                low = idx[j - 1] if j > 0 else 0
                high = idx[j + 1] if j < _N_CUTS - 1 else self.edges.size - 1
                options = np.arange(low, high + 1)
                trials = np.repeat(idx[None], options.size, axis=0)
                trials[:, j] = options
                kappas = np.nan_to_num(table_statistics(self.tables(trials))["kappa"], nan=-2.0)
                pick = int(np.argmax(kappas))
                if kappas[pick] > best + 1e-12:
                    best, idx, improved = float(kappas[pick]), trials[pick], True
            if not improved:
                break
        return idx, best


def _fit(scores: npt.NDArray[np.float64], human: npt.NDArray[np.int64]) -> tuple[float, ...]:
    binned = _Binned(scores, human)
    if binned.edges.size == 0:
        raise InputError("scores: need at least one score to fit thresholds on")
    shares = np.cumsum(np.bincount(human, minlength=len(LABELS)))[:-1] / human.size
    starts = [shares, np.asarray(DEFAULT_QUANTILES)]
    best_idx, best_kappa = None, -np.inf
    for share in starts:
        first = np.searchsorted(binned.edges, np.quantile(scores, share), side="left")
        first = np.minimum(first, binned.edges.size - 1).astype(np.int64)
        idx, kappa = binned.ascend(first)
        if kappa > best_kappa:
            best_idx, best_kappa = idx, kappa
    assert best_idx is not None
    return tuple(float(binned.edges[i]) for i in best_idx)


def fit_thresholds(
    scores: Sequence[float] | npt.ArrayLike,
    human: Sequence[int] | npt.ArrayLike,
    *,
    groups: Sequence[str] | npt.ArrayLike | None = None,
    folds: int = 5,
    seed: int = 0,
) -> ThresholdFit:
    """Cut points maximising quadratic kappa against ``human``, with a cross-validated kappa.

    ``groups`` (one key per pair, e.g. the query id) keeps each group in one fold; without
    it every pair is its own group. ``cv_kappa`` is the honest figure to report;
    ``fitted_kappa`` is measured on the fitting data and is shown only for contrast.
    """
    s = _scores("scores", scores)
    h = np.asarray(human)
    if h.shape != s.shape:
        raise InputError(f"scores/human: need equal lengths, got {s.shape} and {h.shape}")
    if not np.all(np.isin(h, LABELS)):
        raise InputError("human: grades must be integers 0–3")
    h = h.astype(np.int64)
    keys = np.asarray(groups if groups is not None else np.arange(s.size))
    if keys.shape != s.shape:
        raise InputError(f"groups: need one group per score, got {keys.shape} for {s.shape}")
    n_groups = np.unique(keys).size
    if folds < 2 or n_groups < folds:
        raise InputError(f"folds: need 2 ≤ folds ≤ {n_groups} groups, got {folds}")

    pooled = np.zeros_like(h)
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(s, h, groups=keys):
        pooled[test] = apply_thresholds(s[test], _fit(s[train], h[train]))
    final = _fit(s, h)
    return ThresholdFit(
        thresholds=final,
        cv_kappa=float(cohen_kappa_score(h, pooled, labels=list(LABELS), weights="quadratic")),
        fitted_kappa=_kappa(h, apply_thresholds(s, final)),
        n=int(s.size),
    )
