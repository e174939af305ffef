"""A figure with its uncertainty: the value type every metric in judge-monitor returns.

A daily figure computed on a few hundred sampled queries is an estimate of the whole
traffic, so it travels with a 95% interval and the number of queries behind it; a figure
from too few queries is not shown at all (``value`` None) and says why, because a nDCG
from three queries on a dashboard does more harm than a gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from monitor.errors import InputError

__all__ = ["Estimate", "per_query", "percentile_interval", "query_codes", "weighted_mean"]

_BLOCK = 50  # bootstrap replicates drawn at once
#: From this many queries with many distinct values, ``weighted_mean`` gives the normal
#: interval instead of resampling (see there).
NORMAL_FROM = 5_000


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point value with a confidence interval and its sample size, or a reason for none."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    reason: str | None = None

    @classmethod
    def missing(cls, n: int, reason: str) -> Estimate:
        """An estimate that could not be computed, carrying the reason to the dashboard."""
        return cls(value=None, ci_low=None, ci_high=None, n=n, reason=reason)


def _as_array(name: str, values: Sequence[float] | npt.ArrayLike) -> npt.NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: expected numbers, got {values!r:.80}") from exc
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a flat sequence, got shape {arr.shape}")
    return arr


def percentile_interval(
    replicates: npt.ArrayLike, value: float, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Percentile interval of bootstrap replicates, widened to contain ``value``.

    Replicates that are NaN (a statistic undefined on that resample, e.g. kappa on a
    resample where one rater is constant) are left out; with none left there is no
    interval and both ends are None.
    """
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0 or math.isnan(value):
        return None, None
    alpha = (1 - confidence) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha])
    return min(float(low), value), max(float(high), value)


def weighted_mean(
    values: Sequence[float] | npt.ArrayLike,
    weights: Sequence[float] | npt.ArrayLike | None = None,
    *,
    min_n: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    normal_from: int | None = NORMAL_FROM,
) -> Estimate:
    """Weighted mean of per-query values with a percentile bootstrap interval.

    Weights are inverse inclusion probabilities, so the weighted mean estimates the
    whole traffic rather than the (stratified, oversampled) sample. The interval
    resamples queries with replacement, keeping each query's weight, which is what
    "another day's sample" would look like. NaN values (a figure undefined for that
    query, e.g. nDCG with no relevant result) are dropped and not counted in ``n``.

    A percentile interval can, with very skewed replicates, exclude the point estimate;
    the interval is then widened to include it so a dashboard never shows a value
    outside its own band.

    With ``normal_from`` queries or more and many distinct values (a day's latencies,
    costs), the interval is the normal one, value ± z·se, with the linearized standard
    error of a ratio estimator, sqrt(Σ (wᵢ (vᵢ − mean))²) / Σ wᵢ: at that size it is
    what the bootstrap converges to, at O(n) instead of O(n × n_boot). None: always
    resample.
    """
    v = _as_array("values", values)
    w = np.ones_like(v) if weights is None else _as_array("weights", weights)
    if v.shape != w.shape:
        raise InputError(f"weights: length {w.size} differs from values' length {v.size}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence: must be in (0, 1), got {confidence}")
    if n_boot < 1:
        raise InputError(f"n_boot: must be at least 1, got {n_boot}")
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise InputError("weights: every weight must be a finite number ≥ 0")
    keep = ~np.isnan(v)
    v, w = v[keep], w[keep]
    n = int(v.size)
    if n < min_n:
        return Estimate.missing(n, f"n={n} < {min_n}")
    if not np.all(np.isfinite(v)):
        raise InputError("values: infinite values cannot be averaged")
    total = float(w.sum())
    if total <= 0:
        return Estimate.missing(n, "all weights are 0")
    value = float(np.dot(w, v) / total)

    rng = np.random.default_rng(seed)
    # distinct (weight, value) pairs, as complex numbers: a 1-D sort, where
    # np.unique(axis=0) on a 2-column array sorts rows several times slower
    pairs, counts = np.unique(w + 1j * v, return_counts=True)
    distinct = np.stack([pairs.real, pairs.imag], axis=1)
    if normal_from is not None and n >= normal_from and len(distinct) * 4 > n:
        se = float(np.sqrt(np.sum((w * (v - value)) ** 2))) / total
        half = NormalDist().inv_cdf(0.5 + confidence / 2) * se
        return Estimate(value=value, ci_low=value - half, ci_high=value + half, n=n)
    if len(distinct) * 4 <= n:
        # Few distinct (weight, value) pairs (rates, grades): a resample of n queries is
        # a multinomial draw of how often each pair comes up, the same distribution
        # at a fraction of the cost (a day's 20,000 results: 1000 x 2 numbers, not
        # 1000 x 20,000).
        draws = rng.multinomial(n, counts / n, size=n_boot).astype(np.float64)
        sums = draws @ distinct[:, 0]
        weighted = draws @ (distinct[:, 0] * distinct[:, 1])
    else:
        # resampled query indexes, a block of replicates at a time (cache-sized arrays)
        wv = w * v
        sums, weighted = np.empty(n_boot), np.empty(n_boot)
        for start in range(0, n_boot, _BLOCK):
            stop = min(start + _BLOCK, n_boot)
            idx = rng.integers(0, n, size=(stop - start, n), dtype=np.int64)
            sums[start:stop] = w[idx].sum(axis=1)
            weighted[start:stop] = wv[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = weighted / sums
    low, high = percentile_interval(reps[sums > 0], value, confidence)
    return Estimate(value=value, ci_low=low, ci_high=high, n=n)


def query_codes(keys: Sequence[object | None]) -> npt.NDArray[np.int64] | None:
    """Each sample's query as a number, samples with the same key sharing it (None: a
    query of its own); None when no two share one, the common day with nothing to fold."""
    named = [key for key in keys if key is not None]
    if len(set(named)) == len(named):
        return None
    seen: dict[object, int] = {}
    own = [key if key is not None else (i,) for i, key in enumerate(keys)]
    return np.array([seen.setdefault(key, len(seen)) for key in own], dtype=np.int64)


def per_query(
    values: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64],
    queries: npt.NDArray[np.int64] | None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Samples folded into their queries (``query_codes``; None: nothing to fold): each
    query's weight summed, its value their weighted mean (plain mean when its weights
    are 0), samples with a NaN value left out.

    The lists of a panel query are rows of one query: counted as rows they would clear
    ``min_n`` with a few queries and, resampled one by one, give an interval as if each
    list were another query. Folded, the weighted mean is unchanged (Σ wv / Σ w over the
    same rows) while ``n`` and the bootstrap count queries.
    """
    if queries is None:
        return values, weights
    keep = ~np.isnan(values)
    v, w = values[keep], weights[keep]
    codes, inverse = np.unique(queries[keep], return_inverse=True)
    size = codes.size
    total = np.bincount(inverse, weights=w, minlength=size)
    weighted = np.bincount(inverse, weights=w * v, minlength=size)
    rows = np.maximum(np.bincount(inverse, minlength=size), 1).astype(np.float64)
    plain = np.bincount(inverse, weights=v, minlength=size) / rows
    folded = np.divide(weighted, total, out=plain, where=total > 0)
    return folded.astype(np.float64), total.astype(np.float64)
