"""Judge calibrations in Postgres: what ``calibrate`` measured, read back by the ensemble.

One row per (judge, judge config, labels source): recalibrating the same judge on the
same labels replaces its row, so the table holds the latest figures and no duplicates.
The weighted ensemble reads each judge's weight, and local judges their fitted cut
points, from ``latest_calibrations``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.dialects.postgresql import insert

from monitor.config import Settings
from monitor.store.models import JudgeCalibration

__all__ = ["calibrated_settings", "latest_calibrations", "upsert_calibration"]


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


def calibrated_settings(conn: Connection, settings: Settings) -> Settings:
    """The settings with what calibration measured applied to each judge.

    A calibration counts only for the exact judge configuration it measured (same
    identity hash). Local judges without configured cut points get the fitted ones;
    with ``ensemble = "weighted"`` every judge gets its measured weight. Explicit
    configuration always wins.
    """
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (judge_name, config_hash) judge_name, config_hash, weight, "
            "thresholds FROM judge_calibrations ORDER BY judge_name, config_hash, created_at DESC"
        )
    ).all()
    found = {(r.judge_name, r.config_hash): (float(r.weight), r.thresholds) for r in rows}
    judges = []
    for judge in settings.judges:
        hit = found.get((judge.name, judge.identity_hash()))
        if hit is None:
            judges.append(judge)
            continue
        weight, thresholds = hit
        update: dict[str, object] = {}
        if judge.kind != "llm" and judge.thresholds is None and thresholds:
            update["thresholds"] = [float(t) for t in thresholds]
        if settings.ensemble == "weighted" and "weight" not in judge.model_fields_set:
            update["weight"] = weight
        judges.append(judge.model_copy(update=update))
    return settings.model_copy(update={"judges": judges})
