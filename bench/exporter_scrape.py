"""Exporter scrape time over a year of history, through HTTP as Prometheus sees it.

Seeds 365 days x 10 segments x 5 judges of every exported daily metric (COPY through
``upsert_daily_metrics``) plus a year of daily runs, then times GET /metrics against
the running exporter. Goal: median under 100 ms.
Usage: ``python bench/exporter_scrape.py [--days 365] [--scrapes 30]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

import httpx
from prometheus_client import start_http_server
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report, scratch_database

from monitor.exporter import DAILY_METRICS, exporter_engine, make_registry
from monitor.store import repository as repo

SEGMENTS = ["all"] + [f"locale=l{i}" for i in range(9)]
JUDGES = ["ensemble", "j1", "j2", "j3", "j4"]


def _rows(rng: random.Random):  # type: ignore[no-untyped-def]
    for spec in DAILY_METRICS:
        ks = (3, 10) if spec.metric in ("ndcg", "precision") else (0,)
        for segment in SEGMENTS:
            for judge in JUDGES:
                for k in ks:
                    value = rng.random()
                    ci = (value - 0.05, value + 0.05) if spec.has_ci else (None, None)
                    yield (spec.metric, segment, judge, k, value, *ci, 100, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scrapes", type=int, default=30)
    args = parser.parse_args()
    rng = random.Random(0)
    latest = dt.date(2026, 1, 1)
    with scratch_database() as db:
        start = time.perf_counter()
        rows_total = 0
        with db.engine.begin() as conn:
            for back in range(args.days):
                day = latest - dt.timedelta(days=back)
                rows = list(_rows(rng))
                rows_total += len(rows)
                repo.upsert_daily_metrics(conn, day=day, rows=rows)
                run_id = repo.start_run(conn, flow="daily", run_date=day, config_hash="h")
                repo.finish_run(
                    conn,
                    run_id=run_id,
                    status="completed",
                    counts={"judged": 100, "cached": 50, "invalid": 1, "bad_rows": 0},
                    cost_usd=1.0,
                    duration_s=60.0,
                )
            conn.execute(text("ANALYZE"))
        seed_s = time.perf_counter() - start
        print(f"seeded {rows_total:,} daily_metrics rows in {seed_s:.1f} s")

        engine = exporter_engine(db.url)
        server, thread = start_http_server(0, addr="127.0.0.1", registry=make_registry(engine))
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        try:
            with httpx.Client(timeout=30) as client:
                body = client.get(url).text  # warm the connection pool
                series = sum(1 for line in body.splitlines() if not line.startswith("#"))
                seconds = []
                for _ in range(args.scrapes):
                    t0 = time.perf_counter()
                    response = client.get(url)
                    response.raise_for_status()
                    seconds.append(time.perf_counter() - t0)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            engine.dispose()
    seconds.sort()
    median_ms = statistics.median(seconds) * 1000
    p95_ms = seconds[max(0, round(0.95 * len(seconds)) - 1)] * 1000
    print(f"{series:,} series per scrape, {len(body):,} bytes")
    print(f"scrape over HTTP: median {median_ms:.1f} ms, p95 {p95_ms:.1f} ms (goal: median < 100)")
    report(
        "exporter_scrape",
        {
            "days": args.days,
            "segments": len(SEGMENTS),
            "judges": len(JUDGES),
            "rows": rows_total,
            "series": series,
            "scrapes": len(seconds),
            "median_ms": round(median_ms, 2),
            "p95_ms": round(p95_ms, 2),
            "seed_s": round(seed_s, 2),
        },
    )


if __name__ == "__main__":
    main()
