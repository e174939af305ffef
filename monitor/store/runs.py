"""Reading the ``runs`` table: what has been done, for resuming and for summaries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from monitor.store.db import Database

__all__ = ["completed_days"]


def completed_days(database: Database, *, flow: str, config_hash: str) -> set[dt.date]:
    """Days whose run of ``flow`` completed under this configuration."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT run_date FROM runs WHERE flow = :f AND status = 'completed' "
                "AND config_hash = :h"
            ),
            {"f": flow, "h": config_hash},
        )
        return {r.run_date for r in rows}
