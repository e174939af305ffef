"""CUPED (``metrics.cuped``): the slope is weighted least squares, a query without history
keeps its figure, the draw's luck goes and a real change stays."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.metrics.cuped import covariate_mean, cuped_slope, cuped_values


def test_the_slope_is_the_weighted_least_squares_one() -> None:
    values = [0.5, 0.7, 0.9, 0.6, 0.3]
    weights = [1.0, 2.0, 1.0, 3.0, 5.0]
    covariates = [0.4, 0.8, 0.9, 0.5, None]
    had = [0, 1, 2, 3]
    slope, _ = np.polyfit(
        [covariates[i] for i in had],
        [values[i] for i in had],
        1,
        w=np.sqrt([weights[i] for i in had]),
    )
    assert cuped_slope(values, weights, covariates) == pytest.approx(slope)
    adjusted, theta = cuped_values(values, weights, covariates, centre=0.6)
    assert theta == pytest.approx(slope)
    for i in had:
        x = covariates[i]
        assert x is not None
        assert adjusted[i] == pytest.approx(values[i] - slope * (x - 0.6))
    assert adjusted[4] == 0.3, "a query without history keeps its figure"


@pytest.mark.parametrize(
    "covariates",
    [[0.4, None, None, None], [0.4, 0.6, None, None], [0.5, 0.5, 0.5, 0.5]],
    ids=["one with history", "two with history", "history does not vary"],
)
def test_too_little_history_leaves_the_figures_alone(covariates: list[float | None]) -> None:
    values = [0.2, 0.4, 0.6, 0.8]
    adjusted, theta = cuped_values(values, [1.0] * 4, covariates, centre=0.5)
    assert theta is None and adjusted == values


def test_one_covariate_per_query_is_checked() -> None:
    with pytest.raises(ValueError, match="one entry per query"):
        cuped_values([0.1, 0.2], [1.0, 1.0], [0.1], centre=0.5)


def _days(drop: float, seed: int, *, head_recurs: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """330 days, each drawing 40 of 200 queries whose own level spreads (sd ~0.2) and
    whose day-to-day noise is small (sd 0.05): the plain and the CUPED daily means of the
    last 300, today's figures lowered by ``drop``, the centre the last 14 days' mean
    ``covariate_mean`` as the step stores it. A quarter of the queries have no history;
    with ``head_recurs``, history comes with quality (90% of the better half has one,
    30% of the rest), as head queries recur."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.2, 0.95, size=200)
    good = level > np.median(level)
    plain, cuped, centres = [], [], []
    for day in range(330):
        drawn = rng.choice(200, size=40, replace=False)
        past = level[drawn] + rng.normal(0, 0.03, size=40)
        today = level[drawn] + rng.normal(0, 0.05, size=40) - (drop if day >= 30 else 0.0)
        has = rng.random(40) < (np.where(good[drawn], 0.9, 0.3) if head_recurs else 0.75)
        covariates: list[float | None] = [
            float(x) if h else None for x, h in zip(past, has, strict=True)
        ]
        centre = float(np.mean(centres[-14:])) if centres else float("nan")
        adjusted, _ = cuped_values(today.tolist(), [1.0] * 40, covariates, centre)
        centres.append(covariate_mean([1.0] * 40, covariates))
        if day >= 30:
            plain.append(today.mean())
            cuped.append(float(np.mean(adjusted)))
    return np.array(plain), np.array(cuped)


@pytest.mark.parametrize("head_recurs", [False, True], ids=["history at random", "heads recur"])
def test_the_draws_luck_goes_and_the_level_stays(head_recurs: bool) -> None:
    """Which queries a day drew moves the plain mean; CUPED takes most of that out (the
    queries without history keep it) and stays unbiased, also when the queries with a
    history are the better ones: the centre is a mean over the same kind of queries."""
    plain, cuped = _days(drop=0.0, seed=1, head_recurs=head_recurs)
    assert cuped.var() < 0.6 * plain.var()
    assert cuped.mean() == pytest.approx(plain.mean(), abs=0.005)


def test_the_covariate_mean_is_over_the_queries_with_one() -> None:
    assert covariate_mean([1.0, 3.0, 5.0], [0.2, 0.6, None]) == pytest.approx(0.5)
    assert covariate_mean([1.0, 1.0], [None, None]) is None


def test_a_change_of_todays_figures_stays_in_the_cuped_mean() -> None:
    """The covariates are from before today, so a drop of today's figures is not taken
    out: the CUPED mean drops by it, as the plain one does."""
    plain, cuped = _days(drop=0.0, seed=2)
    plain_low, cuped_low = _days(drop=0.05, seed=2)
    assert plain.mean() - plain_low.mean() == pytest.approx(0.05, abs=0.005)
    assert cuped.mean() - cuped_low.mean() == pytest.approx(0.05, abs=0.01)
