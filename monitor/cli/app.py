"""The typer application object and its consoles, shared by every command module."""

from __future__ import annotations

import typer
from rich.console import Console

from monitor import __version__

__all__ = ["app", "console", "err_console"]


class _Console(Console):
    """A console that wraps prose at word boundaries at a terminal, and not when piped.

    At a terminal, rich wraps each message at a space to the window's width (a soft wrap
    would leave the terminal to break it mid-word); piped into a file, a log or another
    program, each message stays on one line, whole for grep and tests. A print that
    must stay one line anyway (a command to copy) passes ``soft_wrap=True``.
    """

    @property
    def soft_wrap(self) -> bool:
        return not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, value: bool) -> None:
        del value  # decided by where the output goes, not fixed at construction


console: Console = _Console()
err_console: Console = _Console(stderr=True)

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
