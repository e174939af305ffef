"""`judge-monitor demo` with its default ensemble: simulated LLM judges the monitor sees through.

One run of the demo (16 days, the shortest with the regression on day 15 and a day after
it) and every assertion on what it stored and printed: the length-biased judge is the
one the length-bias metric flags, every day has its agreement figure, the cache makes
day 2 cheaper than day 1, the position-biased judge is the least consistent, and the
regression is still found on day 15.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine

from monitor.demo import setup as demo
from monitor.demo.judges import SIMULATED_JUDGES
from monitor.export.alerts import firing_alerts
from monitor.store.embedded import start_embedded, stop_embedded
from monitor.store.reads import figure_value, figures_between

#: the demo runs in the module's first test's setup: give it room on a busy machine
pytestmark = pytest.mark.timeout(1500)
DAYS = demo.MIN_DAYS
LLM = [j.name for j in SIMULATED_JUDGES]
JUDGES = [*LLM, "lexical"]


@dataclass
class DemoRun:
    stdout: str
    stderr: str
    returncode: int
    conn: Connection
    start: dt.date
    end: dt.date

    @property
    def regression(self) -> dt.date:
        return self.start + dt.timedelta(days=demo.REGRESSION_DAY - 1)

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(DAYS)]


@pytest.fixture(scope="module")
def run() -> Iterator[DemoRun]:
    """The demo run once, as `make demo` runs it but shorter; its database left open."""
    with tempfile.TemporaryDirectory(prefix="jm-demo-ens-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
        env["COLUMNS"] = "80"
        out = subprocess.run(
            [sys.executable, "-m", "monitor", "demo", "--data-dir", tmp, "--days", str(DAYS)],
            capture_output=True,
            text=True,
            env=env,
            timeout=1200,
        )
        folder = demo.demo_data_dir(Path(tmp))
        end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        try:
            assert out.returncode == 0, out.stderr[-3000:]
            engine = create_engine(start_embedded(folder))
            try:
                with engine.connect() as conn:
                    yield DemoRun(
                        out.stdout,
                        out.stderr,
                        out.returncode,
                        conn,
                        end - dt.timedelta(days=DAYS - 1),
                        end,
                    )
            finally:
                engine.dispose()
        finally:
            stop_embedded(folder)


def _daily(run: DemoRun, metric: str) -> dict[dt.date, dict[str, float | None]]:
    out: dict[dt.date, dict[str, float | None]] = {}
    for f in figures_between(run.conn, first=run.start, last=run.end):
        if f.metric == metric and f.segment == "all":
            out.setdefault(f.day, {})[f.judge] = f.value
    return out


def test_the_demo_says_its_llm_judges_are_simulated_and_how_to_use_a_real_one(
    run: DemoRun,
) -> None:
    """The output names the simulation plainly and shows the config block for a real judge."""
    assert "Traceback" not in run.stderr
    assert "SIMULATED" in run.stdout
    assert 'kind = "llm"' in run.stdout and "api_key_env" in run.stdout
    for name in JUDGES:
        assert name in run.stdout
    config = (Path(run.stdout.split("config: ", 1)[1].split("\n", 1)[0])).read_text()
    for j in SIMULATED_JUDGES:  # configured exactly as a user configures a real judge
        assert f'name = "{j.name}"' in config and f'model = "{j.model}"' in config
    assert config.count('kind = "llm"') == len(SIMULATED_JUDGES)
    assert "base_url = " in config and "price_input_per_mtok" in config


def test_the_length_biased_judge_is_the_one_length_bias_flags_every_day(run: DemoRun) -> None:
    """sim-verbose has the highest length_bias_rho of all judges on every day."""
    rho = _daily(run, "length_bias_rho")
    assert sorted(rho) == run.days()
    for day, by_judge in rho.items():
        valued = {j: v for j, v in by_judge.items() if v is not None}
        assert set(valued) == set(JUDGES), f"{day}: length_bias_rho missing for some judge"
        assert max(valued, key=lambda j: valued[j] or 0.0) == "sim-verbose", (day, valued)
    assert re.search(r"length bias: sim-verbose", run.stdout)


def test_every_day_has_agreement_figures(run: DemoRun) -> None:
    """Krippendorff's alpha among the judges, and every pair's kappa, exist for each day."""
    alpha = _daily(run, "krippendorff_alpha")
    kappa = _daily(run, "cohen_kappa")
    for day in run.days():
        assert alpha.get(day, {}).get("ensemble") is not None, f"no alpha on {day}"
        pairs = {k: v for k, v in kappa.get(day, {}).items() if v is not None}
        assert len(pairs) == len(JUDGES) * (len(JUDGES) - 1) // 2, (day, pairs)


def test_the_cache_makes_day_two_cheaper_than_day_one(run: DemoRun) -> None:
    """Day 2 pays for fewer LLM verdicts, and less money, than day 1; the rest is cached."""
    days = demo.judge_days(run.conn, run.start, run.end, LLM)
    first, second = days[0], days[1]
    assert first.cached == 0 and first.paid > 0
    assert second.paid < first.paid
    assert second.cached > 0
    assert 0 < second.cost_usd < first.cost_usd


def test_judge_health_shows_invalid_answers_and_the_position_biased_judge(run: DemoRun) -> None:
    """Some answers are invalid, and sim-mini is the least position-consistent judge."""
    health = {h.judge: h for h in demo.judge_health(run.conn, run.start, run.end, JUDGES)}
    assert (health["sim-mini"].invalid_rate or 0.0) > 0
    assert health["lexical"].invalid_rate == 0
    assert all(health[j].cost_usd > 0 and health[j].input_tokens > 0 for j in LLM)
    position = _daily(run, "position_consistency")[run.end]
    assert set(position) == set(LLM)
    assert min(position, key=lambda j: position[j] or 0.0) == "sim-mini"
    assert (position["sim-mini"] or 1.0) < 0.7
    assert (position["sim-large"] or 0.0) > 0.9
    assert "position bias: asked 'A or B?'" in run.stdout


def test_the_regression_is_found_on_day_15(run: DemoRun) -> None:
    """Change point and quality-drop alert on day 15, none before; clean days not 1.000."""
    days_ago = figure_value(
        run.conn, day=run.end, metric="changepoint_start_days_ago", segment="all"
    )
    assert days_ago is not None, "no change point found"
    assert abs((run.end - dt.timedelta(days=int(days_ago)) - run.regression).days) <= 1

    def drop_on(day: dt.date) -> bool:
        return any(
            f.alert == "JudgeMonitorQualityDropVsBaseline" and f.segment == "all"
            for f in firing_alerts(run.conn, day)
        )

    before = [d for d in run.days() if d < run.regression]
    assert not any(drop_on(day) for day in before)
    assert drop_on(run.regression)
    clean = [f.value for f in demo.ndcg_series(run.conn, run.start, run.end) if f.day in before]
    assert all(v is not None and 0.8 < v < 1.0 for v in clean), clean


def test_the_tables_fit_80_columns_with_whole_names(run: DemoRun) -> None:
    """Chart and table lines are at most 80 characters, and judge names are never cut."""
    table_lines = [
        line
        for line in run.stdout.splitlines()
        if re.match(r"(\d{4}-\d\d-\d\d|day |total |judge )", line)
        or any(line.startswith(name + " ") for name in JUDGES)
    ]
    assert len(table_lines) >= 2 * DAYS + len(JUDGES)
    too_wide = [line for line in table_lines if len(line) > 80]
    assert not too_wide, too_wide
    health = [line for line in table_lines if line.split(" ", 1)[0] in JUDGES]
    assert sorted({line.split(" ", 1)[0] for line in health}) == sorted(JUDGES)
