"""Two known biases of LLM judges, measured on the judges' own verdicts.

Position bias: asked "A or B?" twice with the order swapped, a judge that prefers
whatever comes first answers "A" both times. Length bias: a judge that grades long
results higher regardless of relevance. Neither needs human labels.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

from monitor.errors import InputError
from monitor.metrics.estimate import Estimate, weighted_mean

__all__ = ["length_bias", "position_consistency"]


def position_consistency(
    consistent_flags: Sequence[bool] | npt.ArrayLike,
    *,
    min_n: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> Estimate:
    """Share of pairwise verdicts that picked the same item in both orders.

    A flag is True when the verdict's winner flipped with the order ("A" first, "B"
    after the swap: the same item won), i.e. the judge was consistent. 1.0 is a judge
    free of position bias; 0.5 is one that mostly follows the slot.
    """
    flags = np.asarray(consistent_flags, dtype=bool).astype(np.float64)
    return weighted_mean(flags, None, min_n=min_n, n_boot=n_boot, seed=seed)


def length_bias(
    grades: Sequence[float] | npt.ArrayLike,
    lengths: Sequence[float] | npt.ArrayLike,
    *,
    min_n: int = 10,
    confidence: float = 0.95,
) -> Estimate:
    """Spearman rho between grade and result text length (the value is rho).

    Some correlation is expected (longer documents often say more); what matters is
    its change over time and its size next to other judges. The interval uses the
    Fisher z transform with the Fieller–Hartley–Pearson standard error 1.06/√(n−3),
    which is closed form and therefore cheap for every judge every day. Pairs with a
    missing grade are dropped.
    """
    g = np.asarray(grades, dtype=np.float64)
    ln = np.asarray(lengths, dtype=np.float64)
    if g.shape != ln.shape or g.ndim != 1:
        raise InputError(f"grades/lengths: need equal-length lists, got {g.shape} and {ln.shape}")
    keep = ~np.isnan(g) & ~np.isnan(ln)
    g, ln = g[keep], ln[keep]
    n = int(g.size)
    if n < max(min_n, 4):
        return Estimate.missing(n, f"n={n} < {max(min_n, 4)}")
    if np.unique(g).size < 2:
        return Estimate.missing(n, f"grades are constant (all {g[0]:g}); rho undefined")
    if np.unique(ln).size < 2:
        return Estimate.missing(n, "lengths are constant; rho undefined")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(stats.spearmanr(g, ln).statistic)
    if math.isnan(rho):
        return Estimate.missing(n, "rho undefined on these values")
    z = math.atanh(min(max(rho, -0.999999), 0.999999))
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * 1.06 / math.sqrt(n - 3)
    return Estimate(value=rho, ci_low=math.tanh(z - half), ci_high=math.tanh(z + half), n=n)
