"""One LLM judge's throughput against the latency/concurrency bound, storage included.

N (query, result) pairs (default 5,000) are judged by one LLM judge with
``max_concurrency=64`` through ``judge_with_cache`` on a scratch database whose cache is
emptied before each run, against the fake OpenAI endpoint answering after 200 ms. The
fake runs in its own process (``python -m monitor.testing``), as a real endpoint is
another machine: it does not share this process's GIL.

Figures: pairs/s (median, min-max of 5 runs), the ratio to the bound
concurrency / latency = 320 pairs/s (goal >= 0.9), client CPU ms per call (the figure
that limits the ratio on a busy 2-core machine), peak RSS (goal < 500 MB).

Usage: ``python bench/judge_throughput.py [--pairs 5000] [--runs 5] [--quick]``.

The helpers here (``fake_endpoint``, ``make_items``, ``llm_config``, ``peak_rss_mb``) are
shared by the other LLM benches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report, scratch_database

from monitor.config import JudgeConfig
from monitor.judges.llm import LLMJudge
from monitor.judging.ensemble import judge_with_cache
from monitor.store.db import Database
from monitor.types import JudgeItem, Result

__all__ = ["fake_endpoint", "llm_config", "make_items", "peak_rss_mb"]

LATENCY_S = 0.2
CONCURRENCY = 64
_VOCAB = [f"{a}{b}" for a in ("lo", "ra", "mi", "ko", "su", "te", "va", "ne") for b in range(250)]


@contextlib.contextmanager
def fake_endpoint(latency_s: float, rpm: float | None = None) -> Iterator[str]:
    """The fake OpenAI server in a separate process; yields its base URL."""
    cmd = [sys.executable, "-m", "monitor.testing", "--latency", str(latency_s)]
    if rpm is not None:
        cmd += ["--rpm", str(rpm)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"fake OpenAI server did not start (printed {url!r})")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_items(n: int, seed: int = 0, *, query_words: int = 5) -> list[JudgeItem]:
    """``n`` distinct (query, result) pairs of realistic length (a 60-word passage)."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        query = " ".join(rng.choices(_VOCAB, k=query_words))
        passage = " ".join(rng.choices(_VOCAB, k=60))
        # half the passages share words with the query, so grades spread over 0-3
        if i % 2:
            passage = f"{query.split()[0]} {passage}"
        items.append(
            JudgeItem(query=query, result=Result(id=f"doc{seed}-{i}", position=1, text=passage))
        )
    return items


def llm_config(
    name: str, base_url: str, concurrency: int = CONCURRENCY, **extra: Any
) -> JudgeConfig:
    """An LLM judge on the fake endpoint (no API key needed)."""
    return JudgeConfig(
        **{
            "name": name,
            "base_url": base_url,
            "api_key_env": None,
            "model": "fake-judge",
            "max_concurrency": concurrency,
            **extra,
        }
    )


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _clear(database: Database) -> None:
    with database.engine.begin() as conn:
        conn.execute(text("TRUNCATE verdict_cache"))


async def _judge_once(database: Database, config: JudgeConfig, items: list[JudgeItem]) -> float:
    judge = LLMJudge(config)
    try:
        _, tallies = await judge_with_cache(database, [judge], items)
    finally:
        await judge.aclose()
    tally = tallies[config.name]
    if tally.errors or tally.paid != len(items):
        raise RuntimeError(f"run incomplete: paid {tally.paid}, errors {tally.errors}")
    return float(tally.paid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--latency", type=float, default=LATENCY_S)
    parser.add_argument("--quick", action="store_true", help="1,000 pairs, 3 runs")
    args = parser.parse_args()
    if args.quick:
        args.pairs, args.runs = 1_000, 3
    items = make_items(args.pairs)
    bound = args.concurrency / args.latency
    rates, cpu_ms = [], []
    with fake_endpoint(args.latency) as url, scratch_database() as db:
        config = llm_config("llm", url, args.concurrency)
        for _ in range(args.runs):
            _clear(db)
            cpu0, start = time.process_time(), time.perf_counter()
            paid = asyncio.run(_judge_once(db, config, items))
            wall = time.perf_counter() - start
            rates.append(paid / wall)
            cpu_ms.append((time.process_time() - cpu0) * 1000 / paid)
    rate = statistics.median(rates)
    rss = peak_rss_mb()
    print(f"pairs judged       {args.pairs:>10,} x {args.runs} runs (1 judge, cache empty)")
    print(f"bound              {bound:>10,.0f} pairs/s  ({args.concurrency} / {args.latency} s)")
    print(
        f"throughput         {rate:>10,.1f} pairs/s  (min {min(rates):,.1f}, max {max(rates):,.1f})"
    )
    print(f"ratio to bound     {rate / bound:>10.3f}        goal >= 0.9")
    print(f"client CPU / call  {statistics.median(cpu_ms):>10.2f} ms")
    print(f"peak RSS           {rss:>10,.0f} MB      goal < 500 MB")
    report(
        "judge_throughput",
        {
            "pairs": args.pairs,
            "runs": args.runs,
            "concurrency": args.concurrency,
            "latency_s": args.latency,
            "bound_pairs_per_s": bound,
            "pairs_per_s": round(rate, 1),
            "pairs_per_s_min_max": [round(min(rates), 1), round(max(rates), 1)],
            "ratio_to_bound": round(rate / bound, 3),
            "client_cpu_ms_per_call": round(statistics.median(cpu_ms), 3),
            "peak_rss_mb": round(rss),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "goal_ratio": 0.9,
            "goal_peak_rss_mb": 500,
        },
    )


if __name__ == "__main__":
    main()
