"""Tests of monitor.metrics.bias: position consistency and length bias."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from monitor.metrics.bias import length_bias, position_consistency


def test_position_consistency_is_the_share_of_consistent_flags() -> None:
    """15 consistent of 20 pairwise verdicts gives 0.75 with an interval around it."""
    est = position_consistency([True] * 15 + [False] * 5)
    assert est.value == pytest.approx(0.75)
    assert est.ci_low is not None and est.ci_high is not None
    assert est.ci_low <= 0.75 <= est.ci_high
    assert est.n == 20


def test_position_consistency_needs_enough_pairs() -> None:
    """Four pairwise verdicts are too few to report."""
    assert position_consistency([True] * 4).value is None


def test_length_bias_is_spearman_rho() -> None:
    """The value equals scipy's Spearman rho of grade vs length, its CI brackets it."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 2000, 300)
    grades = np.clip(np.round(lengths / 700 + rng.normal(0, 1, 300)), 0, 3)
    est = length_bias(grades, lengths)
    assert est.value == pytest.approx(stats.spearmanr(grades, lengths).statistic)
    assert est.value is not None and est.ci_low is not None and est.ci_high is not None
    assert est.ci_low < est.value < est.ci_high


def test_length_bias_drops_missing_grades() -> None:
    """NaN grades leave the computation and n."""
    grades = [0, 1, 2, 3, np.nan] * 4
    lengths = list(range(20))
    est = length_bias(grades, lengths)
    assert est.n == 16


def test_constant_grades_give_a_reason_not_a_warning() -> None:
    """A judge that always says 2 has no length bias to measure: None with a reason."""
    est = length_bias([2] * 30, list(range(30)))
    assert est.value is None
    assert "constant" in (est.reason or "")
