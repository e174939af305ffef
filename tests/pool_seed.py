"""Seeding ranked lists with ensemble grades straight into the store, for the pool tests.

``store_lists`` writes one sample per query of ``lists`` (query -> (result id, ensemble
grade)s, in rank order) for ``day`` and ``ranker``, in its month's partitions: what the
judge step leaves behind, without judging anything.
"""

from __future__ import annotations

import datetime as dt

from monitor.store import partitions
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import Result, SampledQuery, SearchRecord


def store_lists(
    database: Database,
    day: dt.date,
    lists: dict[str, list[tuple[str, float]]],
    ranker: str = "production",
) -> None:
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    queries = [
        SampledQuery(
            record=SearchRecord(
                query_id=f"{day}-{query}",
                query=query,
                timestamp=stamp,
                results=tuple(
                    Result(id=rid, position=p, text=rid) for p, (rid, _) in enumerate(shown, 1)
                ),
                ranker=ranker,
            ),
            stratum="all",
            inclusion_probability=0.5,
        )
        for query, shown in lists.items()
    ]
    with database.engine.begin() as conn:
        partitions.ensure_partitions(conn, day=day)
        ids = repo.upsert_samples(conn, day=day, queries=queries, top_k=10)
        rows = [
            (ids[(ranker, q.record.normalized_query, 0)], rid, p, grade, 0.0, 1, "median")
            for q in queries
            for p, (rid, grade) in enumerate(lists[q.record.query], 1)
        ]
        repo.upsert_ensemble_grades(conn, rows=rows)
