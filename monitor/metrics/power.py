"""How many queries a day it takes to see a given quality drop.

Used by the ``plan`` command to size the daily sample before paying for judges: for the
fresh sample a two-sample comparison (today's queries against a baseline of other
queries), for the paired panel a one-sample one (each panel query against its own
recent days, ``metrics.paired``), whose sd is that of the differences: smaller, by as
much as a query's nDCG is steadier than the spread between queries.
"""

from __future__ import annotations

import math

from scipy import stats

from monitor.errors import InputError

__all__ = ["detectable_drop", "detectable_paired_drop", "queries_needed"]


def _z_sum(alpha: float, power: float, one_sided: bool) -> float:
    """z_α + z_β, with ``alpha`` and ``power`` checked."""
    if not 0 < alpha < 1:
        raise InputError(f"alpha: must be in (0, 1), got {alpha}")
    if not 0 < power < 1:
        raise InputError(f"power: must be in (0, 1), got {power}")
    z_alpha = stats.norm.ppf(1 - alpha) if one_sided else stats.norm.ppf(1 - alpha / 2)
    return float(z_alpha + stats.norm.ppf(power))


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise InputError(f"{name}: must be a positive number, got {value}")


def queries_needed(
    sd: float, drop: float, alpha: float = 0.05, power: float = 0.8, one_sided: bool = True
) -> int:
    """Queries per day to detect a drop of ``drop`` in a daily mean with the given power.

    Two-sample comparison (today vs a baseline day of the same size) under the normal
    approximation: n = 2 (z_α + z_β)² sd² / drop². ``sd`` is the per-query standard
    deviation of the figure (≈ 0.3 for nDCG@10 on typical search traffic). One-sided by
    default because a monitor alerts on drops, not on improvements.
    """
    _positive("sd", sd)
    _positive("drop", drop)
    n = 2 * _z_sum(alpha, power, one_sided) ** 2 * sd**2 / drop**2
    return max(2, math.ceil(n - 1e-9))  # tolerate float noise on exact integers


def detectable_drop(
    sd: float, n: int, alpha: float = 0.05, power: float = 0.8, one_sided: bool = True
) -> float:
    """The smallest drop in a daily mean that ``n`` queries a day detect with the given
    power: ``queries_needed`` solved for the drop, (z_α + z_β) sd √(2 / n)."""
    if n < 2:
        raise InputError(f"n: must be at least 2 queries a day, got {n}")
    _positive("sd", sd)
    return _z_sum(alpha, power, one_sided) * sd * math.sqrt(2 / n)


def detectable_paired_drop(
    sd_diff: float, n: int, alpha: float = 0.05, power: float = 0.8, one_sided: bool = True
) -> float:
    """The smallest drop the paired panel's mean difference detects over ``n`` panel
    queries: (z_α + z_β) sd_diff / √n. One sample, not two: each query's own history is
    its baseline, and that history's noise is already in the differences' sd."""
    if n < 2:
        raise InputError(f"n: must be at least 2 panel queries a day, got {n}")
    _positive("sd_diff", sd_diff)
    return _z_sum(alpha, power, one_sided) * sd_diff / math.sqrt(n)
