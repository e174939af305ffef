"""How far judges agree with each other and with people.

Two questions, two functions. ``inter_judge_agreement``: do the judges of the ensemble
grade alike (Krippendorff's ordinal alpha over all of them, quadratic-weighted Cohen's
kappa per pair)? ``human_agreement``: does one judge (or the ensemble) grade like the
human labels (precision/recall/F1 of "relevant", weighted kappa, Kendall tau-b,
Spearman rho, the 4×4 confusion matrix), each with a bootstrap 95% interval.

Point values come from the libraries (krippendorff, scikit-learn, scipy). Bootstrap
intervals do not call them a thousand times: on a 0–3 scale every one of these
statistics is a function of the 4×4 contingency table, and resampling pairs with
replacement is the same as drawing a table from a multinomial with the observed cell
shares, so all replicates are computed at once from (n_boot, 4, 4) tables. The tests
check the table formulas against the libraries on the same data.

A statistic undefined on the data (a rater who always says 2 has no rank correlation)
is an ``Estimate`` with value None and the reason, never a warning or a crash.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import krippendorff
import numpy as np
import numpy.typing as npt
from scipy import stats
from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

from monitor.errors import InputError
from monitor.metrics.estimate import Estimate, percentile_interval

__all__ = [
    "LABELS",
    "HumanAgreement",
    "InterJudgeAgreement",
    "human_agreement",
    "inter_judge_agreement",
    "table_statistics",
]

#: The grade scale as confusion-matrix labels.
LABELS = (0, 1, 2, 3)

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class InterJudgeAgreement:
    """Agreement among the judges of an ensemble on the items they graded."""

    alpha: Estimate
    kappas: dict[tuple[str, str], Estimate]


@dataclass(frozen=True, slots=True)
class HumanAgreement:
    """One judge against human labels: each figure with a bootstrap 95% interval.

    ``confusion[i, j]`` counts pairs with human grade i and judge grade j.
    """

    precision: Estimate
    recall: Estimate
    f1: Estimate
    kappa: Estimate
    tau: Estimate
    rho: Estimate
    confusion: npt.NDArray[np.int64]
    n: int


def _grades(name: str, values: Sequence[float] | npt.ArrayLike, allow_nan: bool) -> Array:
    arr = np.asarray(values, dtype=np.float64)
    present = arr[~np.isnan(arr)] if allow_nan else arr
    if not allow_nan and np.any(np.isnan(arr)):
        raise InputError(f"{name}: missing grades are not allowed here")
    if not np.all(np.isin(present, LABELS)):
        bad = sorted(set(present[~np.isin(present, LABELS)].tolist()))[:5]
        raise InputError(f"{name}: grades must be integers 0–3, got {bad}")
    return arr


# --- statistics of (…, 4, 4) contingency tables: rows = human/rater 1, cols = rater 2 ---


def _quadratic_kappa(t: Array) -> Array:
    n = t.sum(axis=(-2, -1))
    rows, cols = t.sum(axis=-1), t.sum(axis=-2)
    idx = np.arange(t.shape[-1], dtype=np.float64)
    w = (idx[:, None] - idx[None, :]) ** 2
    expected = rows[..., :, None] * cols[..., None, :] / n[..., None, None]
    return 1.0 - (w * t).sum(axis=(-2, -1)) / (w * expected).sum(axis=(-2, -1))


def _prf(t: Array, relevant: int) -> tuple[Array, Array, Array]:
    tp = t[..., relevant:, relevant:].sum(axis=(-2, -1))
    predicted = t[..., :, relevant:].sum(axis=(-2, -1))
    actual = t[..., relevant:, :].sum(axis=(-2, -1))
    return tp / predicted, tp / actual, 2 * tp / (predicted + actual)


def _shift(a: Array, di: int, dj: int) -> Array:
    """a[..., i + di, j + dj] with zeros outside the table."""
    out = np.zeros_like(a)
    size = a.shape[-1]
    src_i = slice(max(di, 0), size + min(di, 0))
    dst_i = slice(max(-di, 0), size + min(-di, 0))
    src_j = slice(max(dj, 0), size + min(dj, 0))
    dst_j = slice(max(-dj, 0), size + min(-dj, 0))
    out[..., dst_i, dst_j] = a[..., src_i, src_j]
    return out


def _kendall_tau_b(t: Array) -> Array:
    # below_right[i, j] = Σ_{k≥i, l≥j} t[k, l]; below_left[i, j] = Σ_{k≥i, l≤j} t[k, l]
    below_right = np.flip(np.flip(t, (-2, -1)).cumsum(-2).cumsum(-1), (-2, -1))
    below_left = np.flip(np.flip(t, -2).cumsum(-2), -2).cumsum(-1)
    concordant = (t * _shift(below_right, 1, 1)).sum(axis=(-2, -1))
    discordant = (t * _shift(below_left, 1, -1)).sum(axis=(-2, -1))
    n = t.sum(axis=(-2, -1))
    pairs = n * (n - 1) / 2
    rows, cols = t.sum(axis=-1), t.sum(axis=-2)
    ties_x = (rows * (rows - 1) / 2).sum(axis=-1)
    ties_y = (cols * (cols - 1) / 2).sum(axis=-1)
    return (concordant - discordant) / np.sqrt((pairs - ties_x) * (pairs - ties_y))


def _midranks(totals: Array) -> Array:
    return totals.cumsum(axis=-1) - totals + (totals + 1) / 2


def _spearman_rho(t: Array) -> Array:
    n = t.sum(axis=(-2, -1))
    rows, cols = t.sum(axis=-1), t.sum(axis=-2)
    mean = ((n + 1) / 2)[..., None]
    rx, ry = _midranks(rows) - mean, _midranks(cols) - mean
    cov = (t * rx[..., :, None] * ry[..., None, :]).sum(axis=(-2, -1))
    var_x = (rows * rx**2).sum(axis=-1)
    var_y = (cols * ry**2).sum(axis=-1)
    return cov / np.sqrt(var_x * var_y)


def table_statistics(tables: npt.ArrayLike, relevant: int = 2) -> dict[str, Array]:
    """Every agreement statistic of (…, 4, 4) contingency tables, vectorised.

    Rows are the reference rater (humans), columns the judge. Undefined values are NaN.
    This is what makes a 1000-replicate bootstrap cost milliseconds.
    """
    t = np.asarray(tables, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall, f1 = _prf(t, relevant)
        return {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "kappa": _quadratic_kappa(t),
            "tau": _kendall_tau_b(t),
            "rho": _spearman_rho(t),
        }


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> float:
    """Call a library statistic; its warnings about undefined values become NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fn(*args, **kwargs)
    value = getattr(result, "statistic", result)
    return float(value)


def _constant_reason(judge: Array, human: Array) -> str | None:
    for name, arr in (("judge", judge), ("human", human)):
        if np.unique(arr).size < 2:
            return f"{name} grades are constant (all {arr[0]:g}); correlation undefined"
    return None


def human_agreement(
    judge: Sequence[int] | npt.ArrayLike,
    human: Sequence[int] | npt.ArrayLike,
    *,
    relevant: int = 2,
    n_boot: int = 1000,
    seed: int = 0,
    min_n: int = 10,
    confidence: float = 0.95,
) -> HumanAgreement:
    """Agreement of one judge's grades with human grades on the same (query, result) pairs.

    "Relevant" means grade ≥ ``relevant`` on both sides, so precision answers "when the
    judge says relevant, do people agree?" and recall "does the judge find what people
    call relevant?". Kappa uses quadratic weights over all four grades (a 0-vs-3 miss
    costs nine times a 2-vs-3 one), computed on the fixed labels 0–3 so values stay
    comparable across days with different grades present.
    """
    j = _grades("judge", judge, allow_nan=False)
    h = _grades("human", human, allow_nan=False)
    if j.shape != h.shape or j.ndim != 1:
        raise InputError(f"judge/human: need two equal-length lists, got {j.shape} and {h.shape}")
    if relevant not in LABELS[1:]:
        raise InputError(f"relevant: must be a grade 1–3, got {relevant}")
    n = int(j.size)
    confusion = confusion_matrix(h.astype(int), j.astype(int), labels=list(LABELS))
    if n < min_n:
        missing = Estimate.missing(n, f"n={n} < {min_n}")
        return HumanAgreement(
            precision=missing,
            recall=missing,
            f1=missing,
            kappa=missing,
            tau=missing,
            rho=missing,
            confusion=confusion,
            n=n,
        )

    hi, ji = h.astype(int), j.astype(int)
    p, r, f, _ = precision_recall_fscore_support(
        hi >= relevant, ji >= relevant, average="binary", zero_division=np.nan
    )
    values = {
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
        "kappa": _quiet(cohen_kappa_score, ji, hi, labels=list(LABELS), weights="quadratic"),
        "tau": _quiet(stats.kendalltau, ji, hi),
        "rho": _quiet(stats.spearmanr, ji, hi),
    }
    rng = np.random.default_rng(seed)
    tables = rng.multinomial(n, confusion.ravel() / n, size=n_boot).reshape(n_boot, 4, 4)
    replicates = table_statistics(tables, relevant)
    constant = _constant_reason(j, h)
    undefined = {
        "precision": "the judge called nothing relevant; precision undefined",
        "recall": "humans called nothing relevant; recall undefined",
        "f1": "neither side called anything relevant; F1 undefined",
        "kappa": constant or "kappa undefined on these grades",
        "tau": constant or "tau undefined on these grades",
        "rho": constant or "rho undefined on these grades",
    }
    out: dict[str, Estimate] = {}
    for name, value in values.items():
        if math.isnan(value):
            out[name] = Estimate.missing(n, undefined[name])
            continue
        low, high = percentile_interval(replicates[name], value, confidence)
        out[name] = Estimate(value=value, ci_low=low, ci_high=high, n=n)
    return HumanAgreement(**out, confusion=confusion, n=n)


def _pair_kappa(a: Array, b: Array, min_n: int, n_boot: int, seed: int) -> Estimate:
    both = ~np.isnan(a) & ~np.isnan(b)
    x, y = a[both].astype(int), b[both].astype(int)
    n = int(x.size)
    if n < min_n:
        return Estimate.missing(n, f"n={n} < {min_n} items graded by both")
    value = _quiet(cohen_kappa_score, x, y, labels=list(LABELS), weights="quadratic")
    if math.isnan(value):
        return Estimate.missing(n, f"both judges gave one same grade ({x[0]}); kappa undefined")
    table = confusion_matrix(x, y, labels=list(LABELS))
    rng = np.random.default_rng(seed)
    tables = rng.multinomial(n, table.ravel() / n, size=n_boot).reshape(n_boot, 4, 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = _quadratic_kappa(tables.astype(np.float64))
    low, high = percentile_interval(reps, value)
    return Estimate(value=value, ci_low=low, ci_high=high, n=n)


def inter_judge_agreement(
    matrix: npt.ArrayLike,
    judges: Sequence[str] | None = None,
    *,
    min_n: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> InterJudgeAgreement:
    """Krippendorff's ordinal alpha over all judges and quadratic kappa for each pair.

    ``matrix`` is judges × items with NaN where a judge gave no valid grade. Alpha uses
    every item graded by at least two judges (that is what it is built for: missing
    data, any number of raters); kappa uses the items both judges of a pair graded.
    Pairs are keyed by judge names in sorted order. Alpha has no interval (its
    bootstrap is expensive and the kappas already show the spread).
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise InputError(f"matrix: expected judges × items, got shape {m.shape}")
    _grades("matrix", m.ravel(), allow_nan=True)
    names = list(judges) if judges is not None else [f"judge{i}" for i in range(m.shape[0])]
    if len(names) != m.shape[0]:
        raise InputError(f"judges: {len(names)} names for {m.shape[0]} matrix rows")

    pairable = (~np.isnan(m)).sum(axis=0) >= 2
    n_items = int(pairable.sum())
    present = m[:, pairable]
    distinct = np.unique(present[~np.isnan(present)])
    if m.shape[0] < 2:
        alpha = Estimate.missing(n_items, "alpha needs at least two judges")
    elif n_items < min_n:
        alpha = Estimate.missing(n_items, f"n={n_items} < {min_n} items graded by ≥ 2 judges")
    elif distinct.size < 2:
        alpha = Estimate.missing(
            n_items, f"every grade is {distinct[0]:g}; alpha undefined without variation"
        )
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = float(
                krippendorff.alpha(
                    reliability_data=present,
                    level_of_measurement="ordinal",
                    value_domain=list(LABELS),
                )
            )
        alpha = (
            Estimate(value=value, ci_low=None, ci_high=None, n=n_items)
            if math.isfinite(value)
            else Estimate.missing(n_items, "alpha undefined on these grades")
        )

    order = sorted(range(len(names)), key=lambda i: names[i])
    kappas = {
        (names[i], names[k]): _pair_kappa(m[i], m[k], min_n, n_boot, seed)
        for i, k in itertools.combinations(order, 2)
    }
    return InterJudgeAgreement(alpha=alpha, kappas=kappas)
