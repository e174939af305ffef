"""The paired panel's statistic against a hand computation."""

from __future__ import annotations

import math

import pytest

from monitor.errors import InputError
from monitor.metrics.paired import PanelQuery, paired_change


def test_paired_change_matches_a_hand_computed_t_interval() -> None:
    # differences today - own mean: -0.1, 0.0, -0.2, -0.1, 0.1 -> mean -0.06
    queries = [
        PanelQuery("a", 0.5, (0.6, 0.6)),
        PanelQuery("b", 0.7, (0.6, 0.8)),
        PanelQuery("c", 0.3, (0.5,)),
        PanelQuery("d", 0.8, (0.9, 0.8, 1.0)),
        PanelQuery("e", 0.6, (0.5, math.nan)),  # the NaN day is left out of its mean
        PanelQuery("f", 0.6, ()),  # no history: not paired
    ]
    est = paired_change(queries)
    # squared deviations 0.0016 + 0.0036 + 0.0196 + 0.0016 + 0.0256 = 0.052
    # sd (ddof 1) sqrt(0.052 / 4) = 0.114018; se = 0.114018 / sqrt(5) = 0.050990
    # t(0.975, 4) = 2.776445 (tables) -> half width 0.141571
    assert est.n == 5
    assert est.value == pytest.approx(-0.06)
    assert est.ci_low == pytest.approx(-0.06 - 0.141571, abs=1e-6)
    assert est.ci_high == pytest.approx(-0.06 + 0.141571, abs=1e-6)


def test_unchanged_panel_is_exactly_zero() -> None:
    est = paired_change([PanelQuery(str(i), 0.4, (0.4, 0.4)) for i in range(6)])
    assert (est.value, est.ci_low, est.ci_high, est.n) == (0.0, 0.0, 0.0, 6)


def test_too_few_panel_queries_give_a_reason() -> None:
    est = paired_change([PanelQuery(str(i), 0.4, (0.5,)) for i in range(4)])
    assert est.value is None and est.n == 4
    assert est.reason is not None and "need 5" in est.reason


def test_bad_level_is_refused() -> None:
    with pytest.raises(InputError, match="level"):
        paired_change([], level=1.5)


def _weighted(weights: list[float]) -> list[PanelQuery]:
    # the same differences as above: -0.1, 0.0, -0.2, -0.1, 0.1
    shape = [(0.5, (0.6, 0.6)), (0.7, (0.6, 0.8)), (0.3, (0.5,)), (0.8, (0.9, 0.8, 1.0))]
    shape.append((0.6, (0.5,)))
    return [
        PanelQuery(str(i), today, past, weight=w)
        for i, ((today, past), w) in enumerate(zip(shape, weights, strict=True))
    ]


def test_search_weighted_change_matches_a_hand_computation() -> None:
    est = paired_change(_weighted([1, 1, 4, 2, 2]))
    # mean (-0.1 + 0 - 0.8 - 0.2 + 0.2) / 10 = -0.09
    # w (d - mean): -0.01, 0.09, -0.44, -0.02, 0.38 -> squares sum 0.3466
    # se sqrt(5/4 * 0.3466) / 10 = 0.0658217; half width 2.776445 * se = 0.182750
    assert est.value == pytest.approx(-0.09)
    assert est.ci_low == pytest.approx(-0.09 - 0.182750, abs=1e-6)
    assert est.ci_high == pytest.approx(-0.09 + 0.182750, abs=1e-6)


def test_equal_weights_give_the_unweighted_interval() -> None:
    est = paired_change(_weighted([2.5] * 5))
    assert est.value == pytest.approx(-0.06)
    assert est.ci_high == pytest.approx(-0.06 + 0.141571, abs=1e-6)


@pytest.mark.parametrize("weight", [0.0, -1.0, math.nan])
def test_a_weight_that_is_not_positive_is_refused(weight: float) -> None:
    with pytest.raises(InputError, match="weight"):
        paired_change(_weighted([1, 1, 1, 1, weight]))
