"""`judge-monitor report` as a user runs it: a real process, real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path

from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

DAY = dt.date(2026, 11, 20)
Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_report_prints_arrows_and_writes_html(cli: Cli, database: Database, tmp_path: Path) -> None:
    """The table shows each figure with its arrow vs the baseline; --html writes the page."""
    past_ndcg = [0.50, 0.52, 0.54]
    with database.engine.begin() as conn:
        for back, value in enumerate(past_ndcg, start=1):
            upsert_daily_metrics(
                conn,
                day=DAY - dt.timedelta(days=back),
                rows=[
                    ("ndcg", "all", "ensemble", 10, value, None, None, 30, None),
                    ("invalid_rate", "all", "j1", 0, 0.10, None, None, 30, None),
                ],
            )
        up = statistics.mean(past_ndcg) * 1.2
        upsert_daily_metrics(
            conn,
            day=DAY,
            rows=[
                ("ndcg", "all", "ensemble", 10, up, up - 0.04, up + 0.04, 31, None),
                ("invalid_rate", "all", "j1", 0, 0.10, None, None, 30, None),
                ("grade_psi", "all", "ensemble", 0, None, None, None, 0, "no baseline grades"),
            ],
        )
    page = tmp_path / "report.html"
    out = cli("report", "--date", DAY.isoformat(), "--html", str(page))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    ndcg = next(ln for ln in lines if "ndcg@10" in ln)
    assert "↑" in ndcg and f"{up:.3f}" in ndcg and "31" in ndcg
    assert f"{statistics.mean(past_ndcg):.3f}" in ndcg
    assert "→" in next(ln for ln in lines if "invalid_rate" in ln)
    assert "no baseline grades" in next(ln for ln in lines if "grade_psi" in ln)
    assert out.stdout.index("ndcg@10") < out.stdout.index("invalid_rate")
    assert out.stdout.index("invalid_rate") < out.stdout.index("grade_psi")
    assert "<svg" in page.read_text(encoding="utf-8")


def test_missing_day_is_a_clear_error(cli: Cli, database: Database) -> None:
    """A day without metrics exits 1 naming the nearest day that has some."""
    with database.engine.begin() as conn:
        upsert_daily_metrics(
            conn,
            day=DAY - dt.timedelta(days=3),
            rows=[("ndcg", "all", "ensemble", 10, 0.5, None, None, 30, None)],
        )
    out = cli("report", "--date", DAY.isoformat())
    assert out.returncode == 1
    assert f"no metrics for {DAY}" in out.stderr
    assert (DAY - dt.timedelta(days=3)).isoformat() in out.stderr
