"""Storage at a year's scale: COPY ingest of 1M verdict rows, and a day's metrics.

1. COPY ingest: 1,000,000 verdict rows written with ``repository.write_verdicts`` (COPY
   into a staging table, then insert-on-conflict) in batches of 100,000, into an empty
   ``verdicts`` table; rows/s, median (min-max) of ``--copy-runs`` runs (3 by default:
   a run takes ~20 s, and five would push ``make bench`` towards its 15 minutes).
2. A year of history: 365 days x 200 sampled queries x top-10 x 3 judges (2.19M verdicts,
   730k ensemble grades, one stored nDCG per day), then ``compute_day_metrics`` for the
   last day (which reads the baseline window and the nDCG history): seconds, median
   (min-max) of ``--runs`` runs (5).

Usage: ``python bench/storage.py [--rows 1000000] [--days 365] [--runs 5] [--copy-runs 3]
[--quick]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_verdict, report, scratch_database, timed
from judge_throughput import llm_config

from monitor.config import SamplingConfig, Settings
from monitor.pipeline.metrics_step import compute_day_metrics
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import Result, SampledQuery, SearchRecord

QUERIES, TOP_K, JUDGES = 200, 10, 3
FIRST = dt.date(2025, 1, 1)
BATCH = 100_000


def _sample(day: dt.date) -> list[SampledQuery]:
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return [
        SampledQuery(
            record=SearchRecord(
                query_id=f"{day}-{q}",
                query=f"query {q % 500} about topic {q}",
                timestamp=stamp,
                results=tuple(
                    Result(id=f"r{q}-{p}", position=p, text="a result passage " * (p + 3))
                    for p in range(1, TOP_K + 1)
                ),
                segment={"locale": ("en", "de", "fr")[q % 3]},
            ),
            stratum=("en", "de", "fr")[q % 3],
            inclusion_probability=0.1,
        )
        for q in range(QUERIES)
    ]


def _judges(database: Database) -> list[int]:
    with database.engine.begin() as conn:
        return [
            repo.ensure_judge(
                conn,
                name=f"llm{j}",
                kind="llm",
                model="m",
                prompt_version="p",
                config_hash=f"h{j}",
                params={},
            )
            for j in range(JUDGES)
        ]


def _store_day(database: Database, day: dt.date, judge_ids: list[int], n: int) -> None:
    with database.engine.begin() as conn:
        ids = repo.upsert_samples(conn, day=day, queries=_sample(day), top_k=TOP_K)
        sample_ids = list(ids.values())
        verdicts, ensemble = [], []
        for s, sid in enumerate(sample_ids):
            for p in range(1, TOP_K + 1):
                grades = [(s + p + j + n) % 4 for j in range(JUDGES)]
                for j, jid in enumerate(judge_ids):
                    verdicts.append(
                        repo.StoredVerdict(
                            sample_id=sid,
                            judge_id=jid,
                            result_id=f"r{s}-{p}",
                            position=p,
                            verdict=bench_verdict(f"llm{j}", f"{n}-{s}-{p}-{j}", grades[j]),
                        )
                    )
                ensemble.append(
                    (sid, f"r{s}-{p}", p, float(sorted(grades)[1]), 0.5, JUDGES, "median")
                )
        repo.write_verdicts(conn, verdicts=verdicts)
        repo.upsert_ensemble_grades(conn, rows=ensemble)
        conn.execute(
            text(
                "INSERT INTO daily_metrics (metric_date, metric, segment, judge, k, value, n) "
                "VALUES (:d, 'ndcg', 'all', 'ensemble', 10, :v, :n)"
            ),
            {"d": day, "v": 0.6 + 0.01 * (n % 7), "n": QUERIES},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=5, help="of the day's metrics")
    parser.add_argument(
        "--copy-runs", type=int, default=3, help="of the ingest: 3, one run is ~20 s"
    )
    parser.add_argument("--quick", action="store_true", help="200k rows, 60 days, 3 runs")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.days, args.runs, args.copy_runs = 200_000, 60, 3, 3
    with scratch_database() as db:
        judge_ids = _judges(db)
        # ingest: the rows point at one day's samples (the foreign keys hold)
        with db.engine.begin() as conn:
            ids = list(
                repo.upsert_samples(
                    conn, day=FIRST - dt.timedelta(days=1), queries=_sample(FIRST), top_k=TOP_K
                ).values()
            )
        batch = [
            repo.StoredVerdict(
                sample_id=ids[i // TOP_K % len(ids)],
                judge_id=judge_ids[0],
                result_id=f"x{i}",
                position=i % TOP_K + 1,
                verdict=bench_verdict("llm0", f"{i:064d}", i % 4),
            )
            for i in range(min(BATCH, args.rows))
        ]

        def ingest() -> None:
            with db.engine.begin() as conn:
                conn.execute(text("TRUNCATE verdicts"))
            done = 0
            while done < args.rows:
                rows = batch[: args.rows - done]
                # distinct result ids per batch, so no row is a conflict
                rows = [
                    repo.StoredVerdict(
                        r.sample_id, r.judge_id, f"{r.result_id}-{done}", r.position, r.verdict
                    )
                    for r in rows
                ]
                with db.engine.begin() as conn:
                    repo.write_verdicts(conn, verdicts=rows)
                done += len(rows)

        copy = timed(ingest, args.copy_runs)
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE verdicts"))
        for n in range(args.days):
            _store_day(db, FIRST + dt.timedelta(days=n), judge_ids, n)
        last = FIRST + dt.timedelta(days=args.days - 1)
        settings = Settings(
            judges=[llm_config(f"llm{j}", "http://127.0.0.1:9/v1") for j in range(JUDGES)],
            sampling=SamplingConfig(size=QUERIES, top_k=TOP_K),
        )
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM verdicts")).scalar_one()
        metrics = timed(lambda: compute_day_metrics(db, last, settings), args.runs)
    rate = args.rows / copy["median_s"]
    print(
        f"COPY ingest        {rate:>12,.0f} rows/s  ({args.rows:,} rows; min-max "
        f"{args.rows / copy['max_s']:,.0f}-{args.rows / copy['min_s']:,.0f})"
    )
    print(f"history            {stored:>12,} verdicts over {args.days} days")
    print(
        f"day metrics        {metrics['median_s']:>12.2f} s  (min {metrics['min_s']:.2f}, "
        f"max {metrics['max_s']:.2f})"
    )
    report(
        "storage",
        {
            "rows": args.rows,
            "runs": args.runs,
            "copy_runs": args.copy_runs,
            "copy_rows_per_s": round(rate),
            "copy_min_max_s": [round(copy["min_s"], 2), round(copy["max_s"], 2)],
            "days": args.days,
            "history_verdicts": stored,
            "day_metrics_s": round(metrics["median_s"], 3),
            "day_metrics_min_max_s": [round(metrics["min_s"], 3), round(metrics["max_s"], 3)],
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
    )


if __name__ == "__main__":
    main()
