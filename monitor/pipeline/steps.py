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
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config import Settings
from monitor.errors import ConfigError, InputError
from monitor.judges.base import Judge
from monitor.judges.ensemble import aggregate
from monitor.judging.cache import Progress
from monitor.judging.ensemble import judge_with_cache
from monitor.judging.workers import warm_workers
from monitor.pipeline.allocation import stored_design
from monitor.pipeline.judged import JudgeOutcome, failed_calls_note, raise_for_judging
from monitor.sampling import DailySample, sample_day
from monitor.sources.base import BadRows, Source
from monitor.sources.factory import build_source
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.store.partitions import apply_retention
from monitor.store.runs import run_config_hash
from monitor.store.sample_reads import stored_samples
from monitor.types import JudgeItem, Result

__all__ = [
    "DayOutcome",
    "JudgeOutcome",
    "StoredSample",
    "check_day",
    "day_for_schedule",
    "day_window",
    "days_between",
    "failed_calls_note",
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
    "yesterday",
]

DAILY_FLOW = "daily"


def yesterday() -> dt.date:
    """The default day of a daily run: yesterday in UTC."""
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def day_for_schedule(scheduled: dt.datetime, tz: str) -> dt.date:
    """The day a scheduled daily run judges: the day before its *scheduled* date.

    The date is read in the schedule's timezone ``tz``, from the time the run was
    scheduled for, not the time it runs: a late start or a retry after midnight judges
    the same day. Days are UTC days, so the result is never a day that had not ended in
    UTC at the scheduled time (a 06:00 run in a zone ahead of UTC judges the day before
    that). A naive ``scheduled`` is taken as UTC, as Prefect does.
    """
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"schedule_timezone {tz!r} is not a known time zone (e.g. UTC, Europe/Berlin)"
        ) from None
    if scheduled.tzinfo is None:
        scheduled = scheduled.replace(tzinfo=dt.UTC)
    local = scheduled.astimezone(zone).date()
    utc = scheduled.astimezone(dt.UTC).date()
    return min(local, utc) - dt.timedelta(days=1)


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end`` inclusive; an end before the start is refused."""
    if end < start:
        raise InputError(
            f"--end {end.isoformat()} is before --start {start.isoformat()}; "
            "give the range oldest day first"
        )
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


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
    settings: Settings,
    day: dt.date,
    *,
    source: Source | None = None,
    database: Database | None = None,
    keep_design: bool = False,
) -> tuple[DailySample, BadRows]:
    """Read the day's searches and draw its sample: a Neyman allocation's sds and a
    panel's queries read from ``database`` as the day's first run did (``stored_design``)."""
    design = stored_design(database, day, settings, keep=keep_design) if database else None
    sd, history = design or (None, None)
    source = source or build_source(settings.source)
    start, end = day_window(day)
    records = source.fetch(start, end)
    sample = sample_day(records, day=day, config=settings.sampling, sd=sd, history=history)
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
    """Upsert the day's sample, replacing stored rows the day's searches no longer give
    (``upsert_samples``' ``replace_stale``); return how many rows the day holds."""
    with database.engine.begin() as conn:
        ids = repo.upsert_samples(
            conn, day=day, queries=sample.queries, top_k=top_k, replace_stale=True
        )
    return len(ids)


def load_samples(
    database: Database, day: dt.date, *, ranker: str | None = None
) -> list[StoredSample]:
    """The day's stored sample in a stable order: production's, or one ranker's."""
    with database.engine.connect() as conn:
        rows = stored_samples(conn, day=day, ranker=ranker)
    return [
        StoredSample(
            id=r.id,
            query=r.query_text,
            query_norm=r.query_norm,
            segment={str(k): str(v) for k, v in r.segment.items()},
            weight=r.weight,
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
    max_failed_share: float | None = None,
    runner: str = "local",
    dask_address: str | None = None,
) -> JudgeOutcome:
    """Grade every result of every sample with every judge, store verdicts and ensemble.

    An item whose call failed gets no verdict row; its ensemble row is aggregated from
    the judges that answered and says how many did (``n_judges``; 0 and no grade if none).
    """
    placed = [(s, r) for s in samples for r in s.results]
    items = [JudgeItem(query=s.query, result=r) for s, r in placed]
    verdicts, tallies = await judge_with_cache(
        database,
        judges,
        items,
        progress=progress,
        processes=processes,
        max_failed_share=max_failed_share,
        runner=runner,
        dask_address=dask_address,
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
    partial = sum(1 for row in ensemble_rows if row[5] < len(judges))
    return JudgeOutcome(
        tallies=tallies,
        verdicts_stored=written,
        items=len(items),
        errors=errors,
        partial_ensemble=partial,
    )


async def judge_as_configured(
    database: Database,
    settings: Settings,
    judges: Sequence[Judge],
    samples: Sequence[StoredSample],
    progress: Progress | None = None,
) -> JudgeOutcome:
    """``judge_samples`` as the settings ask: their ensemble method, the judges' weights,
    the judge worker processes (or task runner) and the share of failed calls a judge
    may have."""
    return await judge_samples(
        database,
        judges,
        samples,
        method=settings.ensemble,
        weights={j.name: j.weight for j in settings.judges},
        progress=progress,
        processes=settings.judge_processes,
        max_failed_share=settings.max_failed_call_share,
        runner=settings.judge_runner,
        dask_address=settings.dask_address,
    )


def warm_day_workers(settings: Settings, judges: Sequence[Judge]) -> AbstractContextManager[None]:
    """Start the judge worker processes a day of ``settings``' sample size will need (on
    big days), so that their imports overlap with sampling (``warm_workers``); none when
    judging goes to a Prefect task runner (``judge_runner``)."""
    expected = settings.sampling.size * settings.sampling.top_k
    processes = settings.judge_processes if settings.judge_runner == "local" else 1
    return warm_workers(processes, judges, expected)


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
    source, sampling or judges, the day's sample is replaced instead of mixed with the
    new one, unless sent for annotation (``repo.reset_production_day``); paid answers stay
    in the verdict cache, so nothing is paid twice.
    """
    config_hash = settings.config_hash()
    apply_retention(database, settings.retention_days)  # whole months past retention go
    with database.engine.begin() as conn:
        previous = run_config_hash(conn, flow=flow, run_date=day)
        if previous is not None and previous != config_hash:
            repo.reset_production_day(conn, day=day)  # an annotated day keeps its sample
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
    extra_counts: dict[str, Any] | None = None,
) -> DayOutcome:
    """Record the run's status, counts (with ``extra_counts``), cost and duration in ``runs``."""
    counts: dict[str, Any] = {
        "sampled": sample.sampled if sample else 0,
        "searches": sample.total_searches if sample else 0,
        "judged": judged.paid if judged else 0,
        "cached": judged.cached if judged else 0,
        "invalid": judged.invalid if judged else 0,
        "verdicts": judged.verdicts_stored if judged else 0,
        "failed_calls": judged.failed if judged else 0,
        "partial_ensemble": judged.partial_ensemble if judged else 0,
        "bad_rows": bad_rows.bad if bad_rows else 0,
        "bad_rows_by_reason": dict(bad_rows.counts) if bad_rows else {},
        **(extra_counts or {}),
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
