"""Verdict ingest: COPY (what the pipeline uses) against row-by-row INSERT.

Goal (issue 2): at least 50,000 verdict rows/s with COPY on a 2-core machine.
Usage: ``python bench/store_ingest.py [--rows 200000] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_verdict, report, scratch_database, timed

from monitor.store import repository as repo
from monitor.types import Result, SampledQuery, SearchRecord


def _setup(conn, n_samples: int) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    judge = repo.ensure_judge(
        conn, name="bench", kind="llm", model="m", prompt_version="p", config_hash="h", params={}
    )
    stamp = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    queries = [
        SampledQuery(
            record=SearchRecord(
                query_id=str(i),
                query=f"query {i}",
                timestamp=stamp,
                results=(Result(id="r", position=1),),
            ),
            stratum="all",
            inclusion_probability=0.5,
        )
        for i in range(n_samples)
    ]
    ids = repo.upsert_samples(conn, day=stamp.date(), queries=queries, top_k=10)
    return judge, list(ids.values())


def _verdicts(judge: int, samples: list[int], rows: int) -> list[repo.StoredVerdict]:
    out = []
    for i in range(rows):
        sample = samples[i // 10 % len(samples)]
        out.append(
            repo.StoredVerdict(
                sample_id=sample,
                judge_id=judge,
                result_id=f"r{i}",
                position=i % 10 + 1,
                verdict=bench_verdict("bench", f"{i:064d}", i % 4),
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000, help="rows per COPY run")
    parser.add_argument("--row-by-row", type=int, default=5_000, help="rows per INSERT run")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with scratch_database() as db:
        with db.engine.begin() as conn:
            judge, samples = _setup(conn, max(1, args.rows // 10))
        copy_rows = _verdicts(judge, samples, args.rows)
        slow_rows = _verdicts(judge, samples, args.row_by_row)

        def clear() -> None:
            with db.engine.begin() as conn:
                conn.execute(text("TRUNCATE verdicts"))

        def copy_once() -> None:
            clear()
            with db.engine.begin() as conn:
                assert repo.write_verdicts(conn, verdicts=copy_rows) == len(copy_rows)

        def insert_once() -> None:
            clear()
            cols = ", ".join(repo.VERDICT_COLUMNS)
            marks = ", ".join(["%s"] * len(repo.VERDICT_COLUMNS))
            with db.engine.begin() as conn:
                raw = conn.connection.driver_connection
                assert raw is not None
                with raw.cursor() as cur:
                    for row in slow_rows:
                        cur.execute(
                            f"INSERT INTO verdicts ({cols}) VALUES ({marks}) "
                            "ON CONFLICT DO NOTHING",
                            repo._verdict_row(row),
                        )

        copy_t = timed(copy_once, args.runs)
        insert_t = timed(insert_once, args.runs)

    copy_rate = args.rows / copy_t["median_s"]
    insert_rate = args.row_by_row / insert_t["median_s"]
    print(f"COPY        {copy_rate:>12,.0f} rows/s  (median of {args.runs}, {args.rows:,} rows)")
    print(
        f"row-by-row  {insert_rate:>12,.0f} rows/s  "
        f"(median of {args.runs}, {args.row_by_row:,} rows)"
    )
    print(f"ratio       {copy_rate / insert_rate:>12.1f}x   goal: COPY >= 50,000 rows/s")
    report(
        "store_ingest",
        {
            "copy_rows_per_s": round(copy_rate),
            "copy_min_max_s": [copy_t["min_s"], copy_t["max_s"]],
            "insert_rows_per_s": round(insert_rate),
            "insert_min_max_s": [insert_t["min_s"], insert_t["max_s"]],
            "ratio": round(copy_rate / insert_rate, 1),
            "rows": args.rows,
            "runs": args.runs,
            "goal_copy_rows_per_s": 50_000,
        },
    )


if __name__ == "__main__":
    main()
