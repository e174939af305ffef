"""``judge-monitor report``: a day's figures against their baseline, for people and scripts.

In the terminal: what changed in a few sentences, the alerts that fire, the segments
ranked by their nDCG drop, then every figure. ``--html`` writes the self-contained page,
``--json`` prints the same content as data, ``--fail-on-alert`` exits 2 when a
page-severity alert fires (for a CI job or a cron wrapper).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from monitor.cli.app import app, console
from monitor.cli.labels import parse_day
from monitor.config import load_settings
from monitor.errors import InputError
from monitor.store.db import connect

__all__ = ["ALERT_EXIT_CODE", "print_day_summary", "report"]

#: The exit code of ``--fail-on-alert`` when a page alert fires (1 is an error).
ALERT_EXIT_CODE = 2


def print_day_summary(day: dt.date) -> None:
    """What ``run`` ends with: the day's headline figures against their baseline, and the
    alerts that fire (one line when the day has no figures, e.g. its run failed)."""
    from monitor.report.model import load_report
    from monitor.report.table import alerts_table, headline_table

    settings = load_settings()
    database = connect(settings)
    try:
        daily = load_report(database, day=day, baseline_days=settings.baseline_days, worst=0)
    except InputError as exc:
        console.print(f"no figures to show: {exc}", highlight=False, markup=False)
        return
    finally:
        database.dispose()
    console.print(headline_table(daily))
    if daily.alerts:
        console.print(alerts_table(daily.alerts))
    else:
        console.print("no alert fires on this day's figures", highlight=False)
    console.print(
        f"the whole report: judge-monitor report --date {day} --html report-{day}.html",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@app.command("report")
def report(
    date: str | None = typer.Option(
        None, "--date", help="The day (YYYY-MM-DD; default: the latest day with figures)."
    ),
    html: Path | None = typer.Option(
        None, "--html", help="Also write the self-contained HTML report to this file."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the report as JSON (the same content) instead of tables."
    ),
    segment: str | None = typer.Option(
        None, "--segment", help="Only this segment, e.g. locale=fr (and all traffic's judges)."
    ),
    fail_on_alert: bool = typer.Option(
        False, "--fail-on-alert", help="Exit with code 2 when a page-severity alert fires."
    ),
) -> None:
    """What changed on a day: alerts, segments by drop, every figure against its baseline."""
    from monitor.report.data import as_json as report_json
    from monitor.report.html import render_html
    from monitor.report.model import load_report
    from monitor.report.table import report_renderables

    settings = load_settings()
    day = parse_day(date) if date is not None else None
    database = connect(settings)
    try:
        daily = load_report(
            database, day=day, baseline_days=settings.baseline_days, segment=segment
        )
    finally:
        database.dispose()
    if html is not None:
        html.write_text(render_html(daily), encoding="utf-8")
    if as_json:
        print(json.dumps(report_json(daily), indent=2, ensure_ascii=False))
    else:
        for part in report_renderables(daily):
            console.print(part)
            console.print()
        if html is not None:
            console.print(f"wrote {html}", highlight=False, markup=False)
    if fail_on_alert and daily.page_alerts:
        raise typer.Exit(ALERT_EXIT_CODE)
