"""Tests of monitor.metrics.quality: per-query figures from graded ranked lists."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from monitor.errors import InputError
from monitor.metrics.quality import (
    bad_top1,
    mean_grade,
    ndcg_at_k,
    no_relevant,
    precision_at_k,
    query_figures,
    served_mean,
    unjudged_share,
)

grade = st.integers(min_value=0, max_value=3)
maybe_grade = st.one_of(st.none(), st.floats(min_value=0, max_value=3, allow_nan=False))


def test_ndcg_by_hand() -> None:
    """Grades 3,0,2 → DCG 7 + 3/log2(4), ideal 3,2,0 → 7 + 3/log2(3)."""
    dcg = 7 + 0 / math.log2(3) + 3 / math.log2(4)
    idcg = 7 + 3 / math.log2(3)
    assert ndcg_at_k([3, 0, 2], 3) == pytest.approx(dcg / idcg, abs=1e-5)


def test_ndcg_cut_off_uses_only_top_k_but_ideal_from_the_list() -> None:
    """At k=1 a list 0,3 scores 0: its best result is below the cut-off."""
    assert ndcg_at_k([0, 3], 1) == 0.0
    assert ndcg_at_k([3, 0], 1) == 1.0


def test_ndcg_without_relevant_results_is_nan_not_zero() -> None:
    """A list graded all 0 has no ideal gain, so nDCG is undefined (NaN), not 0."""
    assert math.isnan(ndcg_at_k([0, 0, 0], 10))
    assert math.isnan(ndcg_at_k([], 10))


def test_unjudged_positions_earn_nothing_and_leave_the_ideal() -> None:
    """With the top unjudged, a lone 3 at rank 2 scores (7/log2 3)/7."""
    assert ndcg_at_k([None, 3], 10) == pytest.approx(1 / math.log2(3), abs=1e-5)


def test_external_ideal_penalises_missed_results() -> None:
    """An ideal from all known labels (3, 2) lowers a list that only found the 2."""
    expected = 3 / (7 + 3 / math.log2(3))
    assert ndcg_at_k([2], 10, ideal=[3, 2]) == pytest.approx(expected, abs=1e-5)


@settings(max_examples=80, deadline=None)
@given(st.lists(grade, min_size=2, max_size=20), st.integers(min_value=1, max_value=12))
def test_ndcg_equals_sklearn_with_exponential_gains(grades: list[int], k: int) -> None:
    """Our nDCG equals sklearn's ndcg_score fed gains 2^g − 1 in the shown order."""
    assume(any(g > 0 for g in grades))
    gains = np.exp2(np.array(grades, dtype=float)) - 1
    scores = -np.arange(len(grades), dtype=float)  # the shown order, no ties
    expected = ndcg_score([gains], [scores], k=k)
    assert ndcg_at_k(grades, k) == pytest.approx(expected, abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(st.lists(maybe_grade, max_size=20), st.integers(min_value=1, max_value=12))
def test_ndcg_lies_in_unit_interval(grades: list[float | None], k: int) -> None:
    """nDCG is NaN or within [0, 1] for any grades, unjudged positions included."""
    value = ndcg_at_k(grades, k)
    assert math.isnan(value) or 0.0 <= value <= 1.0


def test_precision_counts_only_judged_positions() -> None:
    """Top 3 of 3,None,0,2 has judged 3 and 0: precision 1/2."""
    assert precision_at_k([3, None, 0, 2], 3) == pytest.approx(0.5)
    assert precision_at_k([3, None, 0, 2], 4, relevant=3) == pytest.approx(1 / 3)
    assert math.isnan(precision_at_k([None, None], 2))


def test_mean_grade_skips_unjudged() -> None:
    """The mean grade of 1, None, 3 is 2."""
    assert mean_grade([1, None, 3]) == pytest.approx(2.0)
    assert math.isnan(mean_grade([None]))


def test_bad_top1_and_no_relevant_flags() -> None:
    """bad_top1 looks at rank 1 only; no_relevant at the whole list, empty counts as none."""
    assert bad_top1([0, 3]) == 1.0
    assert bad_top1([1, 0]) == 0.0
    assert math.isnan(bad_top1([None, 0]))
    assert no_relevant([0, 1, 1]) == 1.0
    assert no_relevant([0, 1, 2]) == 0.0
    assert no_relevant([]) == 1.0
    assert math.isnan(no_relevant([None]))


def test_query_figures_keys_and_values() -> None:
    """query_figures reports each figure under its documented key, equal to the functions."""
    grades = [2, 0, None, 3]
    figures = query_figures(grades, ks=(3, 10))
    assert set(figures) == {
        "ndcg@3",
        "ndcg@10",
        "ndcg_list@3",
        "ndcg_list@10",
        "precision@3",
        "precision@10",
        "mean_grade",
        "bad_top1_rate",
        "no_relevant_rate",
        "unjudged_share",
    }
    assert figures["ndcg@3"] == figures["ndcg_list@3"] == ndcg_at_k(grades, 3)
    assert figures["precision@10"] == precision_at_k(grades, 10)
    assert figures["unjudged_share"] == unjudged_share(grades) == 0.25


@pytest.mark.parametrize("grades", [[4], [-1, 2]])
def test_out_of_scale_grades_are_refused(grades: list[int]) -> None:
    """A grade outside 0–3 raises InputError naming the grades, as a list or an array."""
    with pytest.raises(InputError, match="grades"):
        ndcg_at_k(grades, 3)
    with pytest.raises(InputError, match="grades"):
        query_figures(np.array(grades, dtype=np.float64))


@given(st.lists(maybe_grade, max_size=12))
def test_an_array_of_grades_gives_the_lists_figures(grades: list[float | None]) -> None:
    """An array (NaN for unjudged) is what query_figures converts to once; every figure
    computed from it equals the figure computed from the list."""
    as_array = np.array([math.nan if g is None else g for g in grades], dtype=np.float64)
    from_list, from_array = query_figures(grades), query_figures(as_array)
    assert from_list.keys() == from_array.keys()
    for key, value in from_list.items():
        assert value == from_array[key] or (math.isnan(value) and math.isnan(from_array[key]))


def test_non_positive_k_is_refused() -> None:
    """k=0 is not a cut-off."""
    with pytest.raises(InputError, match="k"):
        precision_at_k([1], 0)


def test_daily_figures_count_an_all_irrelevant_list_as_ndcg_zero() -> None:
    """A list judged all 0 is the worst outcome, so the daily figure is 0, not left out."""
    figures = query_figures([0, 0, 0], ks=(3,))
    assert figures["ndcg@3"] == 0.0
    assert math.isnan(query_figures([None, None], ks=(3,))["ndcg@3"])


def test_served_mean_weighs_each_list_by_its_searches_and_skips_lists_without_a_figure() -> None:
    assert served_mean([(4.0, 1.0), (1.0, 0.5), (2.0, math.nan)]) == pytest.approx(0.9)
    assert math.isnan(served_mean([(3.0, math.nan)]))
    assert math.isnan(served_mean([]))
