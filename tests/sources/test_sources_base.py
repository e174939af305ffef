"""The shared row validation and bad-row accounting every source relies on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

import monitor.sources as sources
import monitor.sources.base as base
from monitor.errors import SourceError
from monitor.sources.base import BadRow, BadRows, Limits, guarded, record_from_mapping

LogRow = Callable[..., dict[str, Any]]
DAY = dt.date(2024, 5, 1)
START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
END = dt.datetime(2024, 5, 2, tzinfo=dt.UTC)


def test_exported_members() -> None:
    """Every name in __all__ exists in the module."""
    for module in (sources, base):
        for name in module.__all__:
            assert hasattr(module, name), name


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"query": "  "}, base.MISSING_QUERY),
        ({"query_id": None}, base.MISSING_QUERY_ID),
        ({"results": None}, base.NO_RESULTS),
        ({"timestamp": "yesterday-ish"}, base.BAD_TIMESTAMP),
        ({"results": [{"id": "a", "position": 1}, {"id": "b", "position": 3}]}, base.POSITIONS),
        ({"results": [{"id": "a", "text": "x" * 50}]}, base.OVERSIZED),
        ({"query": "bad \udcff byte"}, base.INVALID_UTF8),
        ({"results": "[not json"}, base.BAD_JSON),
        ({"results": [{"title": "no id"}]}, base.BAD_RESULT),
    ],
)
def test_each_bad_row_reason(override: dict[str, object], reason: str, log_row: LogRow) -> None:
    """Each kind of broken row is rejected under its own reason."""
    with pytest.raises(BadRow) as info:
        record_from_mapping(log_row(1, **override), limits=Limits(max_text_chars=40))
    assert info.value.reason == reason


def test_positions_sorted_and_empty_results_mean_zero_result(log_row: LogRow) -> None:
    """Results come back in position order; an empty list is a zero-result search."""
    row = log_row(1, results=[{"id": "b", "position": 2}, {"id": "a", "position": 1}])
    assert [r.id for r in record_from_mapping(row).results] == ["a", "b"]
    assert record_from_mapping(log_row(2, results=[])).zero_result


def test_guarded_counts_examples_and_refuses_a_bad_day(log_row: LogRow) -> None:
    """Bad rows are counted with their ids, and too many of them raise with the counts."""
    rows = [(f"row {i}", log_row(i)) for i in range(6)]
    rows += [(f"row {i}", log_row(i, query="")) for i in range(6, 10)]
    report = BadRows(source="test")
    with pytest.raises(SourceError, match=r"4 of 10 rows bad .*missing query: 4 \(e\.g\. row 6"):
        list(guarded(rows, report=report, start=START, end=END, max_bad_row_share=0.2))
    report = BadRows(source="test")
    got = list(guarded(rows, report=report, start=START, end=END, max_bad_row_share=0.5))
    assert len(got) == 6
    assert report.counts[base.MISSING_QUERY] == 4


def test_empty_input_yields_nothing() -> None:
    """An empty day is an empty result, not an error."""
    report = BadRows(source="test")
    assert list(guarded([], report=report, start=START, end=END, max_bad_row_share=0.0)) == []
    assert report.share == 0.0


def test_inverted_window_is_refused() -> None:
    """A window whose end is before its start fails before reading."""
    with pytest.raises(SourceError, match="before its start"):
        base.check_window(END, START)
