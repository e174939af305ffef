"""The verdict cache across two days: day 2 repeats 70% of day 1's (query, result) pairs.

Day 1 judges N pairs (default 2,000) with one LLM judge through ``judge_with_cache``;
day 2 judges 70% of them again plus 30% new ones. Figures: calls the endpoint received
on day 2 as a share of day 1 (goal <= 0.31: only the new pairs are paid), and whether
every repeated pair's stored verdict (grade, reasoning, raw answer) is identical to day
1's. The count is exact, so one run; the fake endpoint runs in-process (20 ms latency)
because its request count is the figure.

Usage: ``python bench/cache_savings.py [--pairs 2000] [--repeat 0.7]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report, scratch_database
from judge_throughput import llm_config, make_items

from monitor.judges.llm import LLMJudge
from monitor.judging.ensemble import judge_with_cache
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.testing import FakeOpenAI
from monitor.types import JudgeItem, Verdict


async def _day(database: Database, url: str, items: list[JudgeItem]) -> list[Verdict]:
    judge = LLMJudge(llm_config("llm", url))
    try:
        verdicts, tallies = await judge_with_cache(database, [judge], items)
    finally:
        await judge.aclose()
    if tallies["llm"].errors:
        raise RuntimeError(tallies["llm"].errors[0])
    return [v for v in verdicts["llm"] if v is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2_000)
    parser.add_argument("--repeat", type=float, default=0.7)
    args = parser.parse_args()
    day1 = make_items(args.pairs, seed=21)
    kept = int(args.pairs * args.repeat)
    day2 = day1[:kept] + make_items(args.pairs - kept, seed=22)
    with FakeOpenAI(latency_s=0.02, record_bodies=False) as server, scratch_database() as db:
        first = asyncio.run(_day(db, server.base_url, day1))
        calls1 = server.received
        server.reset()
        second = asyncio.run(_day(db, server.base_url, day2))
        calls2 = server.received
        with db.engine.connect() as conn:
            stored = repo.lookup_cache(conn, keys=[v.cache_key for v in first[:kept]])
    same = sum(
        1
        for v1, v2 in zip(first[:kept], second[:kept], strict=True)
        if (stored.get(v1.cache_key) is not None)
        and (v1.grade, v1.reasoning, v1.raw) == (v2.grade, v2.reasoning, v2.raw)
        and (v1.grade, v1.reasoning) == (stored[v1.cache_key].grade, stored[v1.cache_key].reasoning)
    )
    hits = sum(v.cache_hit for v in second)
    share = calls2 / calls1
    print(f"day 1 calls        {calls1:>8,}  ({args.pairs:,} pairs)")
    print(f"day 2 calls        {calls2:>8,}  ({kept:,} repeated, {args.pairs - kept:,} new)")
    print(f"day 2 / day 1      {share:>8.3f}  goal <= 0.31")
    print(f"cache hits day 2   {hits:>8,}")
    print(f"identical repeats  {same:>8,} of {kept:,}")
    report(
        "cache_savings",
        {
            "pairs": args.pairs,
            "repeat_share": args.repeat,
            "day1_calls": calls1,
            "day2_calls": calls2,
            "day2_over_day1": round(share, 4),
            "day2_cache_hits": hits,
            "repeated_identical": same,
            "repeated": kept,
            "all_identical": same == kept,
            "goal_share": 0.31,
        },
    )


if __name__ == "__main__":
    main()
