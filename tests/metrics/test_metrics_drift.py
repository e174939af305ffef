"""Tests of monitor.metrics.drift: PSI by hand, the scipy tests, query-mix drift."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from monitor.errors import InputError
from monitor.metrics.drift import (
    CHI_SQUARE,
    KS,
    PSI,
    WASSERSTEIN,
    chi_square,
    chi_square_test,
    grade_counts,
    ks,
    ks_test,
    new_query_share,
    psi,
    psi_test,
    share_drift,
    wasserstein,
    wasserstein_test,
)

counts = st.lists(st.integers(min_value=1, max_value=1000), min_size=2, max_size=8)


def test_psi_worked_example() -> None:
    """Shares .5/.3/.2 → .4/.3/.3: PSI = −.1·ln(.8) + 0 + .1·ln(1.5)."""
    expected = -0.1 * math.log(0.4 / 0.5) + 0.1 * math.log(0.3 / 0.2)
    assert psi([50, 30, 20], [40, 30, 30]) == pytest.approx(expected, abs=1e-5)


def test_psi_empty_bin_is_finite() -> None:
    """A bin empty on one side is floored at eps, giving a large but finite PSI."""
    value = psi([10, 0], [5, 5])
    assert math.isfinite(value) and value > 1


@settings(max_examples=80, deadline=None)
@given(counts, counts)
def test_psi_is_non_negative(expected: list[int], actual: list[int]) -> None:
    """PSI ≥ 0 for any two count vectors of the same length."""
    actual = (actual * len(expected))[: len(expected)]
    assert psi(expected, actual) >= 0


@settings(max_examples=60, deadline=None)
@given(counts, st.integers(min_value=1, max_value=20))
def test_psi_is_zero_for_equal_distributions(base: list[int], scale: int) -> None:
    """Counts that are multiples of each other have equal shares and PSI 0."""
    assert psi(base, [c * scale for c in base]) == pytest.approx(0.0, abs=1e-12)


def test_psi_refuses_mismatched_or_empty_counts() -> None:
    """Different bin counts or all-zero counts raise InputError naming the argument."""
    with pytest.raises(InputError, match="actual_counts"):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(InputError, match="expected_counts"):
        psi([0, 0], [1, 2])


def test_chi_square_equals_scipy_and_drops_empty_bins() -> None:
    """The statistic and p-value equal chi2_contingency on the table minus all-empty bins."""
    base, today = [30, 40, 0, 30], [10, 50, 0, 40]
    expected = stats.chi2_contingency([[30, 40, 30], [10, 50, 40]])
    assert chi_square(base, today) == pytest.approx((expected.statistic, expected.pvalue))
    assert chi_square([5, 0], [7, 0]) == (0.0, 1.0)


def test_ks_and_wasserstein_equal_scipy() -> None:
    """ks and wasserstein return what scipy returns on the same samples."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 300), rng.normal(0.3, 1, 250)
    result = stats.ks_2samp(a, b)
    assert ks(a, b) == pytest.approx((result.statistic, result.pvalue))
    assert wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b))


def test_drift_results_carry_their_direction() -> None:
    """PSI and Wasserstein drift when high, chi-square and KS when their p-value is low."""
    rng = np.random.default_rng(1)
    same = rng.normal(0, 1, 400)
    shifted = rng.normal(1.0, 1, 400)
    assert PSI.higher_is_drift and WASSERSTEIN.higher_is_drift
    assert not CHI_SQUARE.higher_is_drift and not KS.higher_is_drift
    assert ks_test(same, shifted).drifted and not ks_test(same, same).drifted
    assert wasserstein_test(same, shifted).drifted and not wasserstein_test(same, same).drifted
    assert psi_test([50, 50], [10, 90]).drifted and not psi_test([50, 50], [51, 49]).drifted
    chi = chi_square_test([50, 50], [10, 90])
    assert chi.drifted and chi.p_value is not None and chi.p_value < chi.threshold
    assert psi_test([50, 50], [45, 55], threshold=0.001).threshold == 0.001


def test_grade_counts_bins_the_scale() -> None:
    """Grades are counted per grade, missing ones skipped, ensemble halves rounded up."""
    counts_ = grade_counts([0, 1, 1, None, 3, math.nan, 1.5])
    np.testing.assert_array_equal(counts_, [1, 2, 1, 1])
    with pytest.raises(InputError, match="grades"):
        grade_counts([4])


def test_share_drift_uses_the_union_of_segments() -> None:
    """Same mixes give 0; a segment new today counts as drift against share 0."""
    assert share_drift({"de": 0.5, "en": 0.5}, {"en": 50, "de": 50}) == pytest.approx(0.0)
    with_new = share_drift({"de": 0.5, "en": 0.5}, {"de": 0.4, "en": 0.4, "fr": 0.2})
    assert with_new == pytest.approx(psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]))
    assert with_new > PSI.threshold


def test_new_query_share() -> None:
    """Two of four queries unseen gives 0.5; no queries today gives NaN."""
    assert new_query_share(["a", "b", "c", "d"], ["a", "c", "z"]) == 0.5
    assert math.isnan(new_query_share([], {"a"}))
    # weighted by the searches each stands for: "b" and "d" are 8 of the 10 searches
    assert new_query_share(["a", "b", "c", "d"], {"a", "c"}, [1, 4, 1, 4]) == 0.8
    with pytest.raises(InputError, match="weights"):
        new_query_share(["a", "b"], {"a"}, [1.0])
