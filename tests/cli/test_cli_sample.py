"""`judge-monitor sample` and `plan` as a user runs them."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

from scipy import stats
from sqlalchemy import create_engine
from test_cli_db import run_cli

from monitor.config import SamplingConfig, Settings, SourceConfig
from monitor.metrics.power import detectable_drop, detectable_paired_drop, queries_needed
from monitor.pipeline.steps import fetch_sample, store_sample
from monitor.sampling_panel import PANEL_STRATUM
from monitor.store import repository as repo
from monitor.store.db import Database

DAY = dt.date(2026, 1, 2)


def test_sample_prints_strata_and_writes_jsonl(tmp_path: Path, database_url: str) -> None:
    """The demo day's sample is summarised per stratum and written as JSON lines."""
    config = tmp_path / "judge-monitor.toml"
    config.write_text(
        "[source]\nkind = 'demo'\n[source.options]\nsearches_per_day = 300\nitems = 400\n"
        "queries_per_locale = 200\n[sampling]\nsize = 30\n"
    )
    out = tmp_path / "sample.jsonl"
    done = run_cli(
        "sample",
        "--date",
        "2026-01-02",
        "--out",
        str(out),
        env={"JUDGE_MONITOR_CONFIG": str(config), "DATABASE_URL": database_url},
    )
    assert done.returncode == 0, done.stderr
    assert "locale=en" in done.stdout and "300 searches" in done.stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert 0 < len(lines) <= 30 + 3 * 5  # size, plus stratum minimums
    assert all(0 < line["inclusion_probability"] <= 1 for line in lines)


def _panel_config(tmp_path: Path) -> Path:
    config = tmp_path / "judge-monitor.toml"
    config.write_text(
        "[source]\nkind = 'demo'\n[source.options]\nsearches_per_day = 300\nitems = 400\n"
        "queries_per_locale = 200\n[sampling]\nsize = 30\npanel_share = 0.5\n"
    )
    return config


def test_sample_previews_the_panel_the_run_would_take(tmp_path: Path, database: Database) -> None:
    """With a panel configured, the preview reads the stored history as ``run`` does: it
    draws the same sample, panel included (it used to preview a fresh-only sample)."""
    config = _panel_config(tmp_path)
    settings = Settings(
        source=SourceConfig(
            kind="demo", options={"searches_per_day": 300, "items": 400, "queries_per_locale": 200}
        ),
        sampling=SamplingConfig(size=30, panel_share=0.5),
    )
    yesterday, _ = fetch_sample(settings, DAY - dt.timedelta(days=1))
    store_sample(database, DAY - dt.timedelta(days=1), yesterday, settings.sampling.top_k)
    expected, _ = fetch_sample(settings, DAY, database=database)
    panel = [q for q in expected.queries if q.stratum == PANEL_STRATUM]
    assert panel  # the run's sample of DAY has a panel

    out = tmp_path / "sample.jsonl"
    env = {"JUDGE_MONITOR_CONFIG": str(config), "DATABASE_URL": database.url}
    done = run_cli("sample", "--date", DAY.isoformat(), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert PANEL_STRATUM in done.stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["query"] for line in lines) == sorted(
        q.record.query for q in expected.queries
    )


def test_sample_says_when_the_panel_has_no_stored_history(
    tmp_path: Path, empty_database_url: str
) -> None:
    """A store with no schema: the preview is drawn without a panel, and says so."""
    env = {"JUDGE_MONITOR_CONFIG": str(_panel_config(tmp_path)), "DATABASE_URL": empty_database_url}
    done = run_cli("sample", "--date", DAY.isoformat(), env=env)
    assert done.returncode == 0, done.stderr
    assert (
        "nothing stored yet" in done.stdout and PANEL_STRATUM not in done.stdout.split("nothing")[0]
    )


def test_plan_with_a_stated_sd_matches_the_formula(database_url: str) -> None:
    """With --sd the answer is the power calculation's, and says where the sd came from."""
    done = run_cli("plan", "--drop", "0.05", "--sd", "0.3", env={"DATABASE_URL": database_url})
    assert done.returncode == 0, done.stderr
    expected = queries_needed(0.3, 0.05)
    assert f"{expected:,} sampled queries a day" in done.stdout and "as given" in done.stdout


def test_plan_without_any_variance_is_a_clear_error(database_url: str) -> None:
    """No stored runs and no stated sd: one line saying what to give."""
    done = run_cli("plan", "--drop", "0.05", env={"DATABASE_URL": database_url})
    assert done.returncode == 1
    assert "--sd or --baseline-ndcg" in done.stderr


def test_plan_states_the_smallest_drop_the_configured_budget_detects(database_url: str) -> None:
    """Without --drop, plan prints the detectable drop at sampling.size queries a day."""
    env = {"DATABASE_URL": database_url, "JUDGE_MONITOR_SAMPLING__SIZE": "100"}
    done = run_cli("plan", "--sd", "0.25", env=env)
    assert done.returncode == 0, done.stderr
    expected = detectable_drop(0.25, 100)
    assert "configured 100 queries a day" in done.stdout
    assert f"detected is {expected:.3f}" in done.stdout


def test_plan_with_a_panel_splits_the_budget_and_measures_the_paired_sd(
    database_url: str,
) -> None:
    """With sampling.panel_share the fresh line counts the fresh queries only, and the
    panel's line takes the sd of each query's change from the stored panel CIs (t
    intervals), median over days, into the one-sample detectable drop."""
    days = [(0.020, 30), (0.030, 28), (0.025, 30)]  # (CI half-width, panel queries)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        for offset, (half, n) in enumerate(days):
            repo.replace_daily_metrics(
                conn,
                day=dt.date(2026, 3, 1) + dt.timedelta(days=offset),
                rows=[
                    (
                        "panel_ndcg_change",
                        "all",
                        "ensemble",
                        10,
                        -0.01,
                        -0.01 - half,
                        -0.01 + half,
                        n,
                        None,
                    )
                ],
            )
    engine.dispose()
    sd = sorted(h * math.sqrt(n) / stats.t.ppf(0.975, n - 1) for h, n in days)[1]
    env = {
        "DATABASE_URL": database_url,
        "JUDGE_MONITOR_SAMPLING__SIZE": "100",
        "JUDGE_MONITOR_SAMPLING__PANEL_SHARE": "0.3",
    }
    done = run_cli("plan", "--sd", "0.25", env=env)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "100 queries a day (sampling.size, 70 of them fresh)" in out
    assert f"detected is {detectable_drop(0.25, 70):.3f}" in out
    assert f"panel's queries detected is {detectable_paired_drop(sd, 30):.3f}" in out
    assert f"change {sd:.3f}" in out and "last 3 stored days" in out


def test_plan_says_what_the_panel_lacks(database_url: str) -> None:
    """A panel without stored history, and no panel at all, each get their sentence."""
    env = {"DATABASE_URL": database_url, "JUDGE_MONITOR_SAMPLING__PANEL_SHARE": "0.2"}
    done = run_cli("plan", "--sd", "0.25", env=env)
    assert done.returncode == 0, done.stderr
    assert "no panel_ndcg_change stored yet" in " ".join(done.stdout.split())
    done = run_cli("plan", "--sd", "0.25", env={"DATABASE_URL": database_url})
    assert "no paired panel (sampling.panel_share = 0)" in " ".join(done.stdout.split())
