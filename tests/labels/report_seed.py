"""A day worth reporting, stored in real PostgreSQL through the store's own writes.

Fourteen days of figures (all traffic, locale=en, locale=fr) in which the French locale
collapses on the last day ``DAY``; two judges (``a`` and ``b``) whose agreement, invalid
rate and cost are stored day by day; a configuration change four days before ``DAY``; and
on ``DAY`` and three days before, sampled queries graded by both judges with their
reasoning, so the report has worst queries, a query that dropped against its own
history, and judge disagreements to show.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence

from monitor.judges.ensemble import aggregate
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import Result, SampledQuery, SearchRecord, Verdict, VerdictStatus

DAY = dt.date(2026, 11, 20)
DAYS = 14
FIRST = DAY - dt.timedelta(days=DAYS - 1)
CONFIG_CHANGE = DAY - dt.timedelta(days=4)
#: a query with no space in it: the page must wrap it, not overflow
LONG_QUERY = "x" * 90
#: query -> (segment values, ranked result ids)
TODAY: dict[str, tuple[dict[str, str], list[str]]] = {
    "croissant recette": ({"locale": "fr"}, ["fr1", "fr2", "fr3"]),
    "baguette": ({"locale": "fr"}, ["fr4", "fr5"]),
    "running playlist": ({"locale": "en"}, ["en1", "en2", "en3"]),
    LONG_QUERY: ({"locale": "en"}, ["en4"]),
}
#: (query, result) -> judge -> grade, on DAY
TODAY_GRADES: dict[tuple[str, str], dict[str, int | None]] = {
    ("croissant recette", "fr1"): {"a": 0, "b": 0},
    ("croissant recette", "fr2"): {"a": 0, "b": 0},
    ("croissant recette", "fr3"): {"a": 0, "b": 0},
    ("baguette", "fr4"): {"a": 0, "b": None},
    ("baguette", "fr5"): {"a": 3, "b": 0},
    ("running playlist", "en1"): {"a": 3, "b": 3},
    ("running playlist", "en2"): {"a": 2, "b": 2},
    ("running playlist", "en3"): {"a": 1, "b": 2},
    (LONG_QUERY, "en4"): {"a": 2, "b": 2},
}
#: three days before: the same French query was served well
BEFORE = DAY - dt.timedelta(days=3)
BEFORE_QUERIES = {"croissant recette": ({"locale": "fr"}, ["fr9", "fr1", "fr2"])}
BEFORE_GRADES: dict[tuple[str, str], dict[str, int | None]] = {
    ("croissant recette", "fr9"): {"a": 3, "b": 3},
    ("croissant recette", "fr1"): {"a": 2, "b": 3},
    ("croissant recette", "fr2"): {"a": 1, "b": 1},
}


def _sampled(
    day: dt.date, queries: Mapping[str, tuple[dict[str, str], Sequence[str]]]
) -> list[SampledQuery]:
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return [
        SampledQuery(
            record=SearchRecord(
                query_id=f"q{i}",
                query=query,
                timestamp=stamp,
                results=tuple(
                    Result(id=rid, position=p, title=f"Title of {rid}", text=f"The body of {rid}.")
                    for p, rid in enumerate(ids, start=1)
                ),
                segment=segment,
            ),
            stratum=f"locale={segment['locale']}",
            inclusion_probability=0.5,
        )
        for i, (query, (segment, ids)) in enumerate(queries.items())
    ]


def seed_samples(
    database: Database,
    day: dt.date,
    queries: Mapping[str, tuple[dict[str, str], Sequence[str]]],
    grades: Mapping[tuple[str, str], Mapping[str, int | None]],
) -> None:
    """Store a day's sample, both judges' verdicts (with reasoning) and the ensemble."""
    from monitor.types import normalize_query

    with database.engine.begin() as conn:
        ids = repo.upsert_samples(conn, day=day, queries=_sampled(day, queries), top_k=10)
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
            for name in ("a", "b")
        }
        stored, ensemble = [], []
        for (query, rid), per in grades.items():
            sample_id = ids[("production", normalize_query(query), 0)]
            position = list(queries[query][1]).index(rid) + 1
            for name, grade in per.items():
                verdict = Verdict(
                    judge=name,
                    cache_key=hashlib.sha256(f"{day}-{query}-{rid}-{name}".encode()).hexdigest(),
                    status=VerdictStatus.OK if grade is not None else VerdictStatus.INVALID,
                    grade=grade,
                    reasoning=f"judge {name} on {rid}: grade {grade} because reasons",
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


def fr_ndcg(day: dt.date) -> float:
    """The French locale's nDCG@10: steady, then a collapse on DAY."""
    return 0.18 if day == DAY else 0.74 + 0.01 * ((day - FIRST).days % 3)


def seed_figures(database: Database) -> None:
    """Fourteen days of figures and daily runs, the configuration changing once."""
    with database.engine.begin() as conn:
        for i in range(DAYS):
            day = FIRST + dt.timedelta(days=i)
            fr = fr_ndcg(day)
            en = 0.70 + 0.01 * (i % 2)
            overall = (fr + 2 * en) / 3
            rows = [
                ("ndcg", "all", "ensemble", 10, overall, overall - 0.04, overall + 0.04, 90, None),
                ("ndcg", "locale=en", "ensemble", 10, en, en - 0.05, en + 0.05, 60, None),
                ("ndcg", "locale=fr", "ensemble", 10, fr, fr - 0.06, fr + 0.06, 30, None),
                ("ndcg", "all", "ensemble", 3, overall - 0.1, None, None, 90, None),
                ("krippendorff_alpha", "all", "ensemble", 0, 0.62, 0.55, 0.69, 90, None),
                ("cohen_kappa", "all", "a~b", 0, 0.58, 0.5, 0.66, 90, None),
                ("invalid_rate", "all", "a", 0, 0.0, 0.0, 0.0, 300, None),
                ("invalid_rate", "all", "b", 0, 0.02, 0.01, 0.03, 300, None),
                ("cost_usd", "all", "a", 0, 0.012, None, None, 300, None),
                ("cost_usd", "all", "b", 0, 0.031, None, None, 300, None),
                ("human_kappa", "all", "a", 0, None, None, None, 0, "no human labels of the day"),
                ("grade_psi", "all", "ensemble", 0, 0.05, None, None, 300, None),
            ]
            if day == DAY:
                rows += [
                    ("changepoint_cusum", "all", "ensemble", 10, 6.5, None, None, DAYS, None),
                    (
                        "changepoint_start_days_ago",
                        "all",
                        "ensemble",
                        10,
                        0.0,
                        None,
                        None,
                        14,
                        None,
                    ),
                ]
            repo.upsert_daily_metrics(conn, day=day, rows=rows)
            run_id = repo.start_run(
                conn,
                flow="daily",
                run_date=day,
                config_hash="c2" if day >= CONFIG_CHANGE else "c1",
            )
            repo.finish_run(
                conn, run_id=run_id, status="completed", counts={}, cost_usd=0.0, duration_s=1.0
            )


def seed_story(database: Database) -> None:
    """Everything: the figures, the runs and both days' samples and verdicts."""
    seed_figures(database)
    seed_samples(database, BEFORE, BEFORE_QUERIES, BEFORE_GRADES)
    seed_samples(database, DAY, TODAY, TODAY_GRADES)
