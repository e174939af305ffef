"""``judge-monitor serve``: serve the flows, the daily one on its cron schedule."""

from __future__ import annotations

import asyncio
import os

import typer

from monitor.cli._prefect import serve_prefect_logging
from monitor.cli.app import app, console
from monitor.errors import ConfigError

__all__ = ["serve_command"]


@app.command("serve")
def serve_command(
    quiet: bool = typer.Option(
        False,
        "--quiet",
        help="Show only Prefect's warnings here (the runs' logs still reach the API).",
    ),
    setup_only: bool = typer.Option(
        False,
        "--setup-only",
        help=(
            "Create the endpoint concurrency limits and set the daily deployment's schedule, "
            "then exit: for deployments made with `prefect deploy --all`."
        ),
    ),
) -> None:
    """Serve the daily, backfill, calibrate and compare deployments (needs PREFECT_API_URL)."""
    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigError(
            "serve needs a Prefect API: set PREFECT_API_URL (a Prefect server, e.g. "
            "http://localhost:4200/api, or Prefect Cloud); `judge-monitor run` works without one"
        )
    serve_prefect_logging(quiet)
    from flows.serve import (
        apply_daily_schedule,
        check_serving_source,
        daily_schedule,
        ensure_endpoint_limits,
        serve_runner,
    )
    from monitor.cli.run import preflight
    from monitor.config import load_settings

    settings = load_settings()
    check_serving_source(settings)  # before preflight, which starts or migrates a database
    daily_schedule(settings)  # a bad cron or timezone refused before anything starts
    preflight()
    created = ensure_endpoint_limits(settings)
    for name in created:
        console.print(f"created concurrency limit {name}")
    schedule = f"{settings.schedule_cron} {settings.schedule_timezone}"
    if setup_only:
        changed = apply_daily_schedule(settings)
        console.print(
            f"daily deployment {'scheduled' if changed else 'already scheduled'}: {schedule}"
        )
        return
    runner = serve_runner(settings)
    console.print(f"serving daily ({schedule}), backfill, calibrate, compare; Ctrl-C to stop")
    from prefect.exceptions import TerminationSignal

    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal):
        console.print("stopped serving")
