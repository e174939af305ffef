"""The benchmarks' latest figures against their goals, as one table.

By default it only reads ``bench/results/*.jsonl`` (so ``make bench``, which runs every
script, does not run the benchmarks twice); ``--run`` first runs the judging and storage
benchmarks in turn (``--quick`` passed to those that take it).

Usage: ``python bench/run_all.py [--run] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, report

HERE = Path(__file__).resolve().parent
#: (bench, figure, goal text, goal check) for the table.
ROWS: list[tuple[str, str, str, Any]] = [
    ("judge_throughput", "ratio_to_bound", ">= 0.9", lambda v: v >= 0.9),
    ("judge_throughput", "pairs_per_s", "", None),
    ("judge_throughput", "peak_rss_mb", "< 500", lambda v: v < 500),
    ("daily_run", "ratio_to_bound", ">= 0.85", lambda v: v >= 0.85),
    ("daily_run", "overhead_outside_endpoint", "<= 0.10", lambda v: v <= 0.10),
    ("daily_run", "overhead_vs_ideal", "", None),
    ("daily_run", "peak_rss_mb", "< 1024", lambda v: v < 1024),
    ("cache_savings", "day2_over_day1", "<= 0.31", lambda v: v <= 0.31),
    ("cache_savings", "all_identical", "true", lambda v: v is True),
    ("rate_limits", "lost", "0", lambda v: v == 0),
    ("rate_limits", "share_429", "< 0.05", lambda v: v < 0.05),
    ("store_ingest", "copy_rows_per_s", ">= 50000", lambda v: v >= 50_000),
    ("storage", "copy_rows_per_s", "", None),
    ("storage", "day_metrics_s", "", None),
    ("peer_side_by_side", "ratio", ">= 3", lambda v: v >= 3),
]
QUICK = {"judge_throughput", "daily_run", "storage", "peer_side_by_side"}


def latest(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.jsonl"
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="store_true", help="run the benchmarks first")
    parser.add_argument("--quick", action="store_true", help="their --quick sizes")
    args = parser.parse_args()
    names = list(dict.fromkeys(name for name, *_ in ROWS))
    if args.run:
        for name in names:
            cmd = [sys.executable, str(HERE / f"{name}.py")]
            if args.quick and name in QUICK:
                cmd.append("--quick")
            print(f"== {' '.join(cmd[1:])}", flush=True)
            subprocess.run(cmd, check=True)
    summary: dict[str, Any] = {}
    print(f"{'bench':<20}{'figure':<26}{'value':>14}  {'goal':<10}{'met':<5}{'commit'}")
    for name, figure, goal, check in ROWS:
        record = latest(name)
        value = None if record is None else record.get(figure)
        met = "" if check is None or value is None else ("yes" if check(value) else "NO")
        shown = "-" if value is None else str(value)
        commit = "" if record is None else record.get("commit", "")
        print(f"{name:<20}{figure:<26}{shown:>14}  {goal:<10}{met:<5}{commit}")
        summary[f"{name}.{figure}"] = value
    report("run_all", summary)


if __name__ == "__main__":
    main()
