"""The calibrate flow: every configured judge against a human-labeled set."""

# No `from __future__ import annotations`: `serve` pickles this flow's function by
# value into each run's process, where its parameters' annotations must be real types.

from pathlib import Path

from prefect import flow

from monitor.config import load_settings
from monitor.pipeline.calibrate import CalibrationOutcome, run_calibration
from monitor.progress import judge_progress
from monitor.store.db import connect
from monitor.store.migrate import upgrade

__all__ = ["calibrate"]


@flow(name="calibrate", log_prints=False)
def calibrate(
    labels: Path,
    runs: list[Path],
    passages: Path | None = None,
    topics: Path | None = None,
    k: int = 10,
    fit: bool = True,
    bootstrap: int = 1000,
) -> CalibrationOutcome:
    """Measure the judges on labeled pairs and store their agreement, weights, thresholds."""
    settings = load_settings()
    database = connect(settings)
    try:
        upgrade(database.engine, database.url)
        return run_calibration(
            database,
            settings,
            labels=labels,
            runs=runs,
            passages=passages,
            topics=topics,
            k=k,
            fit=fit,
            bootstrap=bootstrap,
            progress=judge_progress,
        )
    finally:
        database.dispose()
