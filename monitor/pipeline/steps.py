"""The daily pipeline's steps: source → sample → judge → store → metrics.

Each step is a plain function over a ``Database`` so it can be tested, and resumed,
without Prefect; ``flows/`` only sequences them. Every step is idempotent for a day:
the sample is deterministic (day + seed) and upserted, verdicts come from the cache
when already paid for, ensemble grades and metrics are recomputed and replaced.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from monitor.config import Settings
from monitor.errors import InputError, JudgeError
from monitor.judge_workers import warm_workers
from monitor.judges.base import Judge
from monitor.judges.ensemble import aggregate
from monitor.judging import JudgeTally, Progress, judge_with_cache
from monitor.sampling import DailySample, sample_day
from monitor.sources.base import BadRows, Source
from monitor.sources.factory import build_source
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import JudgeItem, Result

__all__ = [
    "DayOutcome",
    "JudgeOutcome",
    "StoredSample",
    "check_day",
    "day_window",
    "fetch_sample",
    "finish_day",
    "judge_as_configured",
    "judge_ids_for",
    "judge_samples",
    "load_samples",
    "raise_for_judging",
    "start_day",
    "store_sample",
    "warm_day_workers",
]

DAILY_FLOW = "daily"


def check_day(day: dt.date, *, today: dt.date | None = None) -> dt.date:
    """Refuse days that have not ended yet: their traffic is not all there."""
    today = today or dt.datetime.now(dt.UTC).date()
    if day >= today:
        raise InputError(
            f"date {day.isoformat()} has not ended yet (today is {today.isoformat()} UTC); "
            "judge-monitor judges complete days, the default is yesterday"
        )
    return day


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants a day's traffic lies between."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def fetch_sample(
    settings: Settings, day: dt.date, *, source: Source | None = None
) -> tuple[DailySample, BadRows]:
    """Read the day's searches from the source and draw the day's sample."""
    source = source or build_source(settings.source)
    start, end = day_window(day)
    sample = sample_day(source.fetch(start, end), day=day, config=settings.sampling)
    source.report.check(settings.source.max_bad_row_share)
    return sample, source.report


@dataclass(frozen=True)
class StoredSample:
    """A sampled query as stored: what the judges and the metrics read back."""

    id: int
    query: str
    query_norm: str
    segment: dict[str, str]
    weight: float
    results: tuple[Result, ...]


def store_sample(database: Database, day: dt.date, sample: DailySample, top_k: int) -> int:
    """Upsert the day's sample; return how many rows the day holds."""
    with database.engine.begin() as conn:
        ids = repo.upsert_samples(conn, day=day, queries=sample.queries, top_k=top_k)
    return len(ids)


def load_samples(
    database: Database, day: dt.date, *, ranker: str | None = None
) -> list[StoredSample]:
    """The day's stored sample in a stable order: production's, or one ranker's."""
    where = "ranker = :r" if ranker else "ranker NOT LIKE 'compare:%'"
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, query_text, query_norm, segment, weight, results FROM samples "
                f"WHERE sample_date = :d AND {where} ORDER BY id"
            ),
            {"d": day, "r": ranker},
        ).all()
    return [
        StoredSample(
            id=int(r.id),
            query=r.query_text,
            query_norm=r.query_norm,
            segment={str(k): str(v) for k, v in (r.segment or {}).items()},
            weight=float(r.weight),
            results=_first_of_each(r.results),
        )
        for r in rows
    ]


def _first_of_each(items: list[dict[str, Any]]) -> tuple[Result, ...]:
    """The snapshot's results, a result id listed twice kept at its first position.

    Verdicts and ensemble grades are keyed by (sample, result id): one result shown twice
    is one judgment.
    """
    seen: set[str] = set()
    out = []
    for item in items:
        result_id = str(item["id"])
        if result_id in seen:
            continue
        seen.add(result_id)
        out.append(
            Result(
                id=result_id,
                position=int(item["position"]),
                title=item.get("title") or "",
                text=item.get("text") or "",
                metadata=item.get("metadata") or {},
            )
        )
    return tuple(out)


@dataclass
class JudgeOutcome:
    """What judging a day did: per-judge tallies, rows stored, endpoint failures."""

    tallies: dict[str, JudgeTally]
    verdicts_stored: int
    items: int
    errors: list[str] = field(default_factory=list)

    @property
    def paid(self) -> int:
        return sum(t.paid for t in self.tallies.values())

    @property
    def cached(self) -> int:
        return sum(t.cached for t in self.tallies.values())

    @property
    def invalid(self) -> int:
        return sum(t.invalid for t in self.tallies.values())

    @property
    def cost_usd(self) -> float:
        return sum(t.cost_usd for t in self.tallies.values())


def judge_ids_for(database: Database, judges: Sequence[Judge]) -> dict[str, int]:
    ids = {}
    with database.engine.begin() as conn:
        for judge in judges:
            config = judge.config
            ids[judge.name] = repo.ensure_judge(
                conn,
                name=judge.name,
                kind=config.kind,
                model=config.model if config.kind == "llm" else config.kind,
                prompt_version=judge.prompt_version,
                config_hash=config.identity_hash(),
                params=config.model_dump(
                    mode="json",
                    include={"temperature", "seed", "max_tokens", "prompt", "thresholds"},
                ),
            )
    return ids


async def judge_samples(
    database: Database,
    judges: Sequence[Judge],
    samples: Sequence[StoredSample],
    *,
    method: str = "median",
    weights: dict[str, float] | None = None,
    progress: Progress | None = None,
    processes: int = 1,
) -> JudgeOutcome:
    """Grade every result of every sample with every judge, store verdicts and ensemble."""
    placed = [(s, r) for s in samples for r in s.results]
    items = [JudgeItem(query=s.query, result=r) for s, r in placed]
    verdicts, tallies = await judge_with_cache(
        database, judges, items, progress=progress, processes=processes
    )
    judge_ids = judge_ids_for(database, judges)
    stored = [
        repo.StoredVerdict(
            sample_id=s.id,
            judge_id=judge_ids[name],
            result_id=r.id,
            position=r.position,
            verdict=verdict,
        )
        for name, answers in verdicts.items()
        for (s, r), verdict in zip(placed, answers, strict=True)
        if verdict is not None
    ]
    ensemble_rows = []
    for index, (s, r) in enumerate(placed):
        grades = {
            name: v.grade if (v := answers[index]) is not None else None
            for name, answers in verdicts.items()
        }
        agg = aggregate(grades, method=method, weights=weights)
        ensemble_rows.append(
            (s.id, r.id, r.position, agg.grade, agg.disagreement, agg.n_judges, method)
        )
    with database.engine.begin() as conn:
        written = repo.write_verdicts(conn, verdicts=stored)
        repo.upsert_ensemble_grades(conn, rows=ensemble_rows)
    errors = [f"{name}: {err}" for name, t in tallies.items() for err in t.errors]
    return JudgeOutcome(tallies=tallies, verdicts_stored=written, items=len(items), errors=errors)


async def judge_as_configured(
    database: Database,
    settings: Settings,
    judges: Sequence[Judge],
    samples: Sequence[StoredSample],
    progress: Progress | None = None,
) -> JudgeOutcome:
    """``judge_samples`` as the settings ask: their ensemble method, the judges' weights
    and the judge worker processes."""
    return await judge_samples(
        database,
        judges,
        samples,
        method=settings.ensemble,
        weights={j.name: j.weight for j in settings.judges},
        progress=progress,
        processes=settings.judge_processes,
    )


def warm_day_workers(settings: Settings, judges: Sequence[Judge]) -> AbstractContextManager[None]:
    """Start the judge worker processes a day of ``settings``' sample size will need (on
    big days), so that their imports overlap with sampling (``warm_workers``)."""
    expected = settings.sampling.size * settings.sampling.top_k
    return warm_workers(settings.judge_processes, judges, expected)


@dataclass
class DayOutcome:
    """A day's run as recorded in ``runs``."""

    day: dt.date
    run_id: int
    status: str
    counts: dict[str, Any]
    cost_usd: float
    duration_s: float
    error: str | None = None


def start_day(database: Database, settings: Settings, day: dt.date, flow: str = DAILY_FLOW) -> int:
    """Open the day's run; a day last run under another configuration starts afresh.

    Same configuration, same sample: a rerun keeps what is stored. After a change of
    source, sampling or judges, the day's production sample (with its verdicts and
    ensemble grades) is replaced instead of mixed with the new one; paid answers stay in
    the verdict cache, so nothing is paid twice.
    """
    config_hash = settings.config_hash()
    with database.engine.begin() as conn:
        previous = conn.execute(
            text("SELECT config_hash FROM runs WHERE flow = :f AND run_date = :d AND run_key = ''"),
            {"f": flow, "d": day},
        ).scalar()
        if previous is not None and previous != config_hash:
            conn.execute(
                text("DELETE FROM samples WHERE sample_date = :d AND ranker NOT LIKE 'compare:%'"),
                {"d": day},
            )
        return repo.start_run(conn, flow=flow, run_date=day, config_hash=config_hash)


def finish_day(
    database: Database,
    *,
    run_id: int,
    day: dt.date,
    started: float,
    status: str,
    sample: DailySample | None = None,
    bad_rows: BadRows | None = None,
    judged: JudgeOutcome | None = None,
    error: str | None = None,
) -> DayOutcome:
    """Record the run's status, counts, cost and duration in ``runs``."""
    counts: dict[str, Any] = {
        "sampled": sample.sampled if sample else 0,
        "searches": sample.total_searches if sample else 0,
        "judged": judged.paid if judged else 0,
        "cached": judged.cached if judged else 0,
        "invalid": judged.invalid if judged else 0,
        "verdicts": judged.verdicts_stored if judged else 0,
        "bad_rows": bad_rows.bad if bad_rows else 0,
        "bad_rows_by_reason": dict(bad_rows.counts) if bad_rows else {},
    }
    cost = judged.cost_usd if judged else 0.0
    duration = time.monotonic() - started
    with database.engine.begin() as conn:
        repo.finish_run(
            conn,
            run_id=run_id,
            status=status,
            counts=counts,
            cost_usd=cost,
            duration_s=duration,
            error=error,
        )
    return DayOutcome(
        day=day,
        run_id=run_id,
        status=status,
        counts=counts,
        cost_usd=cost,
        duration_s=duration,
        error=error,
    )


def raise_for_judging(outcome: JudgeOutcome) -> None:
    """A judge whose endpoint failed fails the run (after what it answered was kept)."""
    if outcome.errors:
        raise JudgeError("; ".join(outcome.errors))
