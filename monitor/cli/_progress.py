"""A rich progress display fed by ``monitor.progress`` reports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from monitor.cli.app import console
from monitor.progress import reporting

__all__ = ["progress_display"]


@contextmanager
def progress_display(enabled: bool = True) -> Iterator[None]:
    """Show one bar per reported activity (days, sampling, judging per judge, metrics)."""
    if not enabled:
        yield
        return
    bars = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = bars.add_task(what, total=total)
        bars.update(tasks[what], completed=done, total=total)

    with bars, reporting(update):
        yield
