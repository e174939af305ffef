"""The metrics step on real PostgreSQL: 30 stored days with a shift on day 20."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import text

from monitor.config import load_settings
from monitor.pipeline.metrics_step import (
    _day_grades,
    _graded_queries,
    _grades_by_judge,
    _verdict_rows,
    compute_day_metrics,
)
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import Result, SampledQuery, SearchRecord, Verdict, VerdictStatus

START = dt.date(2026, 3, 1)
SHIFT_DAY = 20  # 1-based


def _store_day(
    database: Database, day: dt.date, judge_id: int, rng: random.Random, bad: float
) -> None:
    """60 queries × 5 results; after the shift a share ``bad`` of results turns irrelevant."""
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    queries = [
        SampledQuery(
            record=SearchRecord(
                query_id=f"{day}-{i}",
                query=f"query {i} of {day}",
                timestamp=stamp,
                results=tuple(
                    Result(id=f"r{i}-{p}", position=p, text="x" * p) for p in range(1, 6)
                ),
                segment={"locale": "de" if i % 3 else "en"},
            ),
            stratum="all",
            inclusion_probability=0.5,
        )
        for i in range(60)
    ]
    with database.engine.begin() as conn:
        ids = repo.upsert_samples(conn, day=day, queries=queries, top_k=5)
        stored, ensemble = [], []
        for q in queries:
            sample_id = ids[(q.record.ranker, q.record.normalized_query, 0)]
            for r in q.record.results:
                grade = 0 if rng.random() < bad else rng.choice([2, 3, 3, 3 - (r.position > 3)])
                key = f"{sample_id:010d}{r.position}".ljust(64, "0")
                stored.append(
                    repo.StoredVerdict(
                        sample_id=sample_id,
                        judge_id=judge_id,
                        result_id=r.id,
                        position=r.position,
                        verdict=Verdict(
                            judge="j", cache_key=key, status=VerdictStatus.OK, grade=grade
                        ),
                    )
                )
                ensemble.append((sample_id, r.id, r.position, float(grade), 0.0, 1, "median"))
        repo.write_verdicts(conn, verdicts=stored)
        repo.upsert_ensemble_grades(conn, rows=ensemble)


def test_thirty_days_with_a_shift_on_day_20_find_the_change_point(database: Database) -> None:
    """Daily metrics computed day by day put the change point on day 20 ± 1."""
    settings = load_settings(baseline_days=14)
    rng = random.Random(11)
    with database.engine.begin() as conn:
        judge_id = repo.ensure_judge(
            conn, name="j", kind="llm", model="m", prompt_version="p", config_hash="h", params={}
        )
    for offset in range(30):
        day = START + dt.timedelta(days=offset)
        _store_day(database, day, judge_id, rng, bad=0.25 if offset + 1 >= SHIFT_DAY else 0.0)
        compute_day_metrics(database, day, settings)
    last = START + dt.timedelta(days=29)
    with database.engine.connect() as conn:
        days_ago = conn.execute(
            text(
                "SELECT value FROM daily_metrics WHERE metric_date = :d AND segment = 'all' "
                "AND metric = 'changepoint_start_days_ago'"
            ),
            {"d": last},
        ).scalar()
        rows = conn.execute(
            text(
                "SELECT count(*) FROM daily_metrics "
                "WHERE metric = 'ndcg' AND k = 10 AND segment = 'all'"
            )
        ).scalar_one()
    assert rows == 30
    assert days_ago is not None
    found = last - dt.timedelta(days=int(days_ago))
    assert abs((found - (START + dt.timedelta(days=SHIFT_DAY - 1))).days) <= 1


def test_the_days_grades_read_once_match_the_grade_query(database: Database) -> None:
    """Drift compares today's grades, taken from the rows the step already read, with
    the same query the baseline uses: both give the same grades per judge, invalid
    verdicts and missing ensemble grades left out."""
    rng = random.Random(5)
    with database.engine.begin() as conn:
        first, second = (
            repo.ensure_judge(
                conn, name=n, kind="llm", model="m", prompt_version="p", config_hash=n, params={}
            )
            for n in ("j", "k")
        )
    _store_day(database, START, first, rng, bad=0.2)
    with database.engine.begin() as conn:
        rows = conn.execute(
            text("SELECT id, results FROM samples WHERE sample_date = :d ORDER BY id LIMIT 9"),
            {"d": START},
        ).all()
        repo.write_verdicts(
            conn,
            verdicts=[
                repo.StoredVerdict(
                    sample_id=sample_id,
                    judge_id=second,
                    result_id=results[0]["id"],
                    position=1,
                    verdict=Verdict(  # every third one invalid, though it holds a grade
                        judge="k",
                        cache_key=f"k{sample_id}".ljust(64, "0"),
                        status=VerdictStatus.OK if i % 3 else VerdictStatus.INVALID,
                        grade=i % 4,
                    ),
                )
                for i, (sample_id, results) in enumerate(rows)
            ],
        )
        conn.execute(text("UPDATE ensemble_grades SET grade = NULL WHERE position = 5"))
    with database.engine.connect() as conn:
        read_once = _day_grades(_verdict_rows(conn, START), _graded_queries(conn, START))
        queried = _grades_by_judge(conn, START, START)
    assert set(read_once) == set(queried) == {"j", "k", "ensemble"}
    for name, grades in queried.items():
        assert sorted(read_once[name]) == sorted(grades)  # type: ignore[type-var]
    assert len(queried["k"]) == 6 and len(queried["ensemble"]) == 60 * 4
