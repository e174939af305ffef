"""A rich progress display fed by ``monitor.progress`` reports."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column

from monitor.cli.app import console
from monitor.progress import reporting

__all__ = ["progress_columns", "progress_display"]


def progress_columns() -> tuple[ProgressColumn, ...]:
    """The activity's name whole (never cut), a bar taking the room left, counts, time.

    At 80 columns a name of up to 40 characters leaves the bar 10; the bar shrinks, the
    name does not.
    """
    return (
        TextColumn("{task.description}", table_column=Column(no_wrap=True, min_width=20)),
        BarColumn(bar_width=None),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
    )


@contextmanager
def progress_display(enabled: bool = True) -> Iterator[None]:
    """Show one bar per reported activity (days, sampling, judging per judge, metrics)."""
    if not enabled:
        yield
        return
    bars = Progress(*progress_columns(), console=console, transient=True)
    tasks: dict[str, TaskID] = {}

    def update(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = bars.add_task(what, total=total)
        bars.update(tasks[what], completed=done, total=total)

    with bars, reporting(update):
        yield
