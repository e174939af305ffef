"""Tests of monitor.metrics.estimate: weighted means with bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import InputError
from monitor.metrics.estimate import NORMAL_FROM, Estimate, percentile_interval, weighted_mean

finite = st.floats(min_value=-100, max_value=100, allow_nan=False)


def test_weighted_mean_hand_worked() -> None:
    """Weights 1 and 3 on values 0 and 1 give 3/4, the weighted mean by hand."""
    est = weighted_mean([0.0, 1.0] * 5, [1.0, 3.0] * 5)
    assert est.value == pytest.approx(15 / 20)
    assert est.n == 10
    assert est.reason is None


def test_constant_values_give_a_zero_width_interval() -> None:
    """Resampling identical values can only give that value, so the CI collapses on it."""
    est = weighted_mean([0.7] * 12, np.arange(1, 13))
    assert est.value == pytest.approx(0.7)
    assert est.ci_low == pytest.approx(0.7)
    assert est.ci_high == pytest.approx(0.7)


def test_equal_weight_interval_matches_normal_theory() -> None:
    """With equal weights and many queries the bootstrap CI ≈ mean ± 1.96·sd/√n."""
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 1, 2000)
    est = weighted_mean(values, np.ones(2000), n_boot=2000)
    half = 1.96 * values.std(ddof=1) / math.sqrt(values.size)
    assert est.ci_low is not None and est.ci_high is not None
    assert est.ci_low == pytest.approx(values.mean() - half, abs=half * 0.15)
    assert est.ci_high == pytest.approx(values.mean() + half, abs=half * 0.15)


def test_rate_interval_matches_binomial_theory() -> None:
    """A rate (few distinct values, resampled as multinomial counts) gets the CI of
    p ± 1.96·sqrt(p(1-p)/n), and weighted repeats agree with the full resample."""
    rng = np.random.default_rng(5)
    flags = (rng.uniform(0, 1, 20_000) < 0.1).astype(float)
    est = weighted_mean(flags, n_boot=2000)
    p = flags.mean()
    half = 1.96 * math.sqrt(p * (1 - p) / flags.size)
    assert est.ci_low is not None and est.ci_high is not None
    assert est.ci_low == pytest.approx(p - half, abs=half * 0.15)
    assert est.ci_high == pytest.approx(p + half, abs=half * 0.15)
    # the same weighted rate with a little noise on each value takes the full resample
    weights = rng.choice([1.0, 2.5], flags.size)
    counted = weighted_mean(flags, weights, n_boot=2000)
    jittered = weighted_mean(flags + rng.uniform(0, 1e-9, flags.size), weights, n_boot=2000)
    assert counted.ci_low is not None and jittered.ci_low is not None
    assert counted.ci_high is not None and jittered.ci_high is not None
    width = jittered.ci_high - jittered.ci_low
    assert counted.ci_low == pytest.approx(jittered.ci_low, abs=width * 0.1)
    assert counted.ci_high == pytest.approx(jittered.ci_high, abs=width * 0.1)


def test_too_few_values_give_no_value_and_a_reason() -> None:
    """Three values under min_n=10 yield value None with a reason naming n and min_n."""
    est = weighted_mean([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    assert est == Estimate(None, None, None, 3, "n=3 < 10")


def test_nan_values_are_dropped_and_not_counted() -> None:
    """NaN values leave the mean and n as if they were absent."""
    values = [1.0, math.nan, 3.0, math.nan] + [2.0] * 10
    est = weighted_mean(values, [1.0] * len(values))
    assert est.n == 12
    assert est.value == pytest.approx(np.nanmean(values))


def test_same_seed_same_interval() -> None:
    """The seed fixes the bootstrap, so reruns of a day give identical rows."""
    values = np.random.default_rng(1).normal(size=50)
    assert weighted_mean(values, seed=7) == weighted_mean(values, seed=7)


@pytest.mark.parametrize(
    ("values", "weights", "fragment"),
    [
        ([1.0, 2.0], [1.0], "weights"),
        ([1.0] * 10, [-1.0] * 10, "weights"),
        (["a"] * 10, [1.0] * 10, "values"),
    ],
)
def test_bad_input_names_the_argument(values: list, weights: list, fragment: str) -> None:
    """Mismatched lengths, negative weights and non-numbers raise InputError naming the input."""
    with pytest.raises(InputError, match=fragment):
        weighted_mean(values, weights)


def test_percentile_interval_without_finite_replicates_is_empty() -> None:
    """All-NaN replicates give no interval rather than NaN bounds."""
    assert percentile_interval([math.nan, math.nan], 0.5) == (None, None)


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=10, max_size=60))
def test_equal_weights_give_the_unweighted_mean(values: list[float]) -> None:
    """Any constant weight vector reproduces numpy's plain mean."""
    est = weighted_mean(values, [2.5] * len(values), n_boot=200)
    assert est.value == pytest.approx(np.mean(values), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(finite, st.floats(min_value=0.01, max_value=50)), min_size=10, max_size=60)
)
def test_interval_contains_the_estimate(pairs: list[tuple[float, float]]) -> None:
    """ci_low ≤ value ≤ ci_high for any values and positive weights."""
    values, weights = zip(*pairs, strict=True)
    est = weighted_mean(values, weights, n_boot=200)
    assert est.value is not None and est.ci_low is not None and est.ci_high is not None
    assert est.ci_low <= est.value <= est.ci_high


def test_large_samples_get_the_normal_interval_the_bootstrap_converges_to() -> None:
    """From NORMAL_FROM queries with many distinct values (latencies), the interval is
    computed, not resampled, and matches the bootstrap's on skewed, weighted data."""
    rng = np.random.default_rng(11)
    values = rng.lognormal(0.0, 1.0, NORMAL_FROM + 1_000)  # long-tailed, like latencies
    weights = rng.choice([1.0, 2.0, 8.0], values.size)
    computed = weighted_mean(values, weights)
    resampled = weighted_mean(values, weights, n_boot=2000, normal_from=None)
    assert computed.value == pytest.approx(resampled.value)
    assert None not in (computed.ci_low, computed.ci_high, resampled.ci_low, resampled.ci_high)
    width = resampled.ci_high - resampled.ci_low  # type: ignore[operator]
    assert computed.ci_low == pytest.approx(resampled.ci_low, abs=width * 0.1)
    assert computed.ci_high == pytest.approx(resampled.ci_high, abs=width * 0.1)
    # below the threshold the same data is resampled: the seed changes the interval
    small = values[: NORMAL_FROM - 1], weights[: NORMAL_FROM - 1]
    assert weighted_mean(*small, seed=1).ci_low != weighted_mean(*small, seed=2).ci_low
