"""The store's named reads and the production-samples predicate, on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from monitor.store import metric_reads, reads
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.store.models import COMPARE_PREFIX
from monitor.store.sample_reads import stored_samples
from monitor.types import Result, SampledQuery, SearchRecord

DAY = dt.date(2026, 11, 1)


def _queries(ranker: str, n: int = 3) -> list[SampledQuery]:
    stamp = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    return [
        SampledQuery(
            record=SearchRecord(
                query_id=f"q{i}",
                query=f"query {i}",
                timestamp=stamp,
                results=(Result(id=f"d{i}", position=1, title="t", text="body"),),
                ranker=ranker,
            ),
            stratum="all",
            inclusion_probability=0.5,
        )
        for i in range(n)
    ]


def _store_production_and_compare(database: Database) -> None:
    production = _queries("production") + [
        replace(q, record=replace(q.record, ranker="bm25")) for q in _queries("x", 2)
    ]
    with database.engine.begin() as conn:
        repo.upsert_samples(
            conn, day=DAY, queries=production + _queries(COMPARE_PREFIX + "bm25", 4), top_k=5
        )


def test_production_samples_leave_out_the_compare_flows(database: Database) -> None:
    """Production's samples are every ranker's but compare:*, in every read and the delete."""
    _store_production_and_compare(database)
    with database.engine.connect() as conn:
        assert len(stored_samples(conn, day=DAY)) == 5
        assert len(stored_samples(conn, day=DAY, ranker=COMPARE_PREFIX + "bm25")) == 4
        assert len(metric_reads.sample_mix(conn, first=DAY, last=DAY, segment_of="panel")) == 5
        assert len(metric_reads.result_lengths(conn, day=DAY)) == 5
    with database.engine.begin() as conn:
        repo.delete_production_samples(conn, day=DAY)
    with database.engine.connect() as conn:
        assert stored_samples(conn, day=DAY) == ()
        assert len(stored_samples(conn, day=DAY, ranker=COMPARE_PREFIX + "bm25")) == 4


def _figure(metric: str, value: float, *, segment: str = "all", k: int = 10) -> repo.MetricTuple:
    return (metric, segment, "ensemble", k, value, value - 0.1, value + 0.1, 50, None)


def test_daily_series_reads_one_figure_between_its_bounds(database: Database) -> None:
    """daily_series gives one figure's days oldest first, bounds included, other figures out."""
    with database.engine.begin() as conn:
        for i in range(5):
            day = DAY + dt.timedelta(days=i)
            repo.upsert_daily_metrics(
                conn,
                day=day,
                rows=[
                    _figure("ndcg", 0.5 + i / 100),
                    _figure("ndcg", 0.1, k=3),
                    _figure("ndcg", 0.9, segment="locale=fr"),
                    _figure("mrr", 0.7),
                ],
            )
    with database.engine.connect() as conn:
        series = reads.daily_series(
            conn,
            metric="ndcg",
            segment="all",
            judge="ensemble",
            k=10,
            first=DAY + dt.timedelta(days=1),
            last=DAY + dt.timedelta(days=3),
        )
        every_k = reads.daily_series(conn, metric="ndcg", segment="all", judge="ensemble")
    assert [p.day for p in series] == [DAY + dt.timedelta(days=i) for i in (1, 2, 3)]
    assert [p.value for p in series] == [0.5 + i / 100 for i in (1, 2, 3)]
    v = 0.5 + 1 / 100
    assert series[0] == reads.SeriesPoint(DAY + dt.timedelta(days=1), 10, v, v - 0.1, v + 0.1, 50)
    assert len(every_k) == 10 and {p.k for p in every_k} == {3, 10}


def test_replacing_a_days_figures_leaves_none_over(database: Database) -> None:
    """replace_daily_metrics drops the day's former figures; other days keep theirs."""
    with database.engine.begin() as conn:
        repo.upsert_daily_metrics(conn, day=DAY, rows=[_figure("ndcg", 0.5), _figure("mrr", 0.6)])
        repo.upsert_daily_metrics(conn, day=DAY + dt.timedelta(days=1), rows=[_figure("mrr", 0.6)])
    with database.engine.begin() as conn:
        repo.replace_daily_metrics(conn, day=DAY, rows=[_figure("ndcg", 0.4)])
    with database.engine.connect() as conn:
        figures = reads.figures_between(conn, first=DAY, last=DAY + dt.timedelta(days=1))
    assert [(f.day, f.metric, f.value) for f in figures] == [
        (DAY, "ndcg", 0.4),
        (DAY + dt.timedelta(days=1), "mrr", 0.6),
    ]
