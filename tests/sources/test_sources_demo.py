"""The demo source: deterministic traffic, real BM25, and regressions of known size."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from monitor.config import SourceConfig
from monitor.errors import InputError, SourceError
from monitor.sources.demo import DemoSource
from monitor.types import SearchRecord

DAY = dt.date(2024, 5, 1)
N = 3000


def demo(**scenario: object) -> DemoSource:
    return DemoSource(SourceConfig(kind="demo", options={"scenario": scenario}))


def mean_ndcg(source: DemoSource, records: list[SearchRecord]) -> float:
    return float(np.mean([source.true_ndcg10(r) for r in records]))


def test_deterministic_per_seed_and_day() -> None:
    """Same (seed, day) gives the same searches; another day gives others."""
    a = demo().records_for_day(DAY, 500)
    assert a == demo().records_for_day(DAY, 500)
    other = demo().records_for_day(DAY + dt.timedelta(days=1), 500)
    assert [r.query for r in a] != [r.query for r in other]


def test_traffic_has_segments_signals_and_zero_results() -> None:
    """Searches carry locale/band/surface, clicks, and some end with no results."""
    records = demo().records_for_day(DAY, N)
    assert {r.segment["locale"] for r in records} == {"en", "de", "fr"}
    assert {r.segment["band"] for r in records} == {"head", "torso", "tail"}
    assert any(r.zero_result and not r.results for r in records)
    assert any(r.clicks for r in records) and any(r.reformulated for r in records)
    assert all(len(r.results) <= 10 for r in records)


def test_ground_truth_agrees_with_ndcg() -> None:
    """true_ndcg10 is 1 for the list of the best items and matches true_grade."""
    source = demo()
    record = next(r for r in source.records_for_day(DAY, 200) if r.results)
    grades = [source.true_grade(record.query, r.id) for r in record.results]
    assert all(0 <= g <= 3 for g in grades)
    assert 0.0 <= source.true_ndcg10(record) <= 1.0
    with pytest.raises(InputError, match="not a query the demo generates"):
        source.true_grade("no such query at all", "pl-00001")


@pytest.mark.parametrize(
    ("scenario", "affected"),
    [
        ({"shuffle": 1.0}, lambda r: True),
        ({"drop_field": True}, lambda r: True),
        ({"broken_segment": "locale=fr"}, lambda r: r.segment["locale"] == "fr"),
    ],
)
def test_regressions_lower_true_ndcg(scenario: dict[str, object], affected: object) -> None:
    """Each injected regression lowers true nDCG@10 of the traffic it touches."""
    base_source, bad_source = demo(), demo(**scenario, start=DAY)
    select = affected  # type: ignore[assignment]
    base = [r for r in base_source.records_for_day(DAY, N) if select(r)]  # type: ignore[operator]
    bad = [r for r in bad_source.records_for_day(DAY, N) if select(r)]  # type: ignore[operator]
    assert mean_ndcg(bad_source, bad) < mean_ndcg(base_source, base) - 0.03
    before = bad_source.records_for_day(DAY - dt.timedelta(days=1), 300)
    clean = base_source.records_for_day(DAY - dt.timedelta(days=1), 300)
    assert before == clean


def test_query_drift_grows_the_tail() -> None:
    """With query_drift the tail's share of traffic grows day by day."""
    source = demo(query_drift=0.05, start=DAY)
    days = [source.records_for_day(DAY + dt.timedelta(days=d), N) for d in (0, 10)]
    share = [np.mean([r.segment["band"] == "tail" for r in records]) for records in days]
    assert share[1] > share[0] + 0.2


def test_fetch_filters_window_and_bad_scenario_refused() -> None:
    """fetch yields only the window's searches; a malformed scenario is refused."""
    source = DemoSource(SourceConfig(kind="demo", options={"searches_per_day": 400}))
    start = dt.datetime(2024, 5, 1, 6, tzinfo=dt.UTC)
    got = list(source.fetch(start, start + dt.timedelta(hours=6)))
    assert got and all(start <= r.timestamp < start + dt.timedelta(hours=6) for r in got)
    with pytest.raises(SourceError, match="broken_segment"):
        demo(broken_segment="fr")
