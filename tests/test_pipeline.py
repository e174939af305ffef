"""The daily steps on real PostgreSQL: odd snapshots, reruns after a configuration change."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import text

from monitor.config import JudgeConfig, load_settings
from monitor.judges.factory import build_ensemble
from monitor.pipeline.metrics_step import compute_day_metrics
from monitor.pipeline.steps import judge_samples, load_samples, start_day
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import Result, SampledQuery, SearchRecord

DAY = dt.date(2026, 4, 1)


def _store(database: Database, n: int = 12, repeat_first: bool = False) -> None:
    stamp = dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)
    queries = []
    for i in range(n):
        results = [Result(id=f"r{i}-{p}", position=p, title=f"red shoe {p}") for p in (1, 2, 3)]
        if repeat_first:
            results.append(Result(id=f"r{i}-1", position=4, title="red shoe 1 again"))
        queries.append(
            SampledQuery(
                record=SearchRecord(
                    query_id=str(i), query=f"red shoes {i}", timestamp=stamp, results=tuple(results)
                ),
                stratum="all",
                inclusion_probability=0.5,
            )
        )
    with database.engine.begin() as conn:
        repo.upsert_samples(conn, day=DAY, queries=queries, top_k=10)


def _count(database: Database, sql: str) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_a_result_listed_twice_is_judged_once(database: Database) -> None:
    """A snapshot repeating a result id gives one verdict and one ensemble grade for it."""
    _store(database, repeat_first=True)
    samples = load_samples(database, DAY)
    assert all(len(s.results) == 3 for s in samples)
    judges = build_ensemble([JudgeConfig(name="lex", kind="lexical", api_key_env=None)])
    asyncio.run(judge_samples(database, judges, samples))
    assert _count(database, "SELECT count(*) FROM verdicts") == 36
    assert _count(database, "SELECT count(*) FROM ensemble_grades") == 36


def test_recomputing_a_day_leaves_no_stale_figures(database: Database) -> None:
    """Metrics recomputed with other cut-offs replace the day's rows, none left over."""
    _store(database)
    judges = build_ensemble([JudgeConfig(name="lex", kind="lexical", api_key_env=None)])
    asyncio.run(judge_samples(database, judges, load_samples(database, DAY)))
    compute_day_metrics(database, DAY, load_settings(ks=[3, 10]))
    assert _count(database, "SELECT count(*) FROM daily_metrics WHERE metric='ndcg' AND k=3") > 0
    compute_day_metrics(database, DAY, load_settings(ks=[10]))
    assert _count(database, "SELECT count(*) FROM daily_metrics WHERE metric='ndcg' AND k=3") == 0


def test_a_new_configuration_replaces_the_days_sample(database: Database) -> None:
    """Rerunning a day under another configuration starts its sample afresh, not mixed."""
    first = load_settings()
    start_day(database, first, DAY)
    _store(database)
    start_day(database, first, DAY)
    assert _count(database, "SELECT count(*) FROM samples") == 12
    changed = load_settings(sampling={"size": 50})
    start_day(database, changed, DAY)
    assert _count(database, "SELECT count(*) FROM samples") == 0
    assert _count(database, "SELECT count(*) FROM runs") == 1
