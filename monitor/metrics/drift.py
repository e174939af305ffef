"""Drift tests: is today's distribution different from the baseline window's?

Each test is one small pure function and a ``DriftTest`` spec: its name, default
threshold, which figure the threshold is compared with (``statistic`` or ``p_value``)
and, explicitly, whether a *higher* figure means *more* drift. PSI and Wasserstein
distances grow with drift (higher is drift); the p-values of chi-square and KS shrink
with it (lower is drift). ``DriftResult`` carries all of it, so an alert rule or a
dashboard never has to guess the direction.

Default thresholds: PSI 0.2 (the credit-scoring rule of thumb: < 0.1 stable, 0.1–0.2
moderate, > 0.2 significant shift); p-values 0.05; Wasserstein 0.25 grade points for
grade distributions on the 0–3 scale.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from monitor.errors import InputError

__all__ = [
    "CHI_SQUARE",
    "KS",
    "PSI",
    "WASSERSTEIN",
    "DriftResult",
    "DriftTest",
    "chi_square",
    "chi_square_test",
    "grade_counts",
    "ks",
    "ks_test",
    "new_query_share",
    "psi",
    "psi_test",
    "share_drift",
    "wasserstein",
    "wasserstein_test",
]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DriftTest:
    """A drift test's identity: what it is called, its threshold and its direction."""

    name: str
    threshold: float
    compared: Literal["statistic", "p_value"]
    higher_is_drift: bool


PSI = DriftTest("psi", 0.2, "statistic", higher_is_drift=True)
CHI_SQUARE = DriftTest("chi_square", 0.05, "p_value", higher_is_drift=False)
KS = DriftTest("ks", 0.05, "p_value", higher_is_drift=False)
WASSERSTEIN = DriftTest("wasserstein", 0.25, "statistic", higher_is_drift=True)


@dataclass(frozen=True, slots=True)
class DriftResult:
    """The outcome of one drift test.

    ``threshold`` is compared with the p-value when the test has one (then
    ``higher_is_drift`` is False: a small p-value is drift), else with the statistic.
    """

    name: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    higher_is_drift: bool


def _result(
    test: DriftTest, statistic: float, p_value: float | None, threshold: float | None
) -> DriftResult:
    limit = test.threshold if threshold is None else threshold
    figure = p_value if test.compared == "p_value" else statistic
    assert figure is not None
    drifted = figure > limit if test.higher_is_drift else figure < limit
    return DriftResult(test.name, statistic, p_value, limit, bool(drifted), test.higher_is_drift)


def _counts(name: str, values: npt.ArrayLike) -> Array:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name}: expected a non-empty flat list of counts, got shape {arr.shape}")
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise InputError(f"{name}: counts must be finite and ≥ 0")
    if arr.sum() <= 0:
        raise InputError(f"{name}: all counts are 0; there is no distribution to compare")
    return arr


def _sample(name: str, values: npt.ArrayLike) -> Array:
    arr = np.asarray(values, dtype=np.float64).ravel()
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        raise InputError(f"{name}: no values to compare")
    return arr


def psi(expected_counts: npt.ArrayLike, actual_counts: npt.ArrayLike, eps: float = 1e-4) -> float:
    """Population stability index Σ (a − e) · ln(a / e) over bins of two count vectors.

    Counts are turned into shares; shares below ``eps`` are raised to ``eps`` so an
    empty bin on one side gives a large but finite index instead of infinity. Always
    ≥ 0 (each term has the sign of (a − e) twice), 0 for identical shares.
    """
    e = _counts("expected_counts", expected_counts)
    a = _counts("actual_counts", actual_counts)
    if e.shape != a.shape:
        raise InputError(f"actual_counts: {a.size} bins, expected_counts has {e.size}")
    e_share = np.maximum(e / e.sum(), eps)
    a_share = np.maximum(a / a.sum(), eps)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def chi_square(expected_counts: npt.ArrayLike, actual_counts: npt.ArrayLike) -> tuple[float, float]:
    """Chi-square test of homogeneity of two count vectors: (statistic, p-value).

    Bins empty on both sides carry no information and are dropped (scipy refuses
    zero expected frequencies); with a single non-empty bin left the two
    distributions are identical: statistic 0, p-value 1.
    """
    e = _counts("expected_counts", expected_counts)
    a = _counts("actual_counts", actual_counts)
    if e.shape != a.shape:
        raise InputError(f"actual_counts: {a.size} bins, expected_counts has {e.size}")
    table = np.vstack([e, a])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    result = stats.chi2_contingency(table)
    return float(result.statistic), float(result.pvalue)


def ks(a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov test (scipy ``ks_2samp``): (statistic, p-value)."""
    with warnings.catch_warnings():
        # scipy warns when it falls back from the exact to the asymptotic p-value
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ks_2samp(_sample("a", a), _sample("b", b))
    return float(result.statistic), float(result.pvalue)


def wasserstein(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Earth mover's distance between two samples, in the samples' own unit."""
    return float(stats.wasserstein_distance(_sample("a", a), _sample("b", b)))


def psi_test(
    expected_counts: npt.ArrayLike, actual_counts: npt.ArrayLike, threshold: float | None = None
) -> DriftResult:
    """PSI as a drift verdict (higher is drift)."""
    return _result(PSI, psi(expected_counts, actual_counts), None, threshold)


def chi_square_test(
    expected_counts: npt.ArrayLike, actual_counts: npt.ArrayLike, threshold: float | None = None
) -> DriftResult:
    """Chi-square as a drift verdict (p-value below the threshold is drift)."""
    statistic, p_value = chi_square(expected_counts, actual_counts)
    return _result(CHI_SQUARE, statistic, p_value, threshold)


def ks_test(a: npt.ArrayLike, b: npt.ArrayLike, threshold: float | None = None) -> DriftResult:
    """KS as a drift verdict (p-value below the threshold is drift)."""
    statistic, p_value = ks(a, b)
    return _result(KS, statistic, p_value, threshold)


def wasserstein_test(
    a: npt.ArrayLike, b: npt.ArrayLike, threshold: float | None = None
) -> DriftResult:
    """Wasserstein distance as a drift verdict (higher is drift)."""
    return _result(WASSERSTEIN, wasserstein(a, b), None, threshold)


def grade_counts(grades: Iterable[float | None], scale: int = 4) -> npt.NDArray[np.int64]:
    """Counts of each grade 0..scale−1; missing grades (None/NaN) are skipped.

    A fractional ensemble grade (a median of 1.5) is binned to the nearest grade with
    halves rounded up, so the bins stay those of the scale.
    """
    arr = np.array([np.nan if g is None else g for g in grades], dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    binned = np.floor(arr + 0.5).astype(np.int64)
    if np.any((binned < 0) | (binned >= scale)):
        bad = sorted(set(arr[(binned < 0) | (binned >= scale)].tolist()))[:5]
        raise InputError(f"grades: outside the 0–{scale - 1} scale: {bad}")
    return np.bincount(binned, minlength=scale)


def share_drift(baseline_shares: Mapping[str, float], current: Mapping[str, float]) -> float:
    """PSI between two segment mixes (e.g. share of traffic per locale).

    Keys are the union of both sides; a segment missing on one side has share 0 there
    (and is floored at PSI's ``eps``). Shares are renormalised, so counts work too.
    """
    keys = sorted(set(baseline_shares) | set(current))
    if not keys:
        raise InputError("baseline_shares/current: both segment mixes are empty")
    e = [float(baseline_shares.get(key, 0.0)) for key in keys]
    a = [float(current.get(key, 0.0)) for key in keys]
    return psi(e, a)


def new_query_share(
    current_queries: Sequence[str],
    seen_queries: Collection[str],
    weights: Sequence[float] | None = None,
) -> float:
    """Share of today's queries never seen in the baseline window; NaN with no queries.

    With ``weights`` (each query's sampling weight: the searches it stands for), the
    share of today's searches: a sample that is not a simple random one (Neyman
    allocation, a stratum sampled harder, a capped day judging a share of its new
    lists) then still estimates the traffic's share. Pass normalised queries
    (``monitor.types.normalize_query``) on both sides so case and spacing do not count
    as novelty.
    """
    if not current_queries:
        return math.nan
    seen = seen_queries if isinstance(seen_queries, set | frozenset) else set(seen_queries)
    w = [1.0] * len(current_queries) if weights is None else [float(x) for x in weights]
    if len(w) != len(current_queries):
        raise InputError(f"weights: {len(w)} for {len(current_queries)} queries")
    total = math.fsum(w)
    if total <= 0:
        return math.nan
    return math.fsum(x for q, x in zip(current_queries, w, strict=True) if q not in seen) / total
