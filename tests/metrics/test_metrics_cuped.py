"""CUPED (``metrics.cuped``): the slope is weighted least squares, a query without history
keeps its figure, the draw's luck goes and a real change stays."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.metrics.cuped import cuped_slope, cuped_values


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
    adjusted, theta = cuped_values(values, weights, covariates, level=0.6)
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
    adjusted, theta = cuped_values(values, [1.0] * 4, covariates, level=0.5)
    assert theta is None and adjusted == values


def test_one_covariate_per_query_is_checked() -> None:
    with pytest.raises(ValueError, match="one entry per query"):
        cuped_values([0.1, 0.2], [1.0, 1.0], [0.1], level=0.5)


def _days(drop: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """300 days, each drawing 40 of 200 queries whose own level spreads (sd 0.25) and
    whose day-to-day noise is small (sd 0.05): the plain and the CUPED daily means,
    today's figures lowered by ``drop``."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.2, 0.95, size=200)
    plain, cuped = [], []
    for _ in range(300):
        drawn = rng.choice(200, size=40, replace=False)
        past = level[drawn] + rng.normal(0, 0.03, size=40)
        today = level[drawn] + rng.normal(0, 0.05, size=40) - drop
        covariates: list[float | None] = [float(x) if i % 4 else None for i, x in enumerate(past)]
        adjusted, _ = cuped_values(today.tolist(), [1.0] * 40, covariates, float(level.mean()))
        plain.append(today.mean())
        cuped.append(float(np.mean(adjusted)))
    return np.array(plain), np.array(cuped)


def test_the_draws_luck_goes_and_the_level_stays() -> None:
    """Which queries a day drew moves the plain mean; CUPED takes most of that out
    (a quarter of the queries have no history and keep it) and stays unbiased."""
    plain, cuped = _days(drop=0.0, seed=1)
    assert cuped.var() < 0.5 * plain.var()
    assert cuped.mean() == pytest.approx(plain.mean(), abs=0.01)


def test_a_change_of_todays_figures_stays_in_the_cuped_mean() -> None:
    """The covariates are from before today, so a drop of today's figures is not taken
    out: the CUPED mean drops by it, as the plain one does."""
    plain, cuped = _days(drop=0.0, seed=2)
    plain_low, cuped_low = _days(drop=0.05, seed=2)
    assert plain.mean() - plain_low.mean() == pytest.approx(0.05, abs=0.005)
    assert cuped.mean() - cuped_low.mean() == pytest.approx(0.05, abs=0.01)
