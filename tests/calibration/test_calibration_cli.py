"""``judge-monitor calibrate`` end to end on a slice of DL19, and the calibrations table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from real_data import DL19 as DATA
from sqlalchemy import create_engine, text

from monitor.store.calibrations import latest_calibrations, upsert_calibration


def _slice(tmp_path: Path, ranker: str, n_queries: int) -> Path:
    out = tmp_path / f"run.{ranker}.jsonl"
    with (DATA / f"run.{ranker}.jsonl").open() as src:
        lines = [json.loads(line) for line in src][:n_queries]
    out.write_text("".join(json.dumps({**r, "results": r["results"][:10]}) + "\n" for r in lines))
    return out


@pytest.mark.dl19
def test_cli_prints_tables_and_stores_calibrations(tmp_path: Path, database_url: str) -> None:
    """The command prints agreement and ranker tables and stores one row per judge."""
    runs = [_slice(tmp_path, r, 6) for r in ("bm25", "tasb")]
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [
        sys.executable, "-m", "monitor", "calibrate",
        "--labels", str(DATA / "qrels.dl19-passage.txt"),
        *(a for run in runs for a in ("--run", str(run))),
        "--bootstrap", "100",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("precision") < out.index("quadratic kappa") < out.index("confusion")
    assert "cross-validated kappa" in out
    assert "Do the judges rank the rankers as humans do?" in out and "verdict:" in out
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT judge_name, n, metrics, thresholds FROM judge_calibrations")
            ).all()
    finally:
        engine.dispose()
    assert [r.judge_name for r in rows] == ["lexical"]
    assert rows[0].n > 0 and "kappa" in rows[0].metrics and len(rows[0].thresholds) == 3


def test_upsert_replaces_and_latest_reads_back(database_url: str) -> None:
    """Recalibrating the same judge config on the same labels replaces its row."""
    engine = create_engine(database_url)
    try:
        for weight in (0.2, 0.6):
            with engine.begin() as conn:
                upsert_calibration(
                    conn,
                    judge_name="semantic",
                    config_hash="abc",
                    labels_source="dl19",
                    n=10,
                    metrics={"kappa": weight},
                    weight=weight,
                    thresholds=[0.4, 0.6, 0.7],
                )
        with engine.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM judge_calibrations")).scalar_one()
            latest = latest_calibrations(conn)
    finally:
        engine.dispose()
    assert count == 1
    assert latest == {"semantic": (0.6, [0.4, 0.6, 0.7])}
