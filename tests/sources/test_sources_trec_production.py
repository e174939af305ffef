"""The simulated production built from TREC DL19: traffic, regressions, true nDCG@10."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from typing import Any

import pytest
from real_data import DL19

from monitor.config import SourceConfig
from monitor.errors import InputError, SourceError
from monitor.sources.base import Source
from monitor.sources.factory import build_source
from monitor.sources.trec_production import TrecProductionSource, shuffled_name
from monitor.types import SearchRecord

pytestmark = pytest.mark.dl19
DAY = dt.date(2025, 3, 1)


def source(**options: Any) -> TrecProductionSource:
    options.setdefault("data_dir", str(DL19))
    built = build_source(SourceConfig(kind="trec_production", options=options))
    assert isinstance(built, TrecProductionSource)
    return built


def day_of(src: TrecProductionSource, day: dt.date = DAY) -> list[SearchRecord]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return list(src.fetch(start, start + dt.timedelta(days=1)))


def fingerprint(records: list[SearchRecord]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    return [
        (r.query_id, r.timestamp.isoformat(), r.ranker, tuple(x.id for x in r.results))
        for r in records
    ]


def test_is_a_source_and_counts_what_it_read() -> None:
    """It satisfies the Source protocol and its report counts the day's searches."""
    src = source(searches_per_day=120)
    records = day_of(src)
    assert isinstance(src, Source)
    assert len(records) == 120 and src.report.read == 120 and src.report.bad == 0


def test_same_seed_and_day_same_traffic() -> None:
    """A (seed, day) fixes the searches; another day or seed gives other searches."""
    options = {"share": 0.3, "start": DAY.isoformat(), "searches_per_day": 200}
    first = fingerprint(day_of(source(seed=7, **options)))
    assert first == fingerprint(day_of(source(seed=7, **options)))
    assert first != fingerprint(day_of(source(seed=7, **options), DAY + dt.timedelta(days=1)))
    assert first != fingerprint(day_of(source(seed=8, **options)))


def test_timestamps_inside_the_window_and_in_order() -> None:
    """Searches fall inside the asked day, and a half-day window gets only its half."""
    src = source(searches_per_day=300)
    start = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC)
    records = day_of(src)
    assert all(start <= r.timestamp < start + dt.timedelta(days=1) for r in records)
    assert [r.timestamp for r in records] == sorted(r.timestamp for r in records)
    morning = list(src.fetch(start, start + dt.timedelta(hours=12)))
    assert 0 < len(morning) < len(records)
    assert all(r.timestamp < start + dt.timedelta(hours=12) for r in morning)


def test_queries_repeat_within_a_day_with_head_and_tail() -> None:
    """Popular queries are searched many times a day; the head band is the popular half."""
    src = source(searches_per_day=500)
    records = day_of(src)
    counts = Counter(r.query_id for r in records)
    assert len(counts) < len(records) and counts.most_common(1)[0][1] >= 20
    popularity = src.popularity()
    bands = {q: src.traffic(q) for q in popularity}
    head = [popularity[q] for q, b in bands.items() if b == "head"]
    tail = [popularity[q] for q, b in bands.items() if b == "tail"]
    assert head and tail and min(head) > max(tail)
    assert all(r.segment["traffic"] == bands[r.query_id] for r in records)
    head_share = sum(r.segment["traffic"] == "head" for r in records) / len(records)
    assert 0.4 < head_share < 0.75


def test_no_regression_before_start() -> None:
    """Before ``start`` every search is served by the base ranker, whatever the share."""
    records = day_of(source(share=1.0, start=(DAY + dt.timedelta(days=1)).isoformat()))
    assert {r.ranker for r in records} == {"splade-pp-ed"}


def test_full_share_serves_only_the_regression_ranker() -> None:
    """With share 1 from ``start`` on, bm25 serves every search with its own top 10."""
    src = source(share=1.0, start=DAY.isoformat())
    bm25 = src.run("bm25").results
    records = day_of(src)
    assert {r.ranker for r in records} == {"bm25"}
    assert all(r.results == bm25[r.query_id] for r in records)


def test_partial_share_splits_traffic() -> None:
    """A 25% share serves about a quarter of the searches with bm25, the rest with splade."""
    records = day_of(source(share=0.25, start=DAY.isoformat(), searches_per_day=2000))
    served = Counter(r.ranker for r in records)
    assert set(served) == {"bm25", "splade-pp-ed"}
    assert served["bm25"] / len(records) == pytest.approx(0.25, abs=0.03)


def test_shuffle_keeps_the_top_10_in_another_order() -> None:
    """The shuffle regression shows the base ranker's top 10, reordered, positions 1..10."""
    src = source(share=1.0, shuffle=True, start=DAY.isoformat())
    base = src.run("splade-pp-ed").results
    records = day_of(src)
    assert {r.ranker for r in records} == {shuffled_name("splade-pp-ed")}
    assert all({x.id for x in r.results} == {x.id for x in base[r.query_id]} for r in records)
    assert all([x.position for x in r.results] == list(range(1, 11)) for r in records)
    moved = sum(r.results != base[r.query_id] for r in records)
    assert moved > 0.9 * len(records)


@pytest.mark.parametrize(("ranker", "published"), [("bm25", 0.436), ("splade-pp-ed", 0.673)])
def test_true_ndcg_matches_the_published_figure(ranker: str, published: float) -> None:
    """Per-query true nDCG@10 of what a ranker served, averaged over queries, is the
    the figure in docs/detection-power.md (the traffic reaches all 43 queries within a few days)."""
    share = 1.0 if ranker == "bm25" else 0.0
    src = source(share=share, start="2025-01-01", searches_per_day=400)
    per_query: dict[str, float] = {}
    for i in range(5):
        for record in day_of(src, DAY + dt.timedelta(days=i)):
            assert record.ranker == ranker
            per_query[record.query_id] = src.true_ndcg(record)
    assert len(per_query) == 43
    assert statistics.fmean(per_query.values()) == pytest.approx(published, abs=0.001)


def test_true_drop_grows_with_the_share() -> None:
    """The traffic's mean true nDCG@10 falls as more of it is served by bm25."""
    means = []
    for share in (0.0, 0.5, 1.0):
        src = source(share=share, start=DAY.isoformat(), searches_per_day=1500)
        means.append(statistics.fmean(src.true_ndcg(r) for r in day_of(src)))
    assert means[0] > means[1] > means[2]


def test_bad_options_are_named() -> None:
    """An unknown option, a share outside [0, 1] or a missing ranker says which."""
    with pytest.raises(InputError, match="shares"):
        source(shares=0.1)
    with pytest.raises(InputError, match="share must be in"):
        source(share=1.5)
    with pytest.raises(SourceError, match=r"run\.nope\.jsonl"):
        source(regression_ranker="nope")
