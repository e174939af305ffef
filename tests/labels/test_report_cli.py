"""`judge-monitor report` as a user (or a cron job) runs it: a real process, real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_seed import DAY, seed_story

from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

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
    ndcg = next(ln for ln in lines if ln.startswith("ndcg@10"))
    assert "↑" in ndcg and f"{up:.3f}" in ndcg and "31" in ndcg
    assert f"{statistics.mean(past_ndcg):.3f}" in ndcg
    assert "→" in next(ln for ln in lines if ln.startswith("invalid_rate (j1)"))
    assert "—" in next(ln for ln in lines if ln.startswith("grade_psi"))
    assert "no value: grade_psi: no baseline grades" in out.stdout
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


def test_json_is_the_report_as_data(cli: Cli, database: Database) -> None:
    """--json prints only JSON: the day, the summary, the alerts, segments and queries."""
    seed_story(database)
    out = cli("report", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["day"] == DAY.isoformat()  # no --date: the latest day with figures
    assert data["segments"][0]["segment"] == "locale=fr"
    assert data["page_alerts"] > 0 and data["summary"]
    assert data["worst"][0]["query"] == "croissant recette"


def test_fail_on_alert_exits_2_only_when_a_page_alert_fires(cli: Cli, database: Database) -> None:
    """--fail-on-alert: exit 2 on the day of the collapse, 0 on a quiet day before it."""
    seed_story(database)
    loud = cli("report", "--date", DAY.isoformat(), "--fail-on-alert")
    assert loud.returncode == 2, loud.stderr
    assert "QualityDropVsBaseline" in loud.stdout
    quiet = cli("report", "--date", (DAY - dt.timedelta(days=1)).isoformat(), "--fail-on-alert")
    assert quiet.returncode == 0, quiet.stderr
    assert "No alert fires." in quiet.stdout


def test_segment_option_narrows_and_checks_its_value(cli: Cli, database: Database) -> None:
    """--segment shows that segment only; an unknown one is a one-line error naming the
    segments there are."""
    seed_story(database)
    out = cli("report", "--segment", "locale=en", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [s["segment"] for s in data["segments"]] == ["locale=en"]
    bad = cli("report", "--segment", "locale=xx")
    assert bad.returncode == 1
    assert "--segment 'locale=xx'" in bad.stderr and "locale=fr" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "command",
    [
        ("report",),
        ("report", "--date", DAY.isoformat(), "--json"),
        ("labels", "export", "--for-annotation", "--date", DAY.isoformat(), "--queries", "3"),
    ],
    ids=" ".join,
)
def test_read_commands_on_a_database_without_schema_say_so(
    command: tuple[str, ...], empty_database_url: str, tmp_path: Path
) -> None:
    """On a database without the schema a read command prints one line saying how to
    create it, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGE_MONITOR_")}
    env.update({"DATABASE_URL": empty_database_url, "COLUMNS": "80"})
    out = subprocess.run(
        [sys.executable, "-m", "monitor", *command],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "no judge-monitor schema" in out.stderr and "judge-monitor db upgrade" in out.stderr


def test_run_ends_with_headline_figures_and_alerts(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """What `run` prints after its table: the day's headline figures against their
    baseline, the alerts that fire, and the command for the whole report."""
    from monitor.cli.report import print_day_summary

    seed_story(database)
    monkeypatch.setenv("DATABASE_URL", database_url)
    print_day_summary(DAY)
    out = capsys.readouterr().out
    assert "headline figures · all traffic" in out and "ndcg@10" in out
    assert "QualityDropVsBaseline" in out and "locale=fr" in out
    assert f"judge-monitor report --date {DAY} --html report-{DAY}.html" in out
    print_day_summary(DAY - dt.timedelta(days=1))
    assert "no alert fires on this day's figures" in capsys.readouterr().out
    print_day_summary(DAY + dt.timedelta(days=1))
    assert f"no figures to show: no metrics for {DAY + dt.timedelta(days=1)}" in (
        capsys.readouterr().out
    )
