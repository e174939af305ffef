"""``judge-monitor baseline``: the baseline alerts compare with — show it, accept a new level.

A segment's baseline is its last ``baseline_days`` in-control days
(``monitor.export.baseline``): days a quality alert held on stay out of it, so a
regression keeps alerting until quality comes back or someone accepts the new level.
``accept`` records that acceptance (who, when, why) in ``baseline_acceptances``; from the
next scrape on, the segment's baseline is built from days on or after ``--from``.
"""

from __future__ import annotations

import datetime as dt
import getpass

import typer
from rich.markup import escape
from rich.table import Table

from monitor.cli.app import app, console
from monitor.config import load_settings
from monitor.errors import InputError
from monitor.store.db import connect

__all__ = ["baseline_app"]

baseline_app = typer.Typer(
    help="The baseline alerts compare with: show it, accept a segment's new level.",
    no_args_is_help=True,
)
app.add_typer(baseline_app, name="baseline")


def _day(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r}: not a date, want YYYY-MM-DD") from None


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without $USER): say so
        return "unknown"


@baseline_app.command("accept")
def baseline_accept(
    segment: list[str] = typer.Option(
        ..., "--segment", help="The segment (all, locale=fr, …); repeat for several."
    ),
    from_: str = typer.Option(..., "--from", help="First day of the new level (YYYY-MM-DD)."),
    by: str | None = typer.Option(None, "--by", help="Who accepts it (default: login name)."),
    why: str = typer.Option("", "--why", help="Why the new level is right (a deploy, a fix)."),
) -> None:
    """Accept a segment's quality level from a day on: its baseline restarts there."""
    from monitor.store.baselines import known_segments, record_acceptance

    day = _day("--from", from_)
    if day > dt.datetime.now(dt.UTC).date():
        raise InputError(f"--from {from_}: a day in the future cannot be accepted yet")
    who = _who(by)
    database = connect(load_settings())
    try:
        with database.engine.begin() as conn:
            known = known_segments(conn)
            unknown = [s for s in segment if s not in known]
            if unknown:
                listed = ", ".join(known) or "none yet"
                raise InputError(
                    f"--segment {', '.join(unknown)}: no figures stored for it; known: {listed}"
                )
            done = [
                record_acceptance(conn, segment=s, from_day=day, by=who, why=why) for s in segment
            ]
    finally:
        database.dispose()
    for a in done:
        reason = f": {a.why}" if a.why else ""
        console.print(
            f"accepted {escape(a.segment)} from {a.from_day} by {escape(a.by)}{escape(reason)}; "
            "its baseline is built from that day on (next scrape)",
            highlight=False,
        )


@baseline_app.command("show")
def baseline_show(
    date: str | None = typer.Option(
        None, "--date", help="The day whose baseline to show (default: the latest with figures)."
    ),
) -> None:
    """Each segment's reference days, the days left out and why, and acceptances."""
    from monitor.export.baseline import reference_for
    from monitor.store.reads import latest_metrics_day

    settings = load_settings()
    database = connect(settings)
    try:
        with database.engine.connect() as conn:
            day = _day("--date", date) if date else latest_metrics_day(conn)
            if day is None:
                raise InputError("no figures stored yet: run the daily flow first")
            reference = reference_for(conn, day=day, baseline_days=settings.baseline_days)
    finally:
        database.dispose()
    table = Table(
        "segment",
        "reference days",
        "from",
        "to",
        "left out since",
        "accepted from",
        title=f"baseline for {day} (last {settings.baseline_days} in-control days)",
    )
    for segment, days in sorted(reference.by_segment.items()):
        since = reference.excluded_since(segment)
        reason = reference.excluded.get(segment, {}).get(since) if since else None
        accepted = reference.accepted_from.get(segment)
        table.add_row(
            escape(segment),
            str(len(days)),
            str(days[0]) if days else "—",
            str(days[-1]) if days else "—",
            f"{since} ({reason})" if since else "",
            str(accepted) if accepted else "",
        )
    console.print(table)
