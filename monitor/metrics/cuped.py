"""CUPED for the fresh sample: each query's own history as a control variate.

A day's weighted nDCG moves with *which* queries were drawn as much as with the ranking:
a day that drew hard queries reads low. Most sampled queries were seen before, and a
query's own recent figure predicts today's. CUPED (Deng et al., WSDM 2013) subtracts
that prediction's luck: each query's figure ``y`` becomes ``y − θ·(x − centre)``, with
``x`` its mean on its recent judged days, ``θ`` the weighted regression slope of ``y``
on ``x`` over the day's queries that have a history (the variance-minimising
coefficient), and ``centre`` what ``x`` averages on a day whatever was drawn. A query
without history keeps ``y``; a change of today's ranking stays in, since ``x`` is from
before today.

The centre must be a mean of the same ``x``, over the same kind of queries: queries
with a history are not a random part of the traffic (head queries recur), so centring on
the headline figure would move the estimate by how much better the recurring queries
are. It is the mean, over the recent days, of each day's ``covariate_mean`` (the
weighted mean of ``x`` over that day's queries with a history): the luck of a day's draw
is then what its ``x`` mean differs from that by. ``θ`` is fitted on the day it is
applied to, as CUPED does; its own noise and the centre's are left out of the interval.

Pure: ``monitor.pipeline.cuped_step`` reads the history and calls these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["MIN_WITH_HISTORY", "covariate_mean", "cuped_slope", "cuped_values"]

#: Fewer queries with history than this: no adjustment (a slope from two or three points
#: would add more noise than it takes out).
MIN_WITH_HISTORY = 3


def covariate_mean(weights: Sequence[float], covariates: Sequence[float | None]) -> float | None:
    """The weighted mean of the covariates over the queries that have one (None: none
    has): the day's contribution to later days' centre."""
    had = [(w, x) for w, x in zip(weights, covariates, strict=True) if x is not None]
    had = [(w, x) for w, x in had if math.isfinite(x)]
    total = math.fsum(w for w, _ in had)
    return math.fsum(w * x for w, x in had) / total if had and total > 0 else None


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
    centre: float,
) -> tuple[list[float], float | None]:
    """Each query's figure with the control variate applied, and θ (None: unadjusted).

    ``covariates[i]`` is query i's mean figure on its recent days (None: no history);
    ``centre`` the recent days' mean ``covariate_mean``.
    """
    if not (len(values) == len(weights) == len(covariates)):
        raise ValueError("values, weights and covariates must have one entry per query")
    theta = cuped_slope(values, weights, covariates)
    if theta is None or not math.isfinite(centre):
        return list(values), None
    adjusted = [
        y if x is None or not math.isfinite(x) else y - theta * (x - centre)
        for y, x in zip(values, covariates, strict=True)
    ]
    return adjusted, theta
