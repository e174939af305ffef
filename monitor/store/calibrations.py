"""Judge calibrations in Postgres: what ``calibrate`` measured, read back by the ensemble.

One row per (judge, judge config, labels source): recalibrating the same judge on the
same labels replaces its row, so the table holds the latest figures and no duplicates.
The weighted ensemble reads each judge's weight, and local judges their fitted cut
points, from ``latest_calibrations``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from monitor.store.models import JudgeCalibration

__all__ = ["latest_calibrations", "upsert_calibration"]


def upsert_calibration(
    conn: Connection,
    *,
    judge_name: str,
    config_hash: str,
    labels_source: str,
    n: int,
    metrics: Mapping[str, Any],
    weight: float,
    thresholds: Sequence[float] | None,
) -> None:
    """Insert or replace the calibration of one judge config on one labels source."""
    values = {
        "n": n,
        "metrics": dict(metrics),
        "weight": float(weight),
        "thresholds": None if thresholds is None else [float(t) for t in thresholds],
    }
    statement = insert(JudgeCalibration).values(
        judge_name=judge_name, config_hash=config_hash, labels_source=labels_source, **values
    )
    statement = statement.on_conflict_do_update(
        index_elements=["judge_name", "config_hash", "labels_source"],
        set_={**values, "created_at": func.now()},
    )
    conn.execute(statement)


def latest_calibrations(conn: Connection) -> dict[str, tuple[float, list[float] | None]]:
    """judge name -> (weight, thresholds) of its most recent calibration."""
    rows = conn.execute(
        select(
            JudgeCalibration.judge_name,
            JudgeCalibration.weight,
            JudgeCalibration.thresholds,
        ).order_by(JudgeCalibration.created_at, JudgeCalibration.id)
    )
    out: dict[str, tuple[float, list[float] | None]] = {}
    for name, weight, thresholds in rows:
        out[name] = (float(weight), None if thresholds is None else [float(t) for t in thresholds])
    return out
