"""Reading the ``runs`` table: what has been done, for resuming and for summaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from monitor.store.db import Database

__all__ = [
    "FinishedRun",
    "completed_days",
    "last_successes",
    "latest_finished_runs",
    "run_config_hash",
]


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
