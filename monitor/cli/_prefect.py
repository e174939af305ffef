"""Keep Prefect quiet in a terminal: our own progress and summaries, not its logs.

Without a Prefect server (``PREFECT_API_URL`` unset) Prefect starts a temporary local
one for each command; its start-up, telemetry and shutdown messages are noise for
someone running ``judge-monitor run``. Variables already set by the user win.
"""

from __future__ import annotations

import logging
import os

__all__ = ["quiet_prefect"]

_DEFAULTS = {
    "PREFECT_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    "PREFECT_UI_ENABLED": "false",
}


def quiet_prefect(verbose: bool = False) -> None:
    """Set Prefect's logging defaults before Prefect is imported."""
    if verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
        return
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)
    for name in ("prefect", "httpx", "uvicorn", "alembic", "bm25s"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
