"""Reading the ``runs`` table: what has been done, for resuming and for summaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from monitor.store.db import Database

__all__ = [
    "STALE_RUN",
    "FinishedRun",
    "RunState",
    "abandoned_runs",
    "completed_days",
    "last_successes",
    "latest_finished_runs",
    "run_config_hash",
    "run_states",
]

#: A ``running`` row whose process stopped beating its heartbeat more than its lease ago:
#: the process died without recording an outcome, the run is *abandoned*
#: (``monitor.store.run_lease``). Only runs that hold a lease (the daily runs and
#: compare) can be; a row without one (written before heartbeats) is never read so,
#: though the next run of its flow and day still records it abandoned.
STALE_RUN = (
    "status = 'running' AND lease_s IS NOT NULL AND heartbeat_at IS NOT NULL "
    "AND heartbeat_at + make_interval(secs => lease_s) < now()"
)

#: A run's status as readers should see it: ``abandoned`` for a stale ``running`` row.
_EFFECTIVE_STATUS = f"CASE WHEN {STALE_RUN} THEN 'abandoned' ELSE status END"


def completed_days(database: Database, *, flow: str, config_hash: str) -> set[dt.date]:
    """Days whose run of ``flow`` completed under this configuration."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT run_date FROM runs WHERE flow = :f AND status = 'completed' "
                "AND config_hash = :h"
            ),
            {"f": flow, "h": config_hash},
        )
        return {r.run_date for r in rows}


def run_config_hash(
    conn: Connection, *, flow: str, run_date: dt.date, run_key: str = ""
) -> str | None:
    """Under which configuration was this run of ``flow`` last started? (None: never.)"""
    found: str | None = conn.execute(
        text("SELECT config_hash FROM runs WHERE flow = :f AND run_date = :d AND run_key = :k"),
        {"f": flow, "d": run_date, "k": run_key},
    ).scalar()
    return found


@dataclass(frozen=True, slots=True)
class FinishedRun:
    """How a flow's latest finished run ended, and what it did and cost."""

    flow: str
    status: str
    duration_s: float | None
    counts: Mapping[str, Any]
    cost_usd: float | None


def latest_finished_runs(conn: Connection) -> tuple[FinishedRun, ...]:
    """How did each flow's latest finished run end? One per flow, by flow name.

    A run still going neither succeeded nor failed yet, so it is not among them.
    """
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (flow) flow, status, duration_s, counts, cost_usd FROM runs "
            "WHERE status IN ('completed', 'failed') "
            "ORDER BY flow, finished_at DESC NULLS LAST, id DESC"
        )
    )
    return tuple(
        FinishedRun(
            flow=r.flow,
            status=r.status,
            duration_s=r.duration_s,
            counts=r.counts or {},
            cost_usd=r.cost_usd,
        )
        for r in rows
    )


def last_successes(conn: Connection) -> dict[str, dt.datetime]:
    """When did each flow's completed run for its newest day finish? By flow name.

    The newest *day*, not the newest finish: a backfill of old days that finishes now
    must not make a pipeline whose recent days failed look fresh.
    """
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (flow) flow, finished_at AS at FROM runs "
            "WHERE status = 'completed' AND finished_at IS NOT NULL "
            "ORDER BY flow, run_date DESC, finished_at DESC"
        )
    )
    return {r.flow: r.at for r in rows}


@dataclass(frozen=True, slots=True)
class RunState:
    """A run as ``db status`` shows it: a stale ``running`` row reads ``abandoned``;
    ``flow`` names compare's pair too (``compare a~b``)."""

    id: int
    flow: str
    run_date: dt.date
    status: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime | None
    pid: int | None
    host: str | None
    error: str | None


def run_states(conn: Connection, *, limit: int = 10) -> tuple[dict[str, int], list[RunState]]:
    """How many runs are in each status, and the ``limit`` most recently started runs
    that did not end well or have not ended (running, abandoned, failed, aborted)."""
    counts = {
        r.status: int(r.n)
        for r in conn.execute(
            text(f"SELECT {_EFFECTIVE_STATUS} AS status, count(*) AS n FROM runs GROUP BY 1")
        )
    }
    rows = conn.execute(
        text(
            f"SELECT id, flow, run_key, run_date, {_EFFECTIVE_STATUS} AS status, started_at, "
            "heartbeat_at, pid, host, error FROM runs "
            "WHERE status NOT IN ('completed', 'degraded') "
            "ORDER BY started_at DESC, id DESC LIMIT :n"
        ),
        {"n": limit},
    )
    return counts, [
        RunState(
            id=r.id,
            flow=f"{r.flow} {r.run_key}" if r.run_key else r.flow,
            run_date=r.run_date,
            status=r.status,
            started_at=r.started_at,
            heartbeat_at=r.heartbeat_at,
            pid=r.pid,
            host=r.host,
            error=r.error,
        )
        for r in rows
    ]


def abandoned_runs(conn: Connection) -> dict[str, int]:
    """Per flow that has runs: how many are abandoned, stale ``running`` rows included."""
    rows = conn.execute(
        text(
            "SELECT flow, count(*) FILTER "
            f"(WHERE status = 'abandoned' OR ({STALE_RUN})) AS n FROM runs GROUP BY flow"
        )
    )
    return {r.flow: int(r.n) for r in rows}
