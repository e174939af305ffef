"""Cut points for local judges: quantiles, application, and the cross-validated fit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from monitor.errors import InputError
from monitor.metrics.thresholds import apply_thresholds, fit_thresholds, quantile_thresholds


def _synthetic(noise: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.uniform(size=3000)
    human = apply_thresholds(scores + rng.normal(0, noise, size=scores.size), (0.3, 0.55, 0.8))
    groups = np.repeat(np.arange(100), 30).astype(str)
    return scores, human, groups


def test_apply_counts_cut_points_reached() -> None:
    """A score equal to a cut point reaches it; grades run 0..3."""
    grades = apply_thresholds([0.0, 0.3, 0.31, 0.55, 0.9], (0.3, 0.55, 0.8))
    assert grades.tolist() == [0, 1, 1, 2, 3]


def test_quantile_thresholds_split_scores_in_the_given_shares() -> None:
    """With 50/70/90% cut points, about half the scores grade 0 and a tenth grade 3."""
    scores = np.random.default_rng(0).normal(size=5000)
    grades = apply_thresholds(scores, quantile_thresholds(scores))
    shares = np.bincount(grades, minlength=4) / grades.size
    assert shares == pytest.approx([0.5, 0.2, 0.2, 0.1], abs=0.01)


def test_fit_recovers_known_cut_points() -> None:
    """Noise-free grades from known cut points are fitted back to those cut points."""
    scores, human, groups = _synthetic(noise=0.0)
    fit = fit_thresholds(scores, human, groups=groups)
    assert fit.thresholds == pytest.approx((0.3, 0.55, 0.8), abs=0.01)
    assert fit.n == scores.size


def test_cv_kappa_is_held_out_and_not_above_in_sample() -> None:
    """The reported kappa is out-of-fold, so it does not exceed the in-sample one."""
    scores, human, groups = _synthetic(noise=0.08)
    fit = fit_thresholds(scores, human, groups=groups, folds=5, seed=3)
    in_sample = cohen_kappa_score(
        human, apply_thresholds(scores, fit.thresholds), weights="quadratic"
    )
    assert fit.fitted_kappa == pytest.approx(in_sample, abs=1e-9)
    assert fit.cv_kappa <= fit.fitted_kappa
    assert fit.thresholds == pytest.approx((0.3, 0.55, 0.8), abs=0.05)


def test_fit_beats_quantile_cut_points_when_labels_disagree_with_quantiles() -> None:
    """Fitted cut points grade better than fixed quantiles when the grade shares differ."""
    scores, human, groups = _synthetic(noise=0.05)
    fit = fit_thresholds(scores, human, groups=groups)
    baseline = cohen_kappa_score(
        human, apply_thresholds(scores, quantile_thresholds(scores)), weights="quadratic"
    )
    assert fit.cv_kappa > baseline


def test_bad_inputs_name_the_problem() -> None:
    """Mismatched lengths, NaN scores, descending cut points are InputErrors."""
    with pytest.raises(InputError, match="equal lengths"):
        fit_thresholds([0.1, 0.2], [1])
    with pytest.raises(InputError, match="finite"):
        apply_thresholds([float("nan")], (0.1, 0.2, 0.3))
    with pytest.raises(InputError, match="ascending"):
        apply_thresholds([0.1], (0.3, 0.2, 0.1))
    with pytest.raises(InputError, match="folds"):
        fit_thresholds([0.1, 0.2, 0.3], [0, 1, 2], groups=["a", "a", "a"])
