"""``judge-monitor dashboards sync``: push the Grafana dashboards into an existing Grafana."""

from __future__ import annotations

import typer

from monitor.cli.app import app, console
from monitor.export.dashboards_sync import sync_dashboards, token_from_env

__all__ = ["dashboards_app"]

dashboards_app = typer.Typer(
    help="Grafana dashboards: push them into an existing Grafana.", no_args_is_help=True
)
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("sync")
def dashboards_sync(
    url: str = typer.Option(
        ..., "--url", help="Grafana base URL, e.g. https://grafana.example.com"
    ),
    token_env: str = typer.Option(
        "GRAFANA_TOKEN",
        "--token-env",
        help="Name of the environment variable holding a Grafana service-account token.",
    ),
    folder: str = typer.Option("judge-monitor", "--folder", help="Grafana folder title."),
) -> None:
    """Create the folder if missing and create or update every dashboard (uid-stable)."""
    report = sync_dashboards(url=url, token=token_from_env(token_env), folder=folder)
    state = "created" if report.folder_created else "exists"
    console.print(f"folder {report.folder_title!r} (uid {report.folder_uid}): {state}")
    for dashboard in report.dashboards:
        version = f" v{dashboard.version}" if dashboard.version is not None else ""
        console.print(f"synced {dashboard.uid}{version}: {dashboard.title}  {dashboard.url or ''}")
