"""The reads of a query's own history: which queries were seen before, and the lists
each of the day's queries was shown on its recent days (the paired panel, and CUPED).

The sampler's panel (``monitor.sampling_panel``) may only hold queries seen on earlier
days, so that each has days of its own to be compared with: ``seen_queries`` is the
set of production samples' queries stored in a window before the day. The paired
statistic (``monitor.metrics.paired``) compares each of the day's panel samples with
the same query's judged lists on the days before: ``panel_lists`` reads the ensemble
grades, in rank order, of every production sample of the day's panel queries in the
window and on the day itself. Only production's samples count (``PRODUCTION_SAMPLES``),
as for the pooled ideal. CUPED (``monitor.metrics.cuped``) needs the same history for
every one of the day's samples: ``past_lists``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from monitor.store.models import PRODUCTION_SAMPLES

__all__ = ["panel_lists", "past_lists", "seen_queries"]


def seen_queries(conn: Connection, *, day: dt.date, days: int) -> set[str]:
    """Which normalized queries have a production sample stored in the ``days`` days
    before ``day`` (not on ``day`` itself)?"""
    rows = conn.execute(
        text(
            "SELECT DISTINCT query_norm FROM samples "
            f"WHERE sample_date >= :a AND sample_date < :d AND {PRODUCTION_SAMPLES}"
        ),
        {"a": day - dt.timedelta(days=days), "d": day},
    ).scalars()
    return {str(q) for q in rows}


def panel_lists(
    conn: Connection, *, day: dt.date, days: int, stratum: str
) -> list[tuple[int, str, dt.date, float, list[float | None]]]:
    """How were the day's panel queries (production samples of ``stratum`` on ``day``)
    graded on ``day`` and on the ``days`` days before? (sample id, query_norm, date,
    the sample's weight, ensemble grades in rank order, None for an ungraded result) per
    production sample of those queries with any ensemble row (a panel query's day may
    hold several lists: ``samples.list_no``), oldest first."""
    rows = conn.execute(
        text(
            "WITH panel AS (SELECT DISTINCT query_norm FROM samples "
            f"WHERE sample_date = :d AND stratum = :s AND {PRODUCTION_SAMPLES}) "
            "SELECT s.id, s.query_norm, s.sample_date, s.weight, "
            "array_agg(e.grade ORDER BY e.position) AS grades FROM samples s "
            "JOIN ensemble_grades e ON e.sample_id = s.id AND e.sample_date = s.sample_date "
            "WHERE s.sample_date BETWEEN :a AND :d "
            f"AND s.{PRODUCTION_SAMPLES} "
            "AND s.query_norm IN (SELECT query_norm FROM panel) "
            "GROUP BY s.id, s.query_norm, s.sample_date, s.weight "
            "ORDER BY s.sample_date, s.id"
        ),
        {"d": day, "a": day - dt.timedelta(days=days), "s": stratum},
    ).all()
    return [
        (int(i), str(q), d, float(w), [None if g is None else float(g) for g in grades])
        for i, q, d, w, grades in rows
    ]


def past_lists(
    conn: Connection, *, day: dt.date, days: int
) -> list[tuple[int, dt.date, float, list[float | None]]]:
    """How was each of ``day``'s production samples' query graded on the ``days`` days
    before? (the day's sample id, the earlier sample's date and weight, its ensemble
    grades in rank order, None for an ungraded result) per earlier production sample of
    its query (a panel query's day may hold several lists), oldest first; a sample whose
    query has no earlier graded sample has no row."""
    rows = conn.execute(
        text(
            "WITH today AS (SELECT id, query_norm FROM samples "
            f"WHERE sample_date = :d AND {PRODUCTION_SAMPLES}) "
            "SELECT t.id, s.sample_date, s.weight, "
            "array_agg(e.grade ORDER BY e.position) AS grades FROM today t "
            "JOIN samples s ON s.query_norm = t.query_norm "
            "JOIN ensemble_grades e ON e.sample_id = s.id AND e.sample_date = s.sample_date "
            "WHERE s.sample_date >= :a AND s.sample_date < :d "
            f"AND s.{PRODUCTION_SAMPLES} "
            "GROUP BY t.id, s.id, s.sample_date, s.weight ORDER BY s.sample_date, t.id"
        ),
        {"d": day, "a": day - dt.timedelta(days=days)},
    ).all()
    return [
        (int(i), d, float(w), [None if g is None else float(g) for g in grades])
        for i, d, w, grades in rows
    ]
