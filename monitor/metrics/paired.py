"""The paired panel's statistic: each panel query against its own recent days.

A fresh daily sample compares today's queries with a baseline of other queries, and
the between-query spread of nDCG drowns a small drop. The panel (``monitor.sampling_panel``)
judges the same queries every day, so each has a difference of its own: today's
nDCG@10 minus its mean over the recent days it was judged. Those differences are
averaged over the panel's queries, each query counting once (the panel is a fixed set
of head queries, not a probability sample of the traffic: this is the change *on the
panel*, while the weighted ``ndcg`` keeps estimating all of it), with a t interval over
queries: mean ± t(0.975, n − 1) · sd / √n.

A query may carry a ``weight`` (default 1: every query counts once). With weights the
mean is Σ w·d / Σ w and its standard error √(Σ w²(d − mean)² / c) / Σ w, with
c = 1 − 2 Σw³ / (Σw · Σw²) + Σw² / (Σw)² the factor that makes the variance unbiased
for independent differences of one spread, and the t quantile on the Kish effective
number of queries, (Σw)² / Σw², minus 1: a few head queries carrying most of the weight
are few observations (with n − 1 and n/(n − 1), Zipf weights over 20-100 queries covered
a true 0 in 89% of 95% intervals; now 95-96%). With equal weights c = (n − 1)/n and the
effective number is n: sd / √n and n − 1 again. The
search-weighted form is the change per search of the panel's traffic; it pays off only
when a query's figure is the mean over every list its searches were served
(``bench/_panel_sim.py``'s ``panel+lists``), where a head query's change is small and
steady, not when it is one search's list, whose change is the whole gap or nothing.

Pure: the pipeline reads the grades (``monitor.store.panel_reads``) and calls this.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from monitor.errors import InputError
from monitor.metrics.estimate import Estimate

__all__ = ["MIN_PANEL_QUERIES", "PanelQuery", "paired_change"]

#: Fewer panel queries with history than this give no figure: a t interval over 2-4
#: queries is too wide to alert on and mostly says which queries happened to be there.
MIN_PANEL_QUERIES = 5


@dataclass(frozen=True, slots=True)
class PanelQuery:
    """One panel query: today's figure and its figures on its recent judged days."""

    query_norm: str
    today: float
    history: tuple[float, ...]
    weight: float = 1.0


def paired_change(
    queries: Sequence[PanelQuery], *, min_queries: int = MIN_PANEL_QUERIES, level: float = 0.95
) -> Estimate:
    """Mean over panel queries of (today − the query's own recent mean), with a t CI.

    A query whose today or every history value is NaN (nothing judged) is left out; so
    is one with no history; a weight that is not a positive number is refused. Fewer
    than ``min_queries`` left: no value, with the reason.
    When every difference is equal the interval is that value (sd 0).
    """
    if not 0 < level < 1:
        raise InputError(f"level must be between 0 and 1, got {level}")
    diffs, weights = [], []
    for q in queries:
        if not (math.isfinite(q.weight) and q.weight > 0):
            raise InputError(f"panel query {q.query_norm!r}: weight {q.weight} is not positive")
        past = [h for h in q.history if math.isfinite(h)]
        if not past or not math.isfinite(q.today):
            continue
        diffs.append(q.today - math.fsum(past) / len(past))
        weights.append(q.weight)
    n = len(diffs)
    if n < max(min_queries, 2):
        return Estimate.missing(
            n,
            f"{n} panel queries with judged history (need {max(min_queries, 2)})",
        )
    arr = np.asarray(diffs, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    total, squares = float(w.sum()), float(np.sum(w**2))
    mean = float(np.dot(w, arr) / total)
    unbiased = max(1 - 2 * float(np.sum(w**3)) / (total * squares) + squares / total**2, 1e-12)
    se = math.sqrt(float(np.sum((w * (arr - mean)) ** 2)) / unbiased) / total
    dof = max(total**2 / squares - 1, 1.0)  # Kish's effective number of queries, minus 1
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    return Estimate(value=mean, ci_low=mean - half, ci_high=mean + half, n=n)
