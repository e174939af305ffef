"""Tests of monitor.metrics.power: queries needed per day."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from monitor.errors import InputError
from monitor.metrics.power import detectable_drop, detectable_paired_drop, queries_needed


def test_matches_the_normal_approximation_formula() -> None:
    """n = ceil(2 (z_0.95 + z_0.8)² sd² / drop²) for a one-sided test."""
    z = stats.norm.ppf(0.95) + stats.norm.ppf(0.8)
    assert queries_needed(0.3, 0.05) == math.ceil(2 * z**2 * 0.3**2 / 0.05**2)


def test_halving_the_drop_needs_about_four_times_the_queries() -> None:
    """Sample size scales with 1/drop², and two-sided needs more than one-sided."""
    small, large = queries_needed(0.3, 0.02), queries_needed(0.3, 0.04)
    assert small == pytest.approx(4 * large, rel=0.01)
    assert queries_needed(0.3, 0.04, one_sided=False) > large


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"sd": 0, "drop": 0.1}, "sd"),
        ({"sd": 0.3, "drop": -1}, "drop"),
        ({"sd": 0.3, "drop": 0.1, "power": 1.0}, "power"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, name: str) -> None:
    """Non-positive sd/drop or a power of 1 raise InputError naming the argument."""
    with pytest.raises(InputError, match=name):
        queries_needed(**kwargs)


def test_detectable_drop_inverts_queries_needed() -> None:
    """The drop n queries detect needs n queries again: (z_a + z_b) sd sqrt(2/n) by hand."""
    drop = detectable_drop(0.25, 100)
    z = stats.norm.ppf(0.95) + stats.norm.ppf(0.8)
    assert drop == pytest.approx(z * 0.25 * (2 / 100) ** 0.5, rel=1e-12)
    assert queries_needed(0.25, drop) == 100
    with pytest.raises(InputError, match="n: must be at least 2"):
        detectable_drop(0.25, 1)


def test_the_paired_drop_is_a_one_sample_figure() -> None:
    """(z_a + z_b) sd_d / sqrt(n) by hand: the same sd over the same n detects a drop
    sqrt(2) smaller paired than fresh (no second sample of other queries)."""
    z = stats.norm.ppf(0.95) + stats.norm.ppf(0.8)
    paired = detectable_paired_drop(0.1, 25)
    assert paired == pytest.approx(z * 0.1 / 5, rel=1e-12)
    assert detectable_drop(0.1, 25) == pytest.approx(paired * 2**0.5, rel=1e-12)
    with pytest.raises(InputError, match="sd_diff"):
        detectable_paired_drop(0.0, 25)
    with pytest.raises(InputError, match="alpha"):
        detectable_paired_drop(0.1, 25, alpha=1.5)
