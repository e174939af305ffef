"""Tests of monitor.metrics.agreement against krippendorff, scikit-learn and scipy."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

from monitor.errors import InputError
from monitor.metrics.agreement import human_agreement, inter_judge_agreement, table_statistics

grade_lists = st.lists(st.integers(min_value=0, max_value=3), min_size=10, max_size=60)


def _noisy_pairs(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    human = rng.integers(0, 4, n)
    judge = np.clip(human + rng.integers(-1, 2, n), 0, 3)
    return judge, human


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=5, max_size=60))
def test_table_statistics_equal_the_libraries(pairs: list[tuple[int, int]]) -> None:
    """Kappa, tau-b, rho and P/R/F1 from the 4×4 table equal sklearn/scipy on the raw pairs."""
    judge = np.array([p[0] for p in pairs])
    human = np.array([p[1] for p in pairs])
    assume(np.unique(judge).size > 1 and np.unique(human).size > 1)
    assume((judge >= 2).any() and (human >= 2).any())
    table = confusion_matrix(human, judge, labels=[0, 1, 2, 3])
    got = table_statistics(table)
    p, r, f, _ = precision_recall_fscore_support(human >= 2, judge >= 2, average="binary")
    assert got["precision"] == pytest.approx(p)
    assert got["recall"] == pytest.approx(r)
    assert got["f1"] == pytest.approx(f)
    kappa = cohen_kappa_score(judge, human, labels=[0, 1, 2, 3], weights="quadratic")
    assert got["kappa"] == pytest.approx(kappa)
    assert got["tau"] == pytest.approx(stats.kendalltau(judge, human).statistic)
    assert got["rho"] == pytest.approx(stats.spearmanr(judge, human).statistic)


def test_human_agreement_point_values_are_the_libraries() -> None:
    """Each point value and the confusion matrix equal the library call on the same pairs."""
    judge, human = _noisy_pairs(1)
    result = human_agreement(judge, human, relevant=2)
    p, r, f, _ = precision_recall_fscore_support(human >= 2, judge >= 2, average="binary")
    assert result.precision.value == pytest.approx(p)
    assert result.recall.value == pytest.approx(r)
    assert result.f1.value == pytest.approx(f)
    kappa = cohen_kappa_score(judge, human, labels=[0, 1, 2, 3], weights="quadratic")
    assert result.kappa.value == pytest.approx(kappa)
    assert result.tau.value == pytest.approx(stats.kendalltau(judge, human).statistic)
    assert result.rho.value == pytest.approx(stats.spearmanr(judge, human).statistic)
    np.testing.assert_array_equal(result.confusion, confusion_matrix(human, judge))
    assert result.n == 200


def test_human_agreement_intervals_contain_values_and_are_not_degenerate() -> None:
    """Every bootstrap CI brackets its point value and has positive width on noisy data."""
    result = human_agreement(*_noisy_pairs(2))
    for est in (result.precision, result.recall, result.f1, result.kappa, result.tau, result.rho):
        assert est.value is not None and est.ci_low is not None and est.ci_high is not None
        assert est.ci_low <= est.value <= est.ci_high
        assert est.ci_high > est.ci_low


def test_constant_judge_gives_reasons_not_warnings() -> None:
    """A judge that always says 2 has no rank correlation: None with a reason, no warning."""
    _, human = _noisy_pairs(3, 50)
    result = human_agreement([2] * 50, human)
    assert result.tau.value is None and "constant" in (result.tau.reason or "")
    assert result.rho.value is None and "constant" in (result.rho.reason or "")
    assert result.recall.value == pytest.approx(1.0)


def test_judge_never_relevant_gives_undefined_precision() -> None:
    """No "relevant" verdicts means precision is undefined, reported with a reason."""
    _, human = _noisy_pairs(4, 30)
    result = human_agreement([0, 1] * 15, human)
    assert result.precision.value is None
    assert "nothing relevant" in (result.precision.reason or "")


def test_too_few_pairs_give_reasons() -> None:
    """Three label pairs give no figures, each with the n=3 reason."""
    result = human_agreement([1, 2, 3], [1, 2, 3])
    assert result.kappa.value is None and result.kappa.reason == "n=3 < 10"
    assert result.n == 3


def test_bad_grades_are_refused() -> None:
    """A grade of 5 or unequal lengths raise InputError naming the input."""
    with pytest.raises(InputError, match="judge"):
        human_agreement([5] * 10, [1] * 10)
    with pytest.raises(InputError, match="judge/human"):
        human_agreement([1] * 10, [1] * 11)


@settings(max_examples=50, deadline=None)
@given(grade_lists)
def test_identical_raters_have_kappa_one(grades: list[int]) -> None:
    """Two judges giving the same (varied) grades have kappa 1 and alpha 1."""
    assume(len(set(grades)) > 1)
    result = inter_judge_agreement([grades, grades], ["a", "b"], n_boot=100)
    assert result.kappas[("a", "b")].value == pytest.approx(1.0)
    assert result.alpha.value == pytest.approx(1.0)
    assert human_agreement(grades, grades, n_boot=100).kappa.value == pytest.approx(1.0)


def test_inter_judge_agreement_equals_the_libraries_with_missing_grades() -> None:
    """Alpha equals krippendorff.alpha (ordinal); each kappa equals sklearn on co-graded items."""
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 4, 120)
    matrix = np.vstack([np.clip(truth + rng.integers(-1, 2, 120), 0, 3) for _ in range(3)])
    matrix = matrix.astype(float)
    matrix[rng.random(matrix.shape) < 0.15] = np.nan
    result = inter_judge_agreement(matrix, ["zeta", "alpha", "mid"])
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    expected_alpha = krippendorff.alpha(
        reliability_data=matrix[:, pairable],
        level_of_measurement="ordinal",
        value_domain=[0, 1, 2, 3],
    )
    assert result.alpha.value == pytest.approx(expected_alpha)
    assert result.alpha.n == int(pairable.sum())
    assert set(result.kappas) == {("alpha", "mid"), ("alpha", "zeta"), ("mid", "zeta")}
    both = ~np.isnan(matrix[0]) & ~np.isnan(matrix[1])
    expected_kappa = cohen_kappa_score(
        matrix[1, both].astype(int),
        matrix[0, both].astype(int),
        weights="quadratic",
        labels=[0, 1, 2, 3],
    )
    kappa = result.kappas[("alpha", "zeta")]
    assert kappa.value == pytest.approx(expected_kappa)
    assert kappa.n == int(both.sum())
    assert kappa.value is not None and kappa.ci_low is not None and kappa.ci_high is not None
    assert kappa.ci_low <= kappa.value <= kappa.ci_high


def test_all_equal_grades_give_alpha_reason() -> None:
    """Judges who all always say 2 leave alpha and kappa undefined, with reasons."""
    result = inter_judge_agreement(np.full((2, 20), 2.0), ["a", "b"])
    assert result.alpha.value is None and "every grade is 2" in (result.alpha.reason or "")
    assert result.kappas[("a", "b")].value is None


def test_single_judge_has_no_alpha() -> None:
    """Alpha needs two judges; one judge gets a reason and no pairs."""
    result = inter_judge_agreement([[0, 1, 2, 3] * 5], ["solo"])
    assert result.alpha.value is None
    assert result.kappas == {}
