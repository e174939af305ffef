"""Seeding real PostgreSQL through the store's own write functions, for label/report tests."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence

import pytest

from monitor.judges.ensemble import aggregate
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import (
    Result,
    SampledQuery,
    SearchRecord,
    Verdict,
    VerdictStatus,
    normalize_query,
)

#: query text -> ranked result ids
Queries = Mapping[str, Sequence[str]]
#: (query text, result id) -> judge name -> grade (None: an invalid answer)
Grades = Mapping[tuple[str, str], Mapping[str, int | None]]


def sampled(day: dt.date, queries: Queries) -> list[SampledQuery]:
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return [
        SampledQuery(
            record=SearchRecord(
                query_id=f"q{i}",
                query=query,
                timestamp=stamp,
                results=tuple(
                    Result(id=rid, position=p, title=f"title {rid}", text=f"body of {rid}")
                    for p, rid in enumerate(ids, start=1)
                ),
                segment={"locale": "en"},
            ),
            stratum="locale=en",
            inclusion_probability=0.5,
        )
        for i, (query, ids) in enumerate(queries.items())
    ]


def seed_day(database: Database, day: dt.date, queries: Queries, grades: Grades) -> None:
    """Store a day's sample, each judge's verdicts and the ensemble (median) grades."""
    with database.engine.begin() as conn:
        ids = repo.upsert_samples(conn, day=day, queries=sampled(day, queries), top_k=10)
        judges = sorted({j for per in grades.values() for j in per})
        judge_ids = {
            name: repo.ensure_judge(
                conn,
                name=name,
                kind="llm",
                model="m",
                prompt_version="p1",
                config_hash="c1",
                params={},
            )
            for name in judges
        }
        stored = []
        ensemble = []
        for (query, rid), per in grades.items():
            sample_id = ids[("production", normalize_query(query), 0)]
            position = list(queries[query]).index(rid) + 1
            for name, grade in per.items():
                verdict = Verdict(
                    judge=name,
                    cache_key=f"{day}-{query}-{rid}-{name}",
                    status=VerdictStatus.OK if grade is not None else VerdictStatus.INVALID,
                    grade=grade,
                    reasoning=f"{name} thinks {grade}",
                )
                stored.append(
                    repo.StoredVerdict(sample_id, judge_ids[name], rid, position, verdict)
                )
            agg = aggregate(per)
            ensemble.append(
                (sample_id, rid, position, agg.grade, agg.disagreement, agg.n_judges, "median")
            )
        repo.write_verdicts(conn, verdicts=stored)
        repo.upsert_ensemble_grades(conn, rows=ensemble)


@pytest.fixture
def seed() -> Callable[[Database, dt.date, Queries, Grades], None]:
    """Store a day of samples, verdicts and ensemble grades."""
    return seed_day


def run_cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGE_MONITOR_")}
    env.update({"DATABASE_URL": database_url, "COLUMNS": "250"})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def cli(database_url: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``judge-monitor`` as a real process against this test's database."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, database_url=database_url)

    return run
