"""This project's judge and DeepEval's GEval on the same pairs, the same endpoint, one run.

Both tools judge the same N (query, result) pairs (default 5,000) against the same fake
OpenAI endpoint (its own process, 200 ms per answer) with 64 calls in flight: ours is an
``LLMJudge`` with ``max_concurrency=64`` through ``judge_with_cache`` (storage included);
DeepEval's ``GEval`` (fixed evaluation steps, so one call per pair) on a ``LocalModel``
pointed at the endpoint, its ``a_measure`` driven by 64 concurrent tasks — DeepEval's own
``evaluate`` adds progress output and result tables, so this is its best case.

The endpoint answers with one JSON object both tools accept (``reasoning``/``grade`` for
ours, ``reason``/``score`` for GEval). DeepEval is not a project dependency (it pins
click < 8.4 and brings pytest plugins): ``make bench`` builds ``.venv-peer`` with the
project and DeepEval and runs this script from there. Without it the script says so and
prints our figure alone.

Usage: ``python bench/peer_side_by_side.py [--pairs 5000] [--quick]``; the goal is >= 3x.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report, scratch_database
from judge_throughput import CONCURRENCY, LATENCY_S, llm_config, make_items

from monitor.judges.llm import LLMJudge
from monitor.judging.ensemble import judge_with_cache
from monitor.testing.fake_openai import FakeOpenAI, Reply, default_policy
from monitor.types import JudgeItem

INSTALL = "make .venv-peer/.installed && .venv-peer/bin/python bench/peer_side_by_side.py"


def both_shapes(body: dict[str, Any]) -> Reply:
    """Our grade, also spelled the way GEval reads a score (0-10 with a reason)."""
    ours = json.loads(default_policy(body).content or "{}")
    grade = int(ours.get("grade", 0))
    ours.update(score=round(grade * 10 / 3), reason=ours.get("reasoning", ""))
    return Reply(content=json.dumps(ours), grade=grade)


def _serve(latency: float) -> None:
    """Run the endpoint in this (child) process until killed."""
    import threading

    with FakeOpenAI(latency_s=latency, policy=both_shapes, record_bodies=False) as server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


@contextlib.contextmanager
def endpoint(latency: float) -> Iterator[str]:
    cmd = [sys.executable, __file__, "--serve", str(latency)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _ours(url: str, items: list[JudgeItem], concurrency: int) -> tuple[float, int]:
    judge = LLMJudge(llm_config("ours", url, concurrency))
    with scratch_database() as db:
        start = time.perf_counter()
        _, tallies = await judge_with_cache(db, [judge], items)
        wall = time.perf_counter() - start
    await judge.aclose()
    return wall, tallies["ours"].paid


async def _deepeval(url: str, items: list[JudgeItem], concurrency: int) -> tuple[float, int]:
    os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")
    from deepeval.metrics import GEval
    from deepeval.models import LocalModel
    from deepeval.test_case import LLMTestCase

    try:  # renamed in DeepEval 4
        from deepeval.test_case import SingleTurnParams as LLMTestCaseParams
    except ImportError:
        from deepeval.test_case import LLMTestCaseParams  # type: ignore[no-redef,unused-ignore]

    model = LocalModel(model="fake-judge", base_url=url, api_key="no-key-needed")
    params = [LLMTestCaseParams.INPUT, LLMTestCaseParams.ACTUAL_OUTPUT]
    steps = [
        "Read the search query (input) and the search result (actual output).",
        "Grade how relevant the result is to the query: 0 irrelevant ... 3 perfectly relevant.",
    ]
    gate = asyncio.Semaphore(concurrency)
    scored = 0

    async def one(item: JudgeItem) -> None:
        nonlocal scored
        metric = GEval(
            name="relevance",
            evaluation_steps=steps,
            evaluation_params=params,
            model=model,
            async_mode=True,
            verbose_mode=False,
        )
        case = LLMTestCase(input=item.query, actual_output=item.result.content)
        async with gate:
            await metric.a_measure(case, _show_indicator=False)
        scored += metric.score is not None

    start = time.perf_counter()
    await asyncio.gather(*(one(item) for item in items))
    return time.perf_counter() - start, scored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--latency", type=float, default=LATENCY_S)
    parser.add_argument("--quick", action="store_true", help="1,000 pairs")
    parser.add_argument("--serve", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return
    if args.quick:
        args.pairs = 1_000
    items = make_items(args.pairs, seed=7)
    have_peer = importlib.util.find_spec("deepeval") is not None
    figures: dict[str, Any] = {
        "pairs": args.pairs,
        "concurrency": args.concurrency,
        "latency_s": args.latency,
        "bound_pairs_per_s": args.concurrency / args.latency,
        "goal_ratio": 3.0,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    with endpoint(args.latency) as url:
        wall, paid = asyncio.run(_ours(url, items, args.concurrency))
        figures["ours_pairs_per_s"] = round(paid / wall, 1)
        print(f"judge-monitor   {paid / wall:>10,.1f} pairs/s  ({paid:,} pairs, storage included)")
        if have_peer:
            peer_wall, scored = asyncio.run(_deepeval(url, items, args.concurrency))
            figures["peer"] = f"deepeval {version('deepeval')} GEval"
            figures["peer_pairs_per_s"] = round(scored / peer_wall, 1)
            figures["peer_scored"] = scored
            figures["ratio"] = round((paid / wall) / (scored / peer_wall), 2)
            print(f"deepeval GEval  {scored / peer_wall:>10,.1f} pairs/s  ({scored:,} scored)")
            print(f"ratio           {figures['ratio']:>10.2f}x        goal >= 3x")
        else:
            figures["peer"] = None
            print(f"deepeval is not installed: `{INSTALL}` to compare; our figure only")
    report("peer_side_by_side", figures)


if __name__ == "__main__":
    main()
