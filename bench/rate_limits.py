"""Meeting an endpoint's rate limit instead of hitting it.

The fake OpenAI endpoint answers 429 above 600 requests per minute; one LLM judge
configured with ``rpm=600`` (and concurrency 64) judges N pairs (default 400, about
40 s at 10 requests/s). Figures: verdicts stored vs pairs (none may be lost), the share
of requests answered 429 (goal < 5%: the client-side limiter, not the retries, keeps it
there), and the achieved rate. One run: the count is the figure. The endpoint runs
in-process because its status counts are the figure.

Usage: ``python bench/rate_limits.py [--pairs 400] [--rpm 600]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report, scratch_database
from judge_throughput import llm_config, make_items

from monitor.judges.llm import LLMJudge
from monitor.judging.cache import JudgeTally
from monitor.judging.ensemble import judge_with_cache
from monitor.store.db import Database
from monitor.testing import FakeOpenAI
from monitor.types import JudgeItem


async def _run(database: Database, url: str, items: list[JudgeItem], rpm: int) -> JudgeTally:
    judge = LLMJudge(llm_config("llm", url, rpm=rpm))
    try:
        _, tallies = await judge_with_cache(database, [judge], items)
    finally:
        await judge.aclose()
    return tallies["llm"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--rpm", type=int, default=600)
    args = parser.parse_args()
    items = make_items(args.pairs, seed=31)
    with FakeOpenAI(latency_s=0.2, rpm_limit=args.rpm, record_bodies=False) as server:
        with scratch_database() as db:
            start = time.perf_counter()
            tally = asyncio.run(_run(db, server.base_url, items, args.rpm))
            wall = time.perf_counter() - start
        counts = dict(server.status_counts)
    total = sum(counts.values())
    refused = counts.get(429, 0)
    share = refused / total if total else 0.0
    print(f"pairs              {args.pairs:>8,}")
    print(
        f"verdicts           {tally.paid:>8,}  "
        f"lost {args.pairs - tally.paid}, errors {len(tally.errors)}"
    )
    print(f"requests           {total:>8,}  (429: {refused})")
    print(f"429 share          {share:>8.2%}  goal < 5%")
    print(f"rate               {tally.paid / wall * 60:>8,.0f} /min  (limit {args.rpm})")
    report(
        "rate_limits",
        {
            "pairs": args.pairs,
            "rpm_limit": args.rpm,
            "verdicts": tally.paid,
            "lost": args.pairs - tally.paid,
            "errors": len(tally.errors),
            "requests": total,
            "answered_429": refused,
            "share_429": round(share, 4),
            "per_minute": round(tally.paid / wall * 60, 1),
            "wall_s": round(wall, 1),
            "goal_share_429": 0.05,
        },
    )


if __name__ == "__main__":
    main()
