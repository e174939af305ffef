"""Tests of monitor.metrics.changepoint: CUSUM alarms and their estimated start."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.errors import InputError
from monitor.metrics.changepoint import cusum


def _series(seed: int, days: int, shift_at: int | None = None, shift: float = -0.05) -> list:
    values = np.random.default_rng(seed).normal(0.6, 0.01, days)
    if shift_at is not None:
        values[shift_at:] += shift
    return values.tolist()


def test_shift_start_is_found_within_a_day_for_most_seeds() -> None:
    """A −5 sd shift at day 20 of 30 is alarmed and dated 20 ± 1 for ≥ 80% of 50 seeds."""
    hits = 0
    for seed in range(50):
        cp = cusum(_series(seed, 30, shift_at=20))
        assert cp.detected and cp.alarm_index is not None and cp.alarm_index >= 19
        hits += cp.start_index is not None and abs(cp.start_index - 20) <= 1
    assert hits >= 40


def test_clean_series_rarely_alarms() -> None:
    """60 clean days raise a false alarm in at most 10% of 50 seeds."""
    alarms = sum(cusum(_series(seed, 60)).detected for seed in range(50))
    assert alarms <= 5


def test_upward_shift_is_ignored_downward_only() -> None:
    """The default watches drops; a rise alarms only with direction 'up' or 'both'."""
    series = _series(7, 30, shift_at=20, shift=+0.05)
    assert not cusum(series).detected
    assert cusum(series, direction="up").detected
    assert cusum(series, direction="both").detected


def test_statistic_has_one_value_per_day_and_skips_missing_days() -> None:
    """A missing day repeats the previous statistic; the list stays aligned with days."""
    series = _series(1, 30, shift_at=20)
    series[25] = None
    cp = cusum(series)
    assert len(cp.statistic) == 30
    assert cp.statistic[25] == cp.statistic[24]


def test_given_baseline_is_used() -> None:
    """A supplied (mean, sd) replaces the estimate: a series 10 sd under it alarms on day 0."""
    cp = cusum([0.45] * 10, baseline=(0.55, 0.01))
    assert cp.detected and cp.alarm_index == 0 and cp.start_index == 0


def test_short_baseline_gives_a_reason() -> None:
    """Fewer than 5 observed baseline days: no statistic, a reason instead."""
    cp = cusum([0.5, None, 0.6])
    assert not cp.detected and cp.statistic == []
    assert "baseline" in (cp.reason or "")


def test_bad_parameters_are_refused() -> None:
    """A non-positive threshold or unknown direction raises InputError."""
    with pytest.raises(InputError, match="h"):
        cusum([0.5] * 20, h=0)
    with pytest.raises(InputError, match="direction"):
        cusum([0.5] * 20, direction="sideways")  # type: ignore[arg-type]
