"""A demo-like history for the baseline and alert tests: a regression from day 15, fixed later.

Three segments over ``days`` days from ``FIRST``: ``all`` (nDCG@10 about 0.90), ``locale=fr``
(about 0.88) and ``locale=de`` (about 0.91), each with a 95% CI of ±0.02. From day 15 to
the day before ``fixed_on`` (1-based; None: never fixed) the French segment drops to
0.40, which takes ``all`` to 0.80; the CUSUM on ``all`` is stored as the metrics step
would store it (above 5 from day 15, the shift dated back to day 15). Values wobble by a
deterministic ±0.01 so no two days are equal.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from monitor.store.repository import finish_run, start_run, upsert_daily_metrics

FIRST = dt.date(2025, 3, 1)
REGRESSION_DAY = 15
NORMAL = {"all": 0.90, "locale=fr": 0.88, "locale=de": 0.91}
REGRESSED = {"all": 0.80, "locale=fr": 0.40, "locale=de": 0.91}


def day_of(n: int) -> dt.date:
    """The date of day ``n`` (1-based)."""
    return FIRST + dt.timedelta(days=n - 1)


def regressed(n: int, fixed_on: int | None) -> bool:
    return n >= REGRESSION_DAY and (fixed_on is None or n < fixed_on)


def ndcg(segment: str, n: int, fixed_on: int | None) -> float:
    level = (REGRESSED if regressed(n, fixed_on) else NORMAL)[segment]
    return round(level + 0.01 * ((n * 7) % 3 - 1), 4)


Row = tuple[str, str, str, int, float | None, float | None, float | None, int, str | None]


def rows_of(n: int, fixed_on: int | None) -> list[Row]:
    rows: list[Row] = []
    for segment in NORMAL:
        value = ndcg(segment, n, fixed_on)
        rows.append(("ndcg", segment, "ensemble", 10, value, value - 0.02, value + 0.02, 120, None))
        rows.append(("precision", segment, "ensemble", 10, value - 0.1, None, None, 120, None))
    days_in = n - REGRESSION_DAY
    cusum = 8.0 + 10 * days_in if regressed(n, fixed_on) else 0.5
    rows.append(("changepoint_cusum", "all", "ensemble", 10, cusum, None, None, n, None))
    start = float(days_in) if regressed(n, fixed_on) else None
    reason = None if start is not None else "no alarm"
    rows.append(("changepoint_start_days_ago", "all", "ensemble", 10, start, None, None, n, reason))
    rows.append(("cost_usd", "all", "llm", 0, 1.0, None, None, 120, None))
    return rows


def seed_days(engine: Engine, last: int, *, fixed_on: int | None = None, first: int = 1) -> None:
    """Store days ``first`` to ``last`` of the scenario, each with a completed daily run."""
    with engine.begin() as conn:
        for n in range(first, last + 1):
            upsert_daily_metrics(conn, day=day_of(n), rows=rows_of(n, fixed_on))
            run_id = start_run(conn, flow="daily", run_date=day_of(n), config_hash="cfg")
            finish_run(
                conn, run_id=run_id, status="completed", counts={}, cost_usd=1.0, duration_s=60.0
            )
