"""The paired panel's statistic against a hand computation."""

from __future__ import annotations

import math

import numpy as np
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
    # Σw 10, Σw² 26, Σw³ 82: c = 1 - 2·82/260 + 26/100 = 0.629231
    # se sqrt(0.3466 / c) / 10 = 0.0742180; Kish n 100/26 = 3.846, t(0.975, 2.846) = 3.282012
    # half width 3.282012 * se = 0.243584
    assert est.value == pytest.approx(-0.09)
    assert est.ci_low == pytest.approx(-0.09 - 0.243584, abs=1e-6)
    assert est.ci_high == pytest.approx(-0.09 + 0.243584, abs=1e-6)


def test_weighted_interval_covers_when_a_few_queries_carry_the_weight() -> None:
    """Zipf weights over 30 queries (a Kish effective number of 10), no true change: the
    95% interval covers 0 in about 95% of 2,000 draws (the t interval on n − 1 with the
    n/(n − 1) factor covered 0.89)."""
    rng = np.random.default_rng(7)
    weights = 1000.0 / np.arange(1, 31)
    covered = 0
    for _ in range(2000):
        diffs = rng.normal(0.0, 0.05, weights.size)
        est = paired_change(
            [
                PanelQuery(f"q{i}", float(d), (0.0,), weight=float(w))
                for i, (d, w) in enumerate(zip(diffs, weights, strict=True))
            ]
        )
        assert est.ci_low is not None and est.ci_high is not None
        covered += est.ci_low <= 0.0 <= est.ci_high
    assert 0.93 <= covered / 2000 <= 0.97


def test_equal_weights_give_the_unweighted_interval() -> None:
    est = paired_change(_weighted([2.5] * 5))
    assert est.value == pytest.approx(-0.06)
    assert est.ci_high == pytest.approx(-0.06 + 0.141571, abs=1e-6)


@pytest.mark.parametrize("weight", [0.0, -1.0, math.nan])
def test_a_weight_that_is_not_positive_is_refused(weight: float) -> None:
    with pytest.raises(InputError, match="weight"):
        paired_change(_weighted([1, 1, 1, 1, weight]))
