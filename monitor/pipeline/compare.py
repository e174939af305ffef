"""Compare two rankers on the same sampled queries: pairwise and pointwise.

Ranker A's traffic of the day is sampled as production's would be; ranker B's list for
each sampled query is looked up by normalized query text. Both lists are graded
pointwise by the ensemble (through the verdict cache) for an nDCG@10 difference with a
CI, and the two rankings are shown to each LLM judge side by side in both orders
(position bias cancelled; an order-dependent answer counts as a tie) for a win rate with
a CI. With no LLM judge in the ensemble, the preference comes from the pointwise grades.
Stored pairwise judgments are reused on a rerun, never paid for twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from monitor.config import Settings, SourceConfig
from monitor.errors import ConfigError, InputError
from monitor.judges.base import Judge, PairwiseJudge
from monitor.judges.factory import build_ensemble, close_judges
from monitor.judging.cache import Progress
from monitor.metrics.estimate import Estimate, weighted_mean
from monitor.metrics.quality import query_figures
from monitor.pipeline.day import first_line
from monitor.pipeline.steps import (
    JudgeOutcome,
    day_window,
    judge_as_configured,
    judge_ids_for,
    load_samples,
    raise_for_judging,
)
from monitor.progress import judge_progress
from monitor.sampling import sample_day
from monitor.sources.base import Source
from monitor.sources.factory import build_source
from monitor.store import repository as repo
from monitor.store.calibrations import calibrated_settings
from monitor.store.db import Database
from monitor.store.models import COMPARE_PREFIX
from monitor.store.run_lease import DayLease, abandon_running
from monitor.store.sample_reads import ensemble_grades_of, pairwise_judgments_of
from monitor.types import PairwiseVerdict, Result, SampledQuery

__all__ = [
    "PRODUCTION",
    "CompareResult",
    "compare_rankers",
    "ranker_source",
    "ranking_as_result",
    "run_compare",
]

TOP_SHOWN = 5
PRODUCTION = "production"
COMPARE_FLOW = "compare"  # the runs row's flow, and the lease's


def ranker_source(settings: Settings, name: str) -> SourceConfig:
    """``production`` is the configured source; other names come from ``[rankers.NAME]``."""
    if name == PRODUCTION:
        return settings.source
    if name not in settings.rankers:
        known = ", ".join([PRODUCTION, *sorted(settings.rankers)])
        raise ConfigError(f"unknown ranker {name!r}; configured rankers: {known}")
    return settings.rankers[name]


@dataclass(frozen=True)
class CompareResult:
    name_a: str
    name_b: str
    day: dt.date
    queries: int
    missing_in_b: int
    wins: int
    ties: int
    losses: int
    win_rate: Estimate
    ndcg_a: Estimate
    ndcg_b: Estimate
    ndcg_diff: Estimate
    pairwise_source: str  # "llm" or "pointwise"
    inconsistent: int
    judged: JudgeOutcome
    pairwise_cost_usd: float = 0.0

    @property
    def cost_usd(self) -> float:
        """Pointwise verdicts plus the pairwise questions (both orders)."""
        return self.judged.cost_usd + self.pairwise_cost_usd


def ranking_as_result(name: str, results: tuple[Result, ...]) -> Result:
    """A ranking rendered as one judgeable text: its top results, in order."""
    lines = [
        f"{r.position}. {r.title}" + (f" — {r.text[:300]}" if r.text else "")
        for r in results[:TOP_SHOWN]
    ]
    return Result(id=name, position=1, title=f"ranked list {name}", text="\n".join(lines))


def _pairwise_done(
    database: Database, day: dt.date, a: str, b: str
) -> dict[tuple[str, int], tuple[str, bool]]:
    """Stored judgments by (query, judge id): the same judge configuration only."""
    with database.engine.connect() as conn:
        return pairwise_judgments_of(conn, day=day, a=a, b=b)


def _store_pairwise(
    database: Database,
    day: dt.date,
    judge_ids: dict[str, int],
    verdicts: list[tuple[str, PairwiseVerdict]],
) -> None:
    if not verdicts:
        return
    with database.engine.begin() as conn:
        repo.copy_rows(
            conn,
            table="pairwise_judgments",
            columns=(
                "judgment_date",
                "query_norm",
                "judge_id",
                "a_id",
                "b_id",
                "first",
                "second",
                "winner",
                "consistent",
                "reasoning",
                "input_tokens",
                "output_tokens",
                "cost_usd",
            ),
            rows=[
                (
                    day,
                    norm,
                    judge_ids[v.judge],
                    v.a_id,
                    v.b_id,
                    v.first,
                    v.second,
                    v.winner,
                    v.consistent,
                    v.reasoning,
                    v.input_tokens,
                    v.output_tokens,
                    v.cost_usd,
                )
                for norm, v in verdicts
            ],
        )


async def _pairwise(
    database: Database,
    day: dt.date,
    judges: list[PairwiseJudge],
    pairs: list[tuple[str, str, Result, Result]],
    name_a: str,
    name_b: str,
) -> tuple[dict[str, list[str]], int, float]:
    """Winners per query from every pairwise-capable judge; reuses stored judgments."""
    done = _pairwise_done(database, day, name_a, name_b)
    judge_ids = judge_ids_for(database, judges)
    winners: dict[str, list[str]] = {norm: [] for norm, *_ in pairs}
    fresh: list[tuple[str, PairwiseVerdict]] = []
    inconsistent = 0

    async def ask(judge: PairwiseJudge, norm: str, query: str, a: Result, b: Result) -> None:
        nonlocal inconsistent
        verdict: PairwiseVerdict = await judge.judge_pairwise(query, a, b)
        fresh.append((norm, verdict))
        winners[norm].append(verdict.winner)
        inconsistent += not verdict.consistent

    calls = []
    for judge in judges:
        for norm, query, a, b in pairs:
            stored = done.get((norm, judge_ids[judge.name]))
            if stored is not None:
                winners[norm].append(stored[0])
                inconsistent += not stored[1]
            else:
                calls.append(ask(judge, norm, query, a, b))
    # every call finishes (or fails) before anything is stored: nothing paid is lost
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    _store_pairwise(database, day, judge_ids, fresh)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return winners, inconsistent, sum(v.cost_usd for _, v in fresh)


def _score(winners: list[str]) -> float:
    """1 when A is preferred, 0 when B is, 0.5 for a tie; averaged over judges."""
    points = {"a": 1.0, "b": 0.0}
    return float(np.mean([points.get(w, 0.5) for w in winners]))


async def compare_rankers(
    database: Database,
    settings: Settings,
    day: dt.date,
    *,
    name_a: str,
    source_a: Source,
    name_b: str,
    source_b: Source,
    judges: list[Judge],
    progress: Progress | None = None,
) -> CompareResult:
    """Judge rankers A and B on the same sampled queries of ``day``."""
    if name_a == name_b:
        raise InputError(f"compare needs two different rankers, got {name_a!r} twice")
    start, end = day_window(day)
    sample = sample_day(source_a.fetch(start, end), day=day, config=settings.sampling)
    b_lists: dict[str, tuple[Result, ...]] = {}
    for record in source_b.fetch(start, end):
        b_lists.setdefault(record.normalized_query, record.results)
    kept: list[SampledQuery] = []
    kept_b: list[SampledQuery] = []
    for q in sample.queries:
        results_b = b_lists.get(q.record.normalized_query)
        if results_b is None:
            continue
        kept.append(replace(q, record=replace(q.record, ranker=COMPARE_PREFIX + name_a)))
        kept_b.append(
            replace(q, record=replace(q.record, ranker=COMPARE_PREFIX + name_b, results=results_b))
        )
    if not kept:
        raise InputError(
            f"no query sampled from {name_a!r} on {day} was found in {name_b!r}'s results"
        )
    top_k = settings.sampling.top_k
    with database.engine.begin() as conn:
        repo.upsert_samples(conn, day=day, queries=kept + kept_b, top_k=top_k, replace_stale=True)
    stored_a = load_samples(database, day, ranker=COMPARE_PREFIX + name_a)
    stored_b = load_samples(database, day, ranker=COMPARE_PREFIX + name_b)
    judged = await judge_as_configured(database, settings, judges, stored_a + stored_b, progress)
    raise_for_judging(judged)  # no comparison from what a failing judge left out
    with database.engine.connect() as conn:
        grades = ensemble_grades_of(conn, sample_ids=[s.id for s in stored_a + stored_b])

    def ndcg(sample_id: int, results: tuple[Result, ...]) -> float:
        listed = tuple(grades.get((sample_id, r.position)) for r in results)
        return query_figures(listed, ks=(10,), relevant=settings.relevant_grade)["ndcg@10"]

    by_norm_b = {s.query_norm: s for s in stored_b}
    rows = [(a, by_norm_b[a.query_norm]) for a in stored_a if a.query_norm in by_norm_b]
    weights = np.array([a.weight for a, _ in rows])
    nd_a = np.array([ndcg(a.id, a.results) for a, _ in rows])
    nd_b = np.array([ndcg(b.id, b.results) for _, b in rows])
    pairwise_judges = [j for j in judges if isinstance(j, PairwiseJudge)]
    if pairwise_judges:
        pairs = [
            (
                a.query_norm,
                a.query,
                ranking_as_result(name_a, a.results),
                ranking_as_result(name_b, b.results),
            )
            for a, b in rows
        ]
        winners, inconsistent, pairwise_cost = await _pairwise(
            database, day, pairwise_judges, pairs, name_a, name_b
        )
        scores = np.array([_score(winners[a.query_norm]) for a, _ in rows])
        source = "llm"
    else:
        diff = np.nan_to_num(nd_a) - np.nan_to_num(nd_b)
        scores = np.where(diff > 1e-9, 1.0, np.where(diff < -1e-9, 0.0, 0.5))
        inconsistent, source, pairwise_cost = 0, "pointwise", 0.0
    return CompareResult(
        name_a=name_a,
        name_b=name_b,
        day=day,
        queries=len(rows),
        missing_in_b=sample.sampled - len(kept),
        wins=int(np.sum(scores > 0.5)),
        ties=int(np.sum(scores == 0.5)),
        losses=int(np.sum(scores < 0.5)),
        win_rate=weighted_mean(scores, weights),
        ndcg_a=weighted_mean(nd_a, weights),
        ndcg_b=weighted_mean(nd_b, weights),
        ndcg_diff=weighted_mean(nd_a - nd_b, weights),
        pairwise_source=source,
        inconsistent=inconsistent,
        judged=judged,
        pairwise_cost_usd=pairwise_cost,
    )


def run_compare(
    database: Database, settings: Settings, day: dt.date, a: str, b: str
) -> CompareResult:
    """Compare rankers ``a`` and ``b`` on ``day``, with the run recorded in ``runs``.

    The same calibrated judges as the daily run; a failure is recorded (status
    ``failed``, the error's first line, as ``run_day`` records it) and raised. A day's
    comparisons run one at a time (``DayLease`` on ("compare", day)): another one of the
    day is refused with ``DayBusyError`` naming the pair it is comparing.
    """
    source_a, source_b = ranker_source(settings, a), ranker_source(settings, b)
    with DayLease(database, flow=COMPARE_FLOW, day=day, lease_s=settings.run_lease_s) as lease:
        return _compare_held(database, settings, day, (a, source_a), (b, source_b), lease)


def _compare_held(
    database: Database,
    settings: Settings,
    day: dt.date,
    ranker_a: tuple[str, SourceConfig],
    ranker_b: tuple[str, SourceConfig],
    lease: DayLease,
) -> CompareResult:
    """``run_compare`` with the day's compare lease held."""
    (a, source_a), (b, source_b) = ranker_a, ranker_b
    started = time.monotonic()
    with database.engine.begin() as conn:
        abandon_running(conn, flow=COMPARE_FLOW, run_date=day, run_key=f"{a}~{b}")
        run_id = repo.start_run(
            conn,
            flow=COMPARE_FLOW,
            run_date=day,
            config_hash=settings.config_hash(),
            run_key=f"{a}~{b}",
        )
    lease.claim(run_id)

    def finish(status: str, counts: dict[str, Any], cost: float, error: str | None) -> None:
        lease.stop_beating()
        lease.check()  # a compare that lost its day leaves the row to the run that has it
        with database.engine.begin() as conn:
            repo.finish_run(
                conn,
                run_id=run_id,
                status=status,
                counts=counts,
                cost_usd=cost,
                duration_s=time.monotonic() - started,
                error=error,
            )

    async def judged() -> CompareResult:
        with database.engine.connect() as conn:
            calibrated = calibrated_settings(conn, settings)
        judges = build_ensemble(calibrated.judges)
        try:
            return await compare_rankers(
                database,
                calibrated,
                day,
                name_a=a,
                source_a=build_source(source_a),
                name_b=b,
                source_b=build_source(source_b),
                judges=judges,
                progress=judge_progress,
            )
        finally:
            await close_judges(judges)

    try:
        result = asyncio.run(judged())
    except KeyboardInterrupt:
        finish("aborted", {}, 0.0, "interrupted (Ctrl-C)")
        raise
    except Exception as exc:
        finish("failed", {}, 0.0, first_line(exc))
        raise
    counts = {
        "queries": result.queries,
        "judged": result.judged.paid,
        "cached": result.judged.cached,
        "invalid": result.judged.invalid,
    }
    finish("completed", counts, result.cost_usd, None)
    return result
