"""CUPED for the fresh sample: each query's own history as a control variate.

A day's weighted nDCG moves with *which* queries were drawn as much as with the ranking:
a day that drew hard queries reads low. Most sampled queries were seen before, and a
query's own recent figure predicts today's. CUPED (Deng et al., WSDM 2013) subtracts
that prediction's luck: each query's figure ``y`` becomes ``y − θ·(x − level)``, with
``x`` its mean on its recent judged days, ``level`` the figure's recent daily level, and
``θ`` the weighted regression slope of ``y`` on ``x`` over the day's queries that have a
history (the variance-minimising coefficient). A query without history keeps ``y``.

It stays an estimate of the traffic's nDCG: ``x`` is from before today, so a change of
the ranking today is not taken out, only the draw's luck; the sampling weights are kept
in ``θ`` and in the mean. ``θ`` is fitted on the day it is applied to, as CUPED does; its
own noise is left out of the interval (second order at a day's sample size).

Pure: ``monitor.pipeline.cuped_step`` reads the history and calls ``cuped_values``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["MIN_WITH_HISTORY", "cuped_slope", "cuped_values"]

#: Fewer queries with history than this: no adjustment (a slope from two or three points
#: would add more noise than it takes out).
MIN_WITH_HISTORY = 3


def cuped_slope(
    values: Sequence[float], weights: Sequence[float], covariates: Sequence[float | None]
) -> float | None:
    """θ: the weighted least-squares slope of ``values`` on ``covariates`` over the
    queries with a covariate and a finite value; None with fewer than
    ``MIN_WITH_HISTORY`` of them or covariates that do not vary."""
    had = [
        (y, w, x)
        for y, w, x in zip(values, weights, covariates, strict=True)
        if x is not None and math.isfinite(x) and math.isfinite(y)
    ]
    if len(had) < MIN_WITH_HISTORY:
        return None
    total = math.fsum(w for _, w, _ in had)
    if total <= 0:
        return None
    mean_x = math.fsum(w * x for _, w, x in had) / total
    mean_y = math.fsum(w * y for y, w, _ in had) / total
    var = math.fsum(w * (x - mean_x) ** 2 for _, w, x in had)
    if var <= 0:
        return None
    return math.fsum(w * (x - mean_x) * (y - mean_y) for y, w, x in had) / var


def cuped_values(
    values: Sequence[float],
    weights: Sequence[float],
    covariates: Sequence[float | None],
    level: float,
) -> tuple[list[float], float | None]:
    """Each query's figure with the control variate applied, and θ (None: unadjusted).

    ``covariates[i]`` is query i's mean figure on its recent days (None: no history);
    ``level`` the figure's recent daily level, what an average query's history reads.
    """
    if not (len(values) == len(weights) == len(covariates)):
        raise ValueError("values, weights and covariates must have one entry per query")
    theta = cuped_slope(values, weights, covariates)
    if theta is None or not math.isfinite(level):
        return list(values), None
    adjusted = [
        y if x is None or not math.isfinite(x) else y - theta * (x - level)
        for y, x in zip(values, covariates, strict=True)
    ]
    return adjusted, theta
