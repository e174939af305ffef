"""How many queries a day it takes to see a given quality drop.

Used by the ``plan`` command to size the daily sample before paying for judges.
"""

from __future__ import annotations

import math

from scipy import stats

from monitor.errors import InputError

__all__ = ["detectable_drop", "queries_needed"]


def queries_needed(
    sd: float, drop: float, alpha: float = 0.05, power: float = 0.8, one_sided: bool = True
) -> int:
    """Queries per day to detect a drop of ``drop`` in a daily mean with the given power.

    Two-sample comparison (today vs a baseline day of the same size) under the normal
    approximation: n = 2 (z_α + z_β)² sd² / drop². ``sd`` is the per-query standard
    deviation of the figure (≈ 0.3 for nDCG@10 on typical search traffic). One-sided by
    default because a monitor alerts on drops, not on improvements.
    """
    if not (sd > 0 and math.isfinite(sd)):
        raise InputError(f"sd: must be a positive number, got {sd}")
    if not (drop > 0 and math.isfinite(drop)):
        raise InputError(f"drop: must be a positive number, got {drop}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha: must be in (0, 1), got {alpha}")
    if not 0 < power < 1:
        raise InputError(f"power: must be in (0, 1), got {power}")
    z_alpha = stats.norm.ppf(1 - alpha) if one_sided else stats.norm.ppf(1 - alpha / 2)
    z_beta = stats.norm.ppf(power)
    n = 2 * (z_alpha + z_beta) ** 2 * sd**2 / drop**2
    return max(2, math.ceil(n - 1e-9))  # tolerate float noise on exact integers


def detectable_drop(
    sd: float, n: int, alpha: float = 0.05, power: float = 0.8, one_sided: bool = True
) -> float:
    """The smallest drop in a daily mean that ``n`` queries a day detect with the given
    power: ``queries_needed`` solved for the drop, (z_α + z_β) sd √(2 / n)."""
    if n < 2:
        raise InputError(f"n: must be at least 2 queries a day, got {n}")
    if not (sd > 0 and math.isfinite(sd)):
        raise InputError(f"sd: must be a positive number, got {sd}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha: must be in (0, 1), got {alpha}")
    if not 0 < power < 1:
        raise InputError(f"power: must be in (0, 1), got {power}")
    z_alpha = stats.norm.ppf(1 - alpha) if one_sided else stats.norm.ppf(1 - alpha / 2)
    z_beta = stats.norm.ppf(power)
    return float((z_alpha + z_beta) * sd * math.sqrt(2 / n))
