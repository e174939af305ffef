"""Prefect's logging for our commands: the runs' logs always reach the Prefect API.

The flows log their progress with ``get_run_logger()``; Prefect sends those lines to the
API (the run's logs in the UI) when its loggers are at INFO. What differs by command is
the terminal:

* ``run``, ``backfill``, ``demo``, ``compare``, ``calibrate`` show their own progress and
  summaries, so Prefect prints nothing there (its console handler at CRITICAL) unless
  ``--verbose``. Without a Prefect server (``PREFECT_API_URL`` unset) Prefect starts a
  temporary local one for each command; its start-up, telemetry and shutdown messages
  are noise for someone running ``judge-monitor run``.
* ``serve`` is a long-running Prefect process: its logs are shown at INFO, as Prefect
  users expect; ``--quiet`` keeps the terminal to warnings.

Variables already set by the user win.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["quiet_prefect", "serve_prefect_logging"]

#: Prefect's loggers (and so the API handler) at INFO: what the runs' logs get.
_LOGGERS = {"PREFECT_LOGGING_LEVEL": "INFO"}
#: The terminal quiet: Prefect's console handler prints nothing below CRITICAL.
_CONSOLE_LEVEL = "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"
_QUIET_TERMINAL = {
    _CONSOLE_LEVEL: "CRITICAL",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "PREFECT_UI_ENABLED": "false",
}


def quiet_prefect(verbose: bool = False) -> None:
    """A terminal command's Prefect logging, set before Prefect is imported: nothing
    printed (unless ``verbose``), every run log line still sent to the API."""
    _set_defaults(_LOGGERS)
    if verbose:
        return
    _set_defaults(_QUIET_TERMINAL)
    for name in ("httpx", "uvicorn", "alembic", "bm25s"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    _console_handlers_as_set()


def serve_prefect_logging(quiet: bool = False) -> None:
    """``serve``'s Prefect logging: INFO in the terminal and the API; ``quiet`` keeps the
    terminal to warnings (the runs' logs still reach the API at INFO)."""
    _set_defaults(_LOGGERS)
    if quiet:
        _set_defaults({_CONSOLE_LEVEL: "WARNING"})
        _console_handlers_as_set()


def _set_defaults(values: dict[str, str]) -> None:
    for key, value in values.items():
        os.environ.setdefault(key, value)


def _console_handlers_as_set() -> None:
    """When Prefect's logging is already set up in this process (imported earlier), the
    variables come too late for it: give its console handlers their level directly."""
    if "prefect.logging.handlers" not in sys.modules:
        return
    from prefect.logging.handlers import PrefectConsoleHandler

    level = os.environ[_CONSOLE_LEVEL].upper()
    for name in ("", "uvicorn", "fastapi"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, PrefectConsoleHandler):
                try:
                    handler.setLevel(level)
                except ValueError:  # not a level name: Prefect's own set-up decides
                    return
