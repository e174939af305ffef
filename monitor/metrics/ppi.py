"""Judge figures corrected by a few human labels: PPI++ means, their CIs, and label planning.

A judge's daily nDCG is the judge's opinion; when the judge is biased its CI covers the
true level almost never. Prediction-powered inference (Angelopoulos et al., Science 2023)
with a tuned λ (PPI++, arXiv 2311.01453) combines the judge's per-query values on many
queries with human values on a random few:

    θ̂(λ) = λ · mean_U(ŷ) + mean_L(y − λ ŷ)

``L`` is the labelled queries (human value ``y`` and judge value ``ŷ``), ``U`` the
unlabelled ones (judge only). θ̂ is unbiased whatever the judge's bias, because the second
term measures that bias on the labelled queries. λ = 0 is the humans-only (classical)
mean, λ = 1 plain PPI; PPI++ picks λ from the data to minimise the variance, so its CI is
never wider than the humans-only one (up to the estimation of λ; a guard below makes it
never wider here).

Weights: the day's sample is stratified and oversampled, so each query carries its
sampling weight (inverse inclusion probability). Both means are weighted (Hájek) means
with the weights of their own set, and the labelled set's weights include the
probability of being picked for labelling (``two_phase_weights``). The standard errors
are the linearized ones of a ratio estimator, sqrt(Σ w̃ᵢ² (vᵢ − v̄)²) / n with w̃ the
weights scaled to mean 1, as ``weighted_mean`` uses; with equal weights they are
``std / √n``, exactly ``ppi_py``'s.

``ppi-python`` (``ppi_py``) is a test-time reference, not a runtime dependency: it pulls
numba, pandas, statsmodels and gdown for what is here ~100 lines of numpy, and the
daily job should not load a JIT compiler to average 100 numbers. Tests check this
implementation against ``ppi_py.ppi_mean_ci`` / ``ppi_mean_pointestimate`` (``interval="z"``,
λ tuned by ``ppi_py``'s own rule) and the power analysis against ``ppi_py.ppi_power``.

Differences from ``ppi_py``, each deliberate:

1. The default interval is ``"t"``: unbiased (ddof 1) variances, Student's t quantile
   with Welch–Satterthwaite degrees of freedom, and a λ tuned on the labels costs the
   labelled part one more degree of freedom (it is a fitted slope, as in a regression
   estimator). With 5, 10 and 20 labels ``ppi_py``'s normal interval (``"z"``) covers
   81%, 89% and 90% on TREC DL19 days (``bench/label_correction.py --interval z``).
2. With unequal weights the variance is centred on the weighted mean (``ppi_py`` centres
   ``w̃·v`` on its mean, which is not the ratio estimator's variance).
3. If the tuned λ would give a wider interval than the humans-only one (λ̂ uses a pooled
   variance, and pays the degree of freedom above), λ is re-chosen as the exact minimiser
   of the estimated variance on [0, 1], and the humans-only interval is used if even that
   is wider: the corrected CI is never wider than the humans-only CI on the same labels.

It is one module (over 400 lines) because the estimator, its humans-only baseline, the
two-phase weights and the power analysis share one variance formula and its checks.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from monitor.errors import InputError
from monitor.metrics.estimate import Estimate

__all__ = [
    "LabelPlan",
    "PPIFit",
    "agreement_moments",
    "classical_mean",
    "labels_needed",
    "ppi_fit",
    "ppi_mean",
    "tuned_lambda",
    "two_phase_weights",
]

Interval = Literal["t", "z"]
Array = npt.NDArray[np.float64]
#: Fewer labelled queries than this and no corrected figure is given.
MIN_LABELS = 5


@dataclass(frozen=True, slots=True)
class PPIFit:
    """A corrected estimate with how it was made, and the humans-only one beside it.

    ``lam`` is the λ used (None when undefined); ``lam_rule`` says how it was chosen:
    ``"tuned"`` (PPI++'s plug-in, as ``ppi_py``), ``"fixed"`` (given by the caller),
    ``"variance-min"`` or ``"classical"`` (the guard, see the module docstring).
    ``estimate.n`` and ``classical.n`` are the number of labelled queries.
    """

    estimate: Estimate
    classical: Estimate
    lam: float | None
    lam_rule: str
    n_labelled: int
    n_unlabelled: int
    se: float | None


def _array(name: str, values: Sequence[float] | npt.ArrayLike) -> Array:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: expected numbers, got {values!r:.80}") from exc
    if arr.ndim != 1:
        raise InputError(f"{name}: expected a flat sequence, got shape {arr.shape}")
    if np.any(np.isinf(arr)):
        raise InputError(f"{name}: infinite values cannot be averaged")
    return arr


def _weights(name: str, values: npt.ArrayLike | None, size: int, of: str) -> Array:
    if values is None:
        return np.ones(size)
    w = _array(name, values)
    if w.size != size:
        raise InputError(f"{name}: length {w.size} differs from {of}'s length {size}")
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise InputError(f"{name}: every weight must be a finite number ≥ 0")
    return w


def _check(confidence: float, interval: str, min_labels: int) -> None:
    if not 0 < confidence < 1:
        raise InputError(f"confidence: must be in (0, 1), got {confidence}")
    if interval not in ("t", "z"):
        raise InputError(f"interval: 't' or 'z', got {interval!r}")
    if min_labels < 2:
        raise InputError(f"min_labels: at least 2 are needed for a variance, got {min_labels}")


def _scaled(w: Array) -> Array:
    """Weights scaled to mean 1 (``ppi_py``'s normalization)."""
    return w / w.sum() * w.size


def _var_of_mean(v: Array, w: Array, ddof: int) -> float:
    """Linearized variance of the Hájek mean of ``v`` with weights ``w`` (mean 1)."""
    n = v.size
    if n == 0:
        return 0.0
    mean = float(np.dot(w, v) / n)
    ss = float(np.sum((w * (v - mean)) ** 2))
    return ss / (n * (n - ddof)) if n > ddof else math.inf


def _quantile(confidence: float, df: float | None) -> float:
    tail = 0.5 + confidence / 2
    if df is None or math.isinf(df):
        return float(stats.norm.ppf(tail))
    return float(stats.t.ppf(tail, df))


def tuned_lambda(
    y: Array, yhat: Array, yhat_u: Array, w: Array | None = None, w_u: Array | None = None
) -> float:
    """PPI++'s λ for a mean, exactly as ``ppi_py`` tunes it (``lhat=None``), in [0, 1].

    cov(g, ĝ) / ((1 + n/N) · var(ĝ pooled over both sets)), with gradients g = w̃(y − θ₁),
    ĝ = w̃(ŷ − θ₁) at the λ = 1 estimate θ₁. A constant judge gives 0 (no information).
    """
    n, big_n = y.size, yhat_u.size
    if n == 0 or big_n == 0:
        return 0.0
    ws = _scaled(np.ones(n) if w is None else w)
    wu = _scaled(np.ones(big_n) if w_u is None else w_u)
    theta1 = float(np.mean(wu * yhat_u) + np.mean(ws * (y - yhat)))
    g, gh, ghu = ws * (y - theta1), ws * (yhat - theta1), wu * (yhat_u - theta1)
    cov = float(np.sum((g - g.mean()) * (gh - gh.mean())) / n)
    pooled = np.concatenate([gh, ghu])
    var = float(np.var(pooled, ddof=1)) if pooled.size > 1 else 0.0
    if var <= 0 or not math.isfinite(var):
        return 0.0
    return float(np.clip(cov / ((1 + n / big_n) * var), 0.0, 1.0))


@dataclass(frozen=True, slots=True)
class _Parts:
    """The pieces of θ̂(λ) and of its variance, for any λ."""

    m_u: float
    m_y: float
    m_yhat: float
    var_u: float  # variance of mean_U(ŷ)
    var_y: float  # of mean_L(y)
    var_yhat: float  # of mean_L(ŷ)
    cov: float  # covariance of mean_L(y) and mean_L(ŷ)
    df_u: float
    df_l: float

    def value(self, lam: float) -> float:
        return lam * self.m_u + self.m_y - lam * self.m_yhat

    def variances(self, lam: float) -> tuple[float, float]:
        rect = self.var_y - 2 * lam * self.cov + lam**2 * self.var_yhat
        return lam**2 * self.var_u, max(rect, 0.0)

    def half_width(self, lam: float, confidence: float, interval: Interval) -> float:
        a, b = self.variances(lam)
        if interval == "z":
            return _quantile(confidence, None) * math.sqrt(a + b)
        denom = (a * a / self.df_u if self.df_u > 0 else 0.0) + b * b / self.df_l
        df = (a + b) ** 2 / denom if denom > 0 else self.df_l
        return _quantile(confidence, df) * math.sqrt(a + b)

    def best_lambda(self) -> float:
        """The λ in [0, 1] minimising the estimated variance."""
        curvature = self.var_u + self.var_yhat
        return 0.0 if curvature <= 0 else float(np.clip(self.cov / curvature, 0.0, 1.0))


def _parts(
    y: Array, yhat: Array, w: Array, yhat_u: Array, w_u: Array, ddof: int, ddof_l: int
) -> _Parts:
    """The means and variances; ``ddof_l`` on the labelled set, ``ddof`` on the other."""
    n, big_n = y.size, yhat_u.size
    ws = _scaled(w)
    m_y, m_yhat = float(np.dot(ws, y) / n), float(np.dot(ws, yhat) / n)
    scale = n * (n - ddof_l)
    cov = float(np.sum(ws**2 * (y - m_y) * (yhat - m_yhat)) / scale)
    if big_n:
        wu = _scaled(w_u)
        m_u, var_u = float(np.dot(wu, yhat_u) / big_n), _var_of_mean(yhat_u, wu, ddof)
    else:
        m_u, var_u = 0.0, 0.0
    return _Parts(
        m_u=m_u,
        m_y=m_y,
        m_yhat=m_yhat,
        var_u=0.0 if math.isinf(var_u) else var_u,
        var_y=_var_of_mean(y, ws, ddof_l),
        var_yhat=_var_of_mean(yhat, ws, ddof_l),
        cov=cov,
        df_u=float(big_n - 1),
        df_l=float(n - max(ddof_l, 1)),
    )


def _interval(value: float, half: float, n: int) -> Estimate:
    return Estimate(value=value, ci_low=value - half, ci_high=value + half, n=n)


def ppi_fit(
    y: Sequence[float] | npt.ArrayLike,
    yhat: Sequence[float] | npt.ArrayLike,
    yhat_unlabelled: Sequence[float] | npt.ArrayLike,
    *,
    weights: Sequence[float] | npt.ArrayLike | None = None,
    weights_unlabelled: Sequence[float] | npt.ArrayLike | None = None,
    lam: float | None = None,
    confidence: float = 0.95,
    interval: Interval = "t",
    min_labels: int = MIN_LABELS,
) -> PPIFit:
    """PPI++ mean of a per-query figure, with its CI and the humans-only one.

    ``y``/``yhat`` are the human and judge values of the labelled queries (same order),
    ``yhat_unlabelled`` the judge's values on the others; weights are sampling weights
    (inverse inclusion probabilities) of each set. NaN marks a figure undefined for a
    query: a labelled pair with either value NaN, or a NaN unlabelled value, is left out.
    ``lam`` None tunes λ (PPI++); a number fixes it (1: plain PPI, 0: humans only).
    With fewer than ``min_labels`` labelled queries there is no figure (value None and
    the reason).
    """
    _check(confidence, interval, min_labels)
    ya, yha, yua = _array("y", y), _array("yhat", yhat), _array("yhat_unlabelled", yhat_unlabelled)
    if ya.size != yha.size:
        raise InputError(f"yhat: length {yha.size} differs from y's length {ya.size}")
    w = _weights("weights", weights, ya.size, "y")
    wu = _weights("weights_unlabelled", weights_unlabelled, yua.size, "yhat_unlabelled")
    if lam is not None and not (math.isfinite(lam) and 0 <= lam <= 1):
        raise InputError(f"lam: must be in [0, 1], got {lam}")
    keep = ~(np.isnan(ya) | np.isnan(yha)) & (w > 0)
    ya, yha, w = ya[keep], yha[keep], w[keep]
    keep_u = ~np.isnan(yua) & (wu > 0)
    yua, wu = yua[keep_u], wu[keep_u]
    n, big_n = int(ya.size), int(yua.size)
    if n < min_labels:
        reason = f"{n} labelled queries < {min_labels}"
        missing = Estimate.missing(n, reason)
        return PPIFit(missing, missing, None, "none", n, big_n, None)
    ddof = 1 if interval == "t" else 0
    parts = _parts(ya, yha, w, yua, wu, ddof, ddof)
    classical_half = parts.half_width(0.0, confidence, interval)
    classical = _interval(parts.value(0.0), classical_half, n)
    if lam is not None:
        chosen, rule = float(lam), "fixed"
    else:
        # a λ fitted on the labels is a fitted slope: it costs the residuals a degree of
        # freedom, as in a regression estimator (without it, 5–10 labels undercover)
        parts = _parts(ya, yha, w, yua, wu, ddof, ddof + 1) if interval == "t" else parts
        chosen, rule = tuned_lambda(ya, yha, yua, w, wu), "tuned"
        if parts.half_width(chosen, confidence, interval) > classical_half * (1 + 1e-12):
            chosen, rule = parts.best_lambda(), "variance-min"
            if parts.half_width(chosen, confidence, interval) > classical_half:
                chosen, rule = 0.0, "classical"
    if big_n < 2 or rule == "classical":  # the humans-only mean
        chosen, rule = 0.0, "classical"
        parts = _parts(ya, yha, w, yua, wu, ddof, ddof)
    half = parts.half_width(chosen, confidence, interval)
    se = math.sqrt(sum(parts.variances(chosen)))
    return PPIFit(
        estimate=_interval(parts.value(chosen), half, n),
        classical=classical,
        lam=chosen,
        lam_rule=rule,
        n_labelled=n,
        n_unlabelled=big_n,
        se=se,
    )


def ppi_mean(
    y: Sequence[float] | npt.ArrayLike,
    yhat: Sequence[float] | npt.ArrayLike,
    yhat_unlabelled: Sequence[float] | npt.ArrayLike,
    *,
    weights: Sequence[float] | npt.ArrayLike | None = None,
    weights_unlabelled: Sequence[float] | npt.ArrayLike | None = None,
    confidence: float = 0.95,
    interval: Interval = "t",
    min_labels: int = MIN_LABELS,
) -> Estimate:
    """The corrected (PPI++, tuned λ) estimate of a per-query figure; see ``ppi_fit``."""
    return ppi_fit(
        y,
        yhat,
        yhat_unlabelled,
        weights=weights,
        weights_unlabelled=weights_unlabelled,
        confidence=confidence,
        interval=interval,
        min_labels=min_labels,
    ).estimate


def classical_mean(
    y: Sequence[float] | npt.ArrayLike,
    *,
    weights: Sequence[float] | npt.ArrayLike | None = None,
    confidence: float = 0.95,
    interval: Interval = "t",
    min_labels: int = MIN_LABELS,
) -> Estimate:
    """The humans-only estimate: weighted mean of the labelled values and its CI."""
    ya = _array("y", y)
    return ppi_fit(
        ya,
        np.zeros_like(ya),
        [],
        weights=weights,
        confidence=confidence,
        interval=interval,
        min_labels=min_labels,
    ).classical


def two_phase_weights(
    weights: Sequence[float] | npt.ArrayLike,
    labelled: Sequence[bool] | npt.ArrayLike,
    strata: Sequence[Hashable] | None = None,
) -> tuple[Array, Array]:
    """Weights of the labelled and of the judge-only set, for a day's sample.

    The day's queries carry sampling weights ``weights``; ``labelled`` marks those picked
    at random within their stratum for labelling (and labelled). A labelled query stands
    for N_h / n_h of its stratum's sampled queries, an unlabelled one for N_h / (N_h − n_h):
    returned are ``weights × N_h/n_h`` on the labelled and ``weights × N_h/(N_h − n_h)`` on
    the others (0 where a query is not in that set), using the labels actually returned
    per stratum. A stratum with every query labelled has no judge-only query to stand for
    it, so its queries enter the judge-only set with their own weight (its judge mean is
    then known exactly). A stratum with no label at all would leave its bias unmeasured:
    then the strata are pooled (one stratum for the day).
    """
    w = _array("weights", weights)
    mask = np.asarray(labelled, dtype=bool)
    if mask.shape != w.shape:
        raise InputError(f"labelled: length {mask.size} differs from weights' length {w.size}")
    keys = list(strata) if strata is not None else [None] * w.size
    if len(keys) != w.size:
        raise InputError(f"strata: length {len(keys)} differs from weights' length {w.size}")
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    if any(not mask[idx].any() for idx in groups.values()):
        groups = {None: list(range(w.size))}
    w_lab, w_unl = np.zeros_like(w), np.zeros_like(w)
    for idx in groups.values():
        ix = np.asarray(idx)
        n_h, big_n_h = int(mask[ix].sum()), ix.size
        if n_h == 0:
            continue
        lab, unl = ix[mask[ix]], ix[~mask[ix]]
        w_lab[lab] = w[lab] * big_n_h / n_h
        if unl.size:
            w_unl[unl] = w[unl] * big_n_h / (big_n_h - n_h)
        else:
            w_unl[lab] = w[lab]
    return w_lab, w_unl


def agreement_moments(
    y: Sequence[float] | npt.ArrayLike,
    yhat: Sequence[float] | npt.ArrayLike,
    weights: Sequence[float] | npt.ArrayLike | None = None,
) -> tuple[float, float, float]:
    """(sd of human values, sd of judge values, their correlation) on labelled queries.

    Weighted by ``weights``; pairs with a NaN are left out. The inputs of
    ``labels_needed``, from a segment's stored judge/human pairs. NaN when undefined.
    """
    ya, yha = _array("y", y), _array("yhat", yhat)
    if ya.size != yha.size:
        raise InputError(f"yhat: length {yha.size} differs from y's length {ya.size}")
    w = _weights("weights", weights, ya.size, "y")
    keep = ~(np.isnan(ya) | np.isnan(yha)) & (w > 0)
    ya, yha, w = ya[keep], yha[keep], w[keep]
    if ya.size < 2:
        return math.nan, math.nan, math.nan
    w = w / w.sum()
    dy, dh = ya - np.dot(w, ya), yha - np.dot(w, yha)
    sd_y, sd_h = math.sqrt(float(np.dot(w, dy * dy))), math.sqrt(float(np.dot(w, dh * dh)))
    corr = float(np.dot(w, dy * dh)) / (sd_y * sd_h) if sd_y > 0 and sd_h > 0 else math.nan
    return sd_y, sd_h, corr


@dataclass(frozen=True, slots=True)
class LabelPlan:
    """How many labelled queries reach a CI width, with the judge's help and without.

    ``labels`` is None (with ``reason``) when even labelling every query falls short.
    ``humans_only`` is the labels a humans-only mean needs for the same width;
    ``saved`` = humans_only − labels.
    """

    labels: int | None
    humans_only: int
    saved: int | None
    width: float | None
    humans_only_width: float
    lam: float | None
    reason: str | None = None


def _ppi_variance(
    n: int, big_n: int | None, sd_y: float, sd_h: float, rho: float
) -> tuple[float, float]:
    """Variance of θ̂ with the optimal λ (clipped to [0, 1]) for n labels, N judge-only."""
    ratio = 0.0 if big_n is None else (n / big_n if big_n > 0 else math.inf)
    if sd_h <= 0 or math.isinf(ratio):
        return sd_y**2 / n, 0.0
    lam = float(np.clip(rho * sd_y / ((1 + ratio) * sd_h), 0.0, 1.0))
    imputed = 0.0 if big_n is None else lam**2 * sd_h**2 / big_n
    rect = (sd_y**2 - 2 * lam * rho * sd_y * sd_h + lam**2 * sd_h**2) / n
    return imputed + rect, lam


def labels_needed(
    *,
    sd_human: float,
    sd_judge: float,
    correlation: float,
    target_width: float,
    queries: int | None,
    confidence: float = 0.95,
) -> LabelPlan:
    """PPI's power analysis: the fewest labelled queries whose CI is ``target_width`` wide.

    The labelled queries are picked among ``queries`` judged ones (the day's or week's
    sample; the rest are the judge-only set); None means unlimited judged queries. With
    the optimal λ the variance is σ_y²/n · (1 − ρ² N/(n + N)) when λ ≤ 1 (Angelopoulos
    et al. 2023; ``ppi_py.ppi_power`` with ``n_max``), the general formula with λ clipped
    otherwise. Normal quantiles; ``width`` is the full CI width (high − low).
    """
    for name, value in (("sd_human", sd_human), ("sd_judge", sd_judge)):
        if not (math.isfinite(value) and value >= 0):
            raise InputError(f"{name}: must be a finite number ≥ 0, got {value}")
    if sd_human <= 0:
        raise InputError("sd_human: the human values do not vary, no CI width to plan for")
    if not (math.isfinite(correlation) and -1 <= correlation <= 1):
        raise InputError(f"correlation: must be in [-1, 1], got {correlation}")
    if not (math.isfinite(target_width) and target_width > 0):
        raise InputError(f"target_width: must be a positive number, got {target_width}")
    if queries is not None and queries < 2:
        raise InputError(f"queries: at least 2 judged queries are needed, got {queries}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence: must be in (0, 1), got {confidence}")
    z = _quantile(confidence, None)
    half = target_width / 2
    humans_only = max(2, math.ceil((z * sd_human / half) ** 2 - 1e-9))
    classical_width = 2 * z * sd_human / math.sqrt(humans_only)

    def width(n: int) -> tuple[float, float]:
        big_n = None if queries is None else queries - n
        var, lam = _ppi_variance(n, big_n, sd_human, sd_judge, correlation)
        return 2 * z * math.sqrt(var), lam

    top = humans_only if queries is None else min(queries, humans_only)
    if width(top)[0] > target_width * (1 + 1e-12):
        reason = f"even {top} labelled queries of {queries} give a CI wider than {target_width:g}"
        return LabelPlan(None, humans_only, None, None, classical_width, None, reason)
    low, high = 2, top  # the width shrinks as n grows: bisect for the smallest n that fits
    while low < high:
        mid = (low + high) // 2
        if width(mid)[0] <= target_width * (1 + 1e-12):
            high = mid
        else:
            low = mid + 1
    got, lam = width(low)
    return LabelPlan(low, humans_only, humans_only - low, got, classical_width, lam)
