"""Ensemble aggregation of several judges' grades for one item."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import ConfigError, InputError
from monitor.judges import aggregate, aggregate_verdicts
from monitor.types import Verdict, VerdictStatus

GRADES = {"a": 1, "b": 3, "c": 3, "d": 0, "e": None}


def test_median_mean_majority_weighted() -> None:
    """Each method computes its statistic over the valid grades only."""
    valid = [1, 3, 3, 0]
    assert aggregate(GRADES, "median").grade == statistics.median(valid)
    assert aggregate(GRADES, "mean").grade == pytest.approx(sum(valid) / 4)
    assert aggregate(GRADES, "majority").grade == 3
    weights = {"a": 1.0, "b": 0.0, "c": 0.0, "d": 1.0}
    assert aggregate(GRADES, "weighted", weights).grade == pytest.approx(0.5)
    result = aggregate(GRADES)
    assert result.n_judges == 4 and result.disagreement == 3.0


def test_even_median_is_the_mean_of_the_middle_two() -> None:
    """Two judges saying 1 and 2 give 1.5."""
    assert aggregate({"a": 1, "b": 2}).grade == 1.5


def test_majority_tie_goes_to_the_lower_grade() -> None:
    """A 2–2 split between grades 1 and 3 resolves to 1."""
    assert aggregate({"a": 1, "b": 3, "c": 1, "d": 3}, "majority").grade == 1


def test_all_invalid_gives_none() -> None:
    """With no valid grade the ensemble has no grade and no judges."""
    result = aggregate({"a": None, "b": None}, "mean")
    assert result.grade is None and result.n_judges == 0 and result.disagreement == 0.0


def test_invalid_verdicts_are_left_out() -> None:
    """aggregate_verdicts ignores INVALID verdicts rather than counting them as 0."""
    verdicts = [
        Verdict("x", "k", VerdictStatus.OK, 2),
        Verdict("y", "k", VerdictStatus.INVALID, None),
        Verdict("z", "k", VerdictStatus.OK, 2),
    ]
    result = aggregate_verdicts(verdicts, "mean")
    assert result.grade == 2 and result.n_judges == 2 and result.disagreement == 0


def test_bad_method_and_weights_are_clear_errors() -> None:
    """Unknown methods and missing weights say what is wrong."""
    with pytest.raises(ConfigError, match="'mode'"):
        aggregate(GRADES, "mode")
    with pytest.raises(InputError, match="needs weights"):
        aggregate(GRADES, "weighted")
    with pytest.raises(InputError, match="a, d"):
        aggregate(GRADES, "weighted", {"b": 1.0, "c": 1.0})


@settings(max_examples=60)
@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 3), min_size=1))
def test_aggregate_stays_within_the_grades(grades: dict[str, int]) -> None:
    """Every method's grade lies between the lowest and highest grade given."""
    for method in ("median", "majority", "mean"):
        result = aggregate(grades, method)
        assert result.grade is not None
        assert min(grades.values()) <= result.grade <= max(grades.values())
        assert result.disagreement == max(grades.values()) - min(grades.values())


def test_weighted_with_only_zero_weight_answers_has_no_grade() -> None:
    """Judges trusted at weight 0 cannot grade alone: no grade, not a crash."""
    grade = aggregate({"gpt": None, "lexical": 2}, "weighted", {"gpt": 0.7, "lexical": 0.0})
    assert grade.grade is None and grade.n_judges == 0
