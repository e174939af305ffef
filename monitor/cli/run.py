"""``judge-monitor run`` and ``backfill``: the daily flow for a day or a range."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from monitor.cli._prefect import quiet_prefect
from monitor.cli._prefect_server import detach_temporary_server
from monitor.cli._progress import progress_display
from monitor.cli.app import app, console
from monitor.errors import InputError

if TYPE_CHECKING:  # the pipeline imports the judges and statistics: load them lazily
    from monitor.pipeline.steps import DayOutcome

__all__ = [
    "backfill_command",
    "parse_date",
    "past_day",
    "preflight",
    "run_command",
    "summary_table",
]


def parse_date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date (expected YYYY-MM-DD)") from None


def past_day(value: str | None, name: str = "--date") -> dt.date:
    """The day a command works on: the option's date, or yesterday; never a day not ended."""
    from monitor.pipeline.steps import check_day, yesterday

    return check_day(parse_date(value, name) or yesterday())


def preflight() -> None:
    """Fail fast, before Prefect starts: bad settings, missing keys, database problems."""
    from monitor.config import load_settings
    from monitor.judges.factory import build_ensemble
    from monitor.store.db import connect
    from monitor.store.migrate import upgrade

    settings = load_settings()
    build_ensemble(settings.judges)
    database = connect(settings)
    try:
        upgrade(database.engine, database.url)
    finally:
        database.dispose()


def summary_table(outcomes: Sequence[DayOutcome]) -> Table:
    """One line per day run; fits 80 columns (no vertical rules, two spaces between)."""
    from monitor.report.table import compact_table

    table = compact_table(title="runs")
    for column in ("date", "status", "sampled", "paid", "cached", "invalid", "bad", "cost $"):
        table.add_column(
            column, justify="left" if column in ("date", "status") else "right", no_wrap=True
        )
    table.add_column("seconds", justify="right", no_wrap=True)
    for o in outcomes:
        c = o.counts
        table.add_row(
            o.day.isoformat(),
            o.status,
            f"{c.get('sampled', 0):,}",
            f"{c.get('judged', 0):,}",
            f"{c.get('cached', 0):,}",
            f"{c.get('invalid', 0):,}",
            f"{c.get('bad_rows', 0):,}",
            f"{o.cost_usd:.4f}",
            f"{o.duration_s:.1f}",
        )
    return table


def _notes(outcomes: Sequence[DayOutcome]) -> None:
    """A line under the table for each run that took its day over from a dead one."""
    for o in outcomes:
        took_over = o.counts.get("took_over")
        if took_over:
            console.print(f"note: {took_over}; judged the day again", highlight=False)


@app.command("run")
def run_command(
    date: str | None = typer.Option(None, "--date", help="Day to judge (default: yesterday, UTC)."),
    verbose: bool = typer.Option(False, "--verbose", help="Show Prefect's logs."),
) -> None:
    """Run the daily flow for one day: sample, judge, store, compute metrics."""
    quiet_prefect(verbose)
    detach_temporary_server()
    from flows.daily import daily

    day = past_day(date)
    preflight()
    with progress_display():
        outcome = daily(day=day)
    console.print(summary_table([outcome]))
    _notes([outcome])
    from monitor.cli.report import print_day_summary

    print_day_summary(day)


@app.command("backfill")
def backfill_command(
    start: str = typer.Option(..., "--start", help="First day (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--end", help="Last day, inclusive (YYYY-MM-DD)."),
    force: bool = typer.Option(False, "--force", help="Rerun days already completed."),
    verbose: bool = typer.Option(False, "--verbose", help="Show Prefect's logs."),
) -> None:
    """Run the daily flow for every day of a range; completed days are skipped (resumable)."""
    quiet_prefect(verbose)
    detach_temporary_server()
    from flows.backfill import backfill
    from monitor.pipeline.steps import check_day, days_between

    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    assert first is not None and last is not None
    days_between(first, last)  # refuse a reversed range before starting anything
    check_day(last)
    preflight()
    with progress_display():
        outcomes = backfill(start=first, end=last, force=force)
    if outcomes:
        console.print(summary_table(outcomes))
        _notes(outcomes)
    else:
        console.print(f"every day from {first} to {last} is already completed (use --force)")
