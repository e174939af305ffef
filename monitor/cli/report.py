"""``judge-monitor report``: a day's metrics against their baseline, in the terminal or HTML."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from monitor.cli.app import app, console
from monitor.cli.labels import parse_day
from monitor.config import load_settings
from monitor.report.daily import DailyReport, format_ci, format_value, load_report, render_html
from monitor.store.db import connect

__all__ = ["report"]

_STYLE = {"better": "green", "worse": "red", "same": "", "": ""}


def report_table(daily: DailyReport) -> Table:
    """The report as a rich table, one section after another."""
    table = Table(
        "metric",
        "segment",
        "judge",
        "value",
        "95% CI",
        "n",
        "baseline",
        "",
        title=f"{daily.day} vs baseline {daily.baseline_start} … {daily.baseline_end}",
    )
    section = None
    for line in daily.lines:
        if line.section != section:
            section = line.section
            table.add_section()
            table.add_row(f"[bold]{section}[/]")
        c = line.current
        if c.value is None:
            value = f"[dim]NULL ({c.reason or 'no reason stored'})[/]"
        else:
            value = format_value(c.value)
        ci = format_ci(c.ci_low, c.ci_high)
        style = _STYLE.get(line.assessment, "")
        arrow = f"[{style}]{line.arrow}[/]" if style and line.arrow else line.arrow
        baseline = format_value(line.baseline)
        table.add_row(c.label, c.segment, c.judge, value, ci, str(c.n), baseline, arrow)
    return table


@app.command("report")
def report(
    date: str = typer.Option(..., "--date", help="The day (YYYY-MM-DD)."),
    html: Path | None = typer.Option(
        None, "--html", help="Also write a self-contained HTML report to this file."
    ),
) -> None:
    """Print a day's metrics with CIs and arrows against the baseline window."""
    settings = load_settings()
    database = connect(settings)
    try:
        daily = load_report(database, day=parse_day(date), baseline_days=settings.baseline_days)
    finally:
        database.dispose()
    console.print(report_table(daily))
    if html is not None:
        html.write_text(render_html(daily), encoding="utf-8")
        console.print(f"wrote {html}")
