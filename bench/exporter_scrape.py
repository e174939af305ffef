"""Exporter scrape time over a year of history, through HTTP as Prometheus sees it.

Seeds 365 days x 10 segments x 5 judges of history (COPY through
``upsert_daily_metrics``) plus a year of daily runs, then times GET /metrics against
the running exporter. Goal: median under 100 ms.

``--layout daily`` (default) seeds what the daily flow writes: quality figures per
segment for the ensemble, judge health, human agreement and drift per judge (and per
judge pair for kappa) on segment "all". ``--layout full`` seeds every metric for every
segment x judge combination, a worst case no flow produces.
Usage: ``python bench/exporter_scrape.py [--days 365] [--scrapes 30] [--layout daily|full]``.
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

from monitor.export.exporter import exporter_engine, make_registry
from monitor.metrics.catalog import METRICS
from monitor.store import repository as repo

SEGMENTS = ["all"] + [f"locale=l{i}" for i in range(9)]
JUDGES = ["j1", "j2", "j3", "j4", "j5"]
QUALITY = {"ndcg", "precision", "mean_grade", "bad_top1_rate", "no_relevant_rate", "unjudged_share"}
ENSEMBLE_ONLY = {
    "krippendorff_alpha",
    "query_mix_psi",
    "query_length_ks",
    "query_length_ks_pvalue",
    "new_query_share",
    "changepoint_cusum",
    "changepoint_start_days_ago",
}


def _ks(metric: str) -> tuple[int, ...]:
    if metric in ("ndcg", "precision"):
        return (3, 10)
    if metric in ("human_precision", "human_recall", "human_f1"):
        return (2,)
    if metric.startswith("changepoint"):
        return (10,)
    return (0,)


def _places(metric: str, layout: str) -> list[tuple[str, str]]:
    """(segment, judge) pairs a metric is stored for."""
    if layout == "full":
        return [(s, j) for s in SEGMENTS for j in ["ensemble", *JUDGES]]
    if metric in QUALITY:
        return [(s, "ensemble") for s in SEGMENTS]
    if metric in ENSEMBLE_ONLY:
        return [("all", "ensemble")]
    if metric == "cohen_kappa":
        return [("all", f"{a}~{b}") for i, a in enumerate(JUDGES) for b in JUDGES[i + 1 :]]
    with_ensemble = metric.startswith(("human_", "grade_"))
    return [("all", j) for j in (["ensemble", *JUDGES] if with_ensemble else JUDGES)]


def _rows(rng: random.Random, layout: str):  # type: ignore[no-untyped-def]
    for spec in METRICS:
        for segment, judge in _places(spec.metric, layout):
            for k in _ks(spec.metric):
                value = rng.random()
                ci = (value - 0.05, value + 0.05) if spec.has_ci else (None, None)
                yield (spec.metric, segment, judge, k, value, *ci, 100, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--layout", choices=("daily", "full"), default="daily")
    args = parser.parse_args()
    rng = random.Random(0)
    latest = dt.date(2026, 1, 1)
    with scratch_database() as db:
        start = time.perf_counter()
        rows_total = 0
        with db.engine.begin() as conn:
            for back in range(args.days):
                day = latest - dt.timedelta(days=back)
                rows = list(_rows(rng, args.layout))
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
            "layout": args.layout,
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
