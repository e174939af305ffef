"""Every table the commands print fits 80 columns without cutting a name or a word."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable

import numpy as np
import pytest
import typer.main
from report_seed import DAY, seed_story
from rich.console import Console, RenderableType
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli._progress import progress_columns
from monitor.cli.app import console as app_console
from monitor.cli.calibrate import calibration_tables
from monitor.cli.compare import compare_table
from monitor.cli.run import summary_table
from monitor.labels.calibration import CalibrationReport, UnjudgedReport
from monitor.metrics.agreement import human_agreement
from monitor.metrics.estimate import Estimate
from monitor.metrics.thresholds import ThresholdFit
from monitor.pipeline.compare import CompareResult
from monitor.pipeline.steps import DayOutcome, JudgeOutcome
from monitor.report.model import load_report
from monitor.report.table import report_renderables
from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

WIDTH = 80


def render(parts: Iterable[RenderableType], width: int = WIDTH) -> str:
    """What a terminal ``width`` columns wide shows (rich wraps at spaces there)."""
    out = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    for part in parts:
        out.print(part)
    return out.export_text()


def assert_fits(text: str, names: Iterable[str]) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, f"lines wider than {WIDTH}: {too_wide[:3]}"
    assert "…" not in text, f"something was cut: {[ln for ln in text.splitlines() if '…' in ln]}"
    flat = " ".join(text.split())

    def whole(name: str) -> bool:  # on one line, or wrapped at its spaces only
        if name in text or name in flat:
            return True
        return all(re.search(rf"(?<!\S){re.escape(w)}(?!\S)", text) for w in name.split())

    missing = [name for name in names if not whole(name)]
    assert not missing, f"names cut or missing at {WIDTH} columns: {missing}\n{text}"


def test_report_fits_80_columns_with_every_name_whole(database: Database) -> None:
    """report's summary, alerts, segments and figures: each name whole at 80 columns."""
    seed_story(database)
    with database.engine.begin() as conn:  # the longest names a demo shows
        upsert_daily_metrics(
            conn,
            day=DAY,
            rows=[
                ("position_consistency", "all", "sim-verbose", 0, 0.98, 0.97, 0.99, 1180, None),
                ("changepoint_start_days_ago", "all", "ensemble", 10, 0.0, None, None, 14, None),
                ("grade_chi2_pvalue", "all", "sim-verbose", 0, 1.7e-30, None, None, 1180, None),
                ("invalid_rate", "all", "sim-verbose", 0, 0.003, 0.000847, 0.007, 12345, None),
                ("length_bias_rho", "all", "sim-verbose", 0, -0.107, -0.167, -0.047, 1180, None),
            ],
        )
    report = load_report(database, day=DAY, baseline_days=7)
    text = render(report_renderables(report))
    names = {ln.current.label for ln in report.lines}
    names |= {ln.current.segment for ln in report.lines} | {"invalid_rate (b)", "cohen_kappa (a~b)"}
    names |= {a.alert.removeprefix("JudgeMonitor") for a in report.alerts}
    names |= {"ndcg@3", "ndcg@10", "quality · locale=fr", "[0.120, 0.240]", "1.7e-30"}
    names |= {"position_consistency (sim-verbose)", "changepoint_start_days_ago@10"}
    assert_fits(text, names)
    assert "no value: human_kappa (a): no human labels of the day" in " ".join(text.split())
    arrows = sum(text.count(a) for a in "↑↓→")
    assert arrows == sum(bool(ln.arrow) for ln in report.lines), "an arrow was cropped"


def _outcome(day: dt.date, status: str, seconds: float) -> DayOutcome:
    counts = {"sampled": 120, "judged": 1150, "cached": 12_345, "invalid": 3, "bad_rows": 1}
    return DayOutcome(day, 1, status, counts, 12.3456, seconds)


def test_run_table_fits_80_columns() -> None:
    """The runs table of demo, run and backfill: every header and figure whole."""
    days = [dt.date(2026, 11, 10) + dt.timedelta(days=i) for i in range(3)]
    outcomes = [
        _outcome(days[0], "completed", 1234.5),
        _outcome(days[1], "failed", 7.9),
        _outcome(days[2], "completed", 20.3),
    ]
    table = summary_table(outcomes)
    text = render([table])
    headers = ["date", "status", "sampled", "paid", "cached", "invalid", "bad", "cost $", "seconds"]
    assert_fits(text, [*headers, *(d.isoformat() for d in days), "1234.5", "12,345", "12.3456"])


def _estimate(value: float) -> Estimate:
    return Estimate(value, value - 0.05, value + 0.05, 120)


def test_compare_table_fits_80_columns() -> None:
    """compare's figures with long ranker names: names and CIs whole."""
    a, b = "production", "rankers-experimental-dense-v2"
    result = CompareResult(
        name_a=a,
        name_b=b,
        day=DAY,
        queries=120,
        missing_in_b=4,
        wins=60,
        ties=20,
        losses=40,
        win_rate=_estimate(0.6),
        ndcg_a=_estimate(0.71),
        ndcg_b=_estimate(0.66),
        ndcg_diff=_estimate(0.05),
        pairwise_source="pointwise",
        inconsistent=3,
        judged=JudgeOutcome(tallies={}, verdicts_stored=0, items=0),
    )
    text = render([compare_table(result, a=a, b=b, day=DAY)])
    assert_fits(
        text, [a, b, f"nDCG@10 {a} − {b}", "0.050  [0.000, 0.100]", "position-inconsistent"]
    )


def test_calibration_tables_fit_80_columns() -> None:
    """calibrate's agreement, confusion and ranker tables with four judges' names whole."""
    rng = np.random.default_rng(0)
    human = rng.integers(0, 4, 200)
    judges = ["semantic", "lexical", "gpt-4o-mini-2024", "llama3.1-8b-instruct"]
    agreement = {
        j: human_agreement(np.clip(human + rng.integers(-1, 2, 200), 0, 3), human, n_boot=20)
        for j in judges
    }
    rankers = ["bm25", "tasb", "splade-pp-ed-long-name"]
    report = CalibrationReport(
        agreement=agreement,
        human_ndcg={r: 0.5 + 0.1 * i for i, r in enumerate(rankers)},
        judge_ndcg={j: {r: 0.4 + 0.1 * i for i, r in enumerate(rankers)} for j in judges},
        ranker_tau={j: 0.333 for j in judges},
        unjudged=UnjudgedReport(shown={r: 430 for r in rankers}, unjudged={r: 12 for r in rankers}),
        n_pairs=200,
    )
    fits = {"semantic": ThresholdFit((0.35, 0.6, 0.72), 0.41, 0.45, 200)}
    text = render(calibration_tables(report, fits, 10))
    assert_fits(
        text,
        [*judges, *rankers, "quadratic kappa", "cross-validated kappa", "unjudged in top 10"],
    )


def test_progress_bars_keep_the_activity_name_whole() -> None:
    """A long activity name is shown whole at 80 columns; the bar gives way."""
    from rich.progress import Progress

    out = Console(width=WIDTH, record=True, file=io.StringIO(), color_system=None)
    bars = Progress(*progress_columns(), console=out, auto_refresh=False)
    name = "judging llama3.1-8b-instruct (pointwise)"
    bars.add_task(name, total=12_000, completed=5_000)
    out.print(bars.make_tasks_table(bars.tasks))
    text = out.export_text()
    assert_fits(text, [name, "5000/12000"])


def test_prose_wraps_at_spaces_at_a_terminal_and_stays_whole_when_piped() -> None:
    """A long warning: at a terminal broken at spaces only; piped, one line."""
    sentence = (
        "The demo judges with a lexical judge (word overlap): not for judging real "
        "search quality, as TREC DL19 shows"
    )
    words = sentence.split(" ")
    terminal = type(app_console)(
        width=30, force_terminal=True, record=True, file=io.StringIO(), color_system=None
    )
    terminal.print(sentence)
    lines = terminal.export_text().splitlines()
    assert len(lines) > 1 and all(len(line) <= 30 for line in lines)
    assert [w for line in lines for w in line.split()] == words  # no word split
    piped = io.StringIO()
    type(app_console)(width=30, file=piped).print(sentence)
    assert piped.getvalue() == sentence + "\n"


def _options_with_brackets() -> list[tuple[str, str]]:
    """(command, help text as written) for every option whose help holds a bracket."""
    group = typer.main.get_command(app)
    found = []

    def walk(prefix: str, command: object) -> None:
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(f"{prefix} {name}".strip(), sub)
        for param in getattr(command, "params", []):
            text = getattr(param, "help", None) or ""
            if "[" in text:
                found.append((prefix, text))

    walk("", group)
    return found


BRACKETED = _options_with_brackets()


def test_some_help_holds_literal_brackets() -> None:
    """The check below has something to check: [source] and [rankers.NAME] are there."""
    written = " ".join(text.replace("\\[", "[") for _, text in BRACKETED)
    assert "[source]" in written and "[rankers.NAME]" in written


@pytest.mark.parametrize(("command", "help_text"), BRACKETED, ids=[c for c, _ in BRACKETED])
def test_help_shows_literal_brackets(command: str, help_text: str) -> None:
    """--help prints a bracketed name as written, not swallowed as rich markup."""
    result = CliRunner().invoke(app, [*command.split(), "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    shown = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    for bracketed in re.findall(r"\[[^\]]+\]", help_text.replace("\\[", "[")):
        assert bracketed in shown, f"{command} --help lost {bracketed}:\n{result.output}"
