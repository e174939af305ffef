"""Searches generated per second by the demo source for a day of 20,000 searches.

Prints the median of 5 runs (one day each, a fresh day every run so memoised results
help only as much as they would in a backfill) with min–max, and appends the figures as
one JSON line to ``bench/results/demo_source.jsonl``. Never passes or fails on time.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import statistics
import time
from pathlib import Path

from monitor.sources.demo import DemoSource

N = 20_000
RUNS = 5


def main() -> None:
    t0 = time.perf_counter()
    source = DemoSource()
    build_s = time.perf_counter() - t0
    rates = []
    for run in range(RUNS):
        day = dt.date(2024, 5, 1) + dt.timedelta(days=run)
        t = time.perf_counter()
        records = source.records_for_day(day, N)
        rates.append(len(records) / (time.perf_counter() - t))
        print(f"run {run + 1}: {rates[-1]:,.0f} searches/s")
    figures = {
        "bench": "demo_source",
        "searches_per_day": N,
        "runs": RUNS,
        "median_searches_per_s": round(statistics.median(rates), 1),
        "min_searches_per_s": round(min(rates), 1),
        "max_searches_per_s": round(max(rates), 1),
        "catalog_build_s": round(build_s, 3),
        "python": platform.python_version(),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = Path(__file__).parent / "results" / "demo_source.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(figures, sort_keys=True)
    with out.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
