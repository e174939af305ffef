"""Where long work reports its progress: a rich progress bar when the CLI sets one.

Flows and steps call ``report(...)``; without a reporter installed (a worker, a test)
it does nothing. A context variable rather than a parameter, because Prefect stores a
flow's parameters and a callback is not data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Reporter", "judge_progress", "report", "reporting"]

#: (task description, done, total)
Reporter = Callable[[str, int, int], None]

_reporter: ContextVar[Reporter | None] = ContextVar("judge_monitor_reporter", default=None)


def report(what: str, done: int, total: int) -> None:
    reporter = _reporter.get()
    if reporter is not None:
        reporter(what, done, total)


def judge_progress(judge: str, done: int, total: int) -> None:
    """The judging step's progress callback, routed to the installed reporter."""
    report(f"judging ({judge})", done, total)


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
