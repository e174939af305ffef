"""What a stored panel day showed: the (query, result) pairs its samples hold."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from monitor.store.db import Database


def day_pairs(database: Database, day: dt.date) -> dict[tuple[str, str], str]:
    """The day's (query, result id) pairs, with the stratum of their sample."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT query_norm, stratum, r->>'id' FROM samples, "
                "jsonb_array_elements(results) AS r WHERE sample_date = :d"
            ),
            {"d": day},
        )
        return {(str(q), str(r)): str(s) for q, s, r in rows}
