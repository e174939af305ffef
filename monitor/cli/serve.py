"""``judge-monitor serve``: serve the flows, the daily one on its cron schedule."""

from __future__ import annotations

import os

import typer

from monitor.cli._prefect import quiet_prefect
from monitor.cli.app import app, console
from monitor.errors import ConfigError

__all__ = ["serve_command"]


@app.command("serve")
def serve_command(
    verbose: bool = typer.Option(False, "--verbose", help="Show Prefect's logs."),
) -> None:
    """Serve the daily, backfill, calibrate and compare deployments (needs PREFECT_API_URL)."""
    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigError(
            "serve needs a Prefect API: set PREFECT_API_URL (a Prefect server, e.g. "
            "http://localhost:4200/api, or Prefect Cloud); `judge-monitor run` works without one"
        )
    quiet_prefect(verbose)
    from prefect import serve

    from flows.serve import check_serving_source, deployments, ensure_endpoint_limits
    from monitor.cli.run import preflight
    from monitor.config import load_settings

    settings = load_settings()
    check_serving_source(settings)  # before preflight, which starts or migrates a database
    preflight()
    created = ensure_endpoint_limits(settings)
    for name in created:
        console.print(f"created concurrency limit {name}")
    console.print(
        f"serving daily ({settings.schedule_cron} {settings.schedule_timezone}), backfill, "
        "calibrate, compare; Ctrl-C to stop"
    )
    serve(*deployments(settings), print_starting_message=False)
