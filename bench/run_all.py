"""The benchmarks' latest figures against their goals, as one markdown table.

By default it only reads ``bench/results/*.jsonl`` (so ``make bench``, which runs every
script, does not run the benchmarks twice) and prints, for each bench, its latest
recorded figures with their goal, whether the goal is met, and the commit, day and
1-minute load average they were measured at. ``--run`` first runs the judging and
storage benchmarks in turn (``--quick`` passed to those that take it).

The table is followed, as every bench's output is, by one JSON line of the figures; it
is appended to ``bench/results/run_all.jsonl`` only when the figures differ from the
last line there, so printing the table again records nothing.

Usage: ``python bench/run_all.py [--run] [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, report

HERE = Path(__file__).resolve().parent
#: What ``--run`` runs: the judging and storage benches (the two on TREC DL19 need the
#: data and ~12 minutes: ``make bench-validation``).
RUN = (
    "store_ingest",
    "demo_source",
    "exporter_scrape",
    "judge_throughput",
    "daily_run",
    "cache_savings",
    "rate_limits",
    "storage",
    "peer_side_by_side",
)
QUICK = {"judge_throughput", "daily_run", "storage", "peer_side_by_side"}


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure of a bench's latest record and its goal."""

    bench: str
    figure: str
    what: str
    goal: str = "—"
    check: Callable[[Any], bool] | None = None
    #: How to read the figure from the record; by default ``record[figure]``.
    read: Callable[[dict[str, Any]], Any] | None = None

    def value(self, record: dict[str, Any]) -> Any:
        return self.read(record) if self.read else record.get(self.figure)


def _false_alarms(record: dict[str, Any]) -> Any:
    sizes = record.get("sizes") or []
    if not sizes:
        return None
    return sum(size.get("false_alarm_days", 0) for size in sizes)


def _clean_days(record: dict[str, Any]) -> int:
    return sum(size.get("evaluable_days", 0) for size in record.get("sizes") or [])


def _min_coverage(record: dict[str, Any]) -> Any:
    """The corrected CI's lowest coverage over n = 5, 10 and 20 labelled queries."""
    values = [record.get(f"n{n}_coverage") for n in (5, 10, 20)]
    return None if None in values else min(values)


ROWS: tuple[Row, ...] = (
    Row(
        "judge_throughput",
        "ratio_to_bound",
        "one LLM judge, 5,000 pairs, 64 in flight, 200 ms: pairs/s over 320",
        ">= 0.9",
        lambda v: v >= 0.9,
    ),
    Row("judge_throughput", "pairs_per_s", "pairs/s, storage included"),
    Row("judge_throughput", "client_cpu_ms_per_call", "client CPU per call, ms"),
    Row("judge_throughput", "peak_rss_mb", "peak RSS, MB", "< 500", lambda v: v < 500),
    Row(
        "daily_run",
        "ratio_to_bound",
        "2,000 queries x 10 x 3 judges = 60,000 calls: calls/s over 960",
        ">= 0.85",
        lambda v: v >= 0.85,
    ),
    Row(
        "daily_run",
        "overhead_outside_endpoint",
        "(wall - time waiting on the endpoint) / wall",
        "<= 0.10",
        lambda v: v <= 0.10,
    ),
    Row("daily_run", "overhead_vs_ideal", "(wall - ideal 62.5 s) / wall"),
    Row("daily_run", "wall_s", "wall seconds of the day"),
    Row(
        "daily_run",
        "peak_rss_mb",
        "peak RSS with the judge workers, MB",
        "< 1,024",
        lambda v: v < 1024,
    ),
    Row(
        "cache_savings",
        "day2_over_day1",
        "day-2 calls / day-1 calls when day 2 repeats 70%",
        "<= 0.31",
        lambda v: v <= 0.31,
    ),
    Row(
        "cache_savings",
        "all_identical",
        "repeated verdicts identical to day 1's",
        "true",
        lambda v: v is True,
    ),
    Row(
        "rate_limits",
        "lost",
        "verdicts lost against a 600 RPM endpoint",
        "0",
        lambda v: v == 0,
    ),
    Row("rate_limits", "share_429", "share of requests answered 429", "< 0.05", lambda v: v < 0.05),
    Row(
        "store_ingest",
        "copy_rows_per_s",
        "COPY ingest of 200k verdict rows, rows/s",
        ">= 50,000",
        lambda v: v >= 50_000,
    ),
    Row("store_ingest", "insert_rows_per_s", "the same row by row, rows/s"),
    Row("storage", "copy_rows_per_s", "COPY ingest of 1M verdict rows, rows/s"),
    Row("storage", "day_metrics_s", "a day's metrics with 365 days stored, s"),
    Row(
        "exporter_scrape",
        "median_ms",
        "scrape of 365 days x 10 segments x 5 judges, median ms",
        "< 100",
        lambda v: v < 100,
    ),
    Row("exporter_scrape", "p95_ms", "the same, p95 ms"),
    Row("demo_source", "median_searches_per_s", "demo searches generated per second"),
    Row(
        "peer_side_by_side",
        "ratio",
        "ours / DeepEval GEval pairs/s, same 5,000 pairs and endpoint",
        ">= 3",
        lambda v: v >= 3,
    ),
    Row(
        "local_judges",
        "semantic_fitted_cv_kappa",
        "semantic judge vs NIST on DL19, cross-validated quadratic kappa",
    ),
    Row(
        "local_judges",
        "semantic_fitted_ranker_tau",
        "semantic judge: Kendall tau of the six rankers' order vs humans'",
    ),
    Row(
        "local_judges",
        "lexical_fitted_ranker_tau",
        "lexical judge: the same (negative: it prefers bm25)",
    ),
    Row(
        "label_correction_simulated",
        "n10_width_saving",
        "simulated κ 0.6 judge, 10 of 100 queries labelled: CI width saved against humans-only",
        ">= 0.30",
        lambda v: v >= 0.30,
    ),
    Row(
        "label_correction_simulated",
        "min_coverage",
        "the same judge: corrected 95% CI coverage of the true nDCG@10, lowest over n = 5/10/20",
        ">= 0.93",
        lambda v: v >= 0.93,
        _min_coverage,
    ),
    Row(
        "label_correction_simulated",
        "judge_only_coverage",
        "the same judge: judge-only 95% CI coverage of the true nDCG@10",
    ),
    Row(
        "label_correction_semantic",
        "min_coverage",
        "semantic judge: corrected CI coverage, lowest over n = 5/10/20",
        ">= 0.93",
        lambda v: v >= 0.93,
        _min_coverage,
    ),
    Row(
        "label_correction_semantic",
        "goal_width_le_humans",
        "semantic judge: corrected CI never wider than humans-only",
        "true",
        lambda v: v is True,
    ),
    Row(
        "detection_power",
        "false_alarm_days",
        "clean days on which a watched alert fired, all sample sizes",
        "0",
        lambda v: v == 0,
        _false_alarms,
    ),
)


def latest(name: str) -> dict[str, Any] | None:
    """The last JSON line of ``bench/results/<name>.jsonl``, or None."""
    path = RESULTS / f"{name}.jsonl"
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _day(record: dict[str, Any]) -> str:
    at = record.get("at")
    if not at:
        return "—"
    try:
        return dt.datetime.fromisoformat(at).date().isoformat()
    except ValueError:
        return str(at)


def table() -> tuple[list[str], dict[str, Any]]:
    """The markdown table's lines and the figures it shows (``bench.figure`` -> value)."""
    lines = [
        "| bench | figure | what | latest | goal | met | commit | day | load |",
        "|---|---|---|---:|---|---|---|---|---:|",
    ]
    figures: dict[str, Any] = {}
    for row in ROWS:
        record = latest(row.bench)
        value = None if record is None else row.value(record)
        met = "—" if row.check is None or value is None else ("yes" if row.check(value) else "NO")
        shown = _shown(value)
        if row.read is _false_alarms and record is not None and value is not None:
            shown = f"{value} of {_clean_days(record)}"
        commit = "—" if record is None else str(record.get("commit") or "—")
        day = "—" if record is None else _day(record)
        load = "—" if record is None else _shown(record.get("load_avg_1m"))
        lines.append(
            f"| `{row.bench}` | `{row.figure}` | {row.what} | {shown} | {row.goal} | {met} "
            f"| {commit} | {day} | {load} |"
        )
        figures[f"{row.bench}.{row.figure}"] = value
    return lines, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run the benchmarks first")
    parser.add_argument("--quick", action="store_true", help="their --quick sizes")
    args = parser.parse_args()
    if args.run:
        for name in RUN:
            cmd = [sys.executable, str(HERE / f"{name}.py")]
            if args.quick and name in QUICK:
                cmd.append("--quick")
            print(f"== {' '.join(cmd[1:])}", flush=True)
            subprocess.run(cmd, check=True)
    lines, figures = table()
    print("\n".join(lines))
    print()
    previous = latest("run_all") or {}
    if all(previous.get(key) == value for key, value in figures.items()):
        print(json.dumps(previous, sort_keys=True))
    else:
        report("run_all", figures)


if __name__ == "__main__":
    main()
