"""The typer application object and its consoles, shared by every command module."""

from __future__ import annotations

import typer
from rich.console import Console

from monitor import __version__

__all__ = ["app", "console", "err_console"]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    name="judge-monitor",
    help=(
        "Daily LLM-judge monitoring of a production search system: sample what search "
        "returned, grade it with a judge ensemble, store every verdict in PostgreSQL, and "
        "export quality, judge-health and drift metrics to Prometheus and Grafana."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"judge-monitor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", help="Show the full traceback of a failure (any command)."
    ),
) -> None:
    """Configuration comes from JUDGE_MONITOR_* variables and ./judge-monitor.toml."""
