"""The judgment pool: every grade ever stored for the queries of a day; and each
stratum's stored grades, for the Neyman allocation of the sample.

The daily nDCG's ideal ranking is built, as TREC pooling does, from every result judged
for the query on any day up to the one computed: the ensemble's grade of each distinct
(normalized query, result id), averaged over every sample that showed it (every day,
every production ranker, every judge generation the ensemble combined). Pooled up to
the day and not beyond, so that a day's figure is what the daily run saw and what a
rerun or backfill recomputes, however many days were stored after it.

Only production's samples make the pool (``PRODUCTION_SAMPLES``): a compare run that
found better results for a query would otherwise lower production's nDCG from the next
day on without production having changed, and fire a quality alert. ``include_compare``
pools the compare flow's rankings too, for an offline look at absolute quality.

One read per day, for that day's queries only. When every stored day up to the day is
folded into the kept pool (``monitor.store.pool``, folded by the metrics step), from it,
less what the folded days after the day added (``pool_days``, by
``ix_pool_days_query_norm``; nothing in the daily case, where the day is the newest
folded; the earlier days of a label window, ``plan --labels``, a day recomputed after
later ones): one row per result ever judged for each query plus the later days' part,
flat in the history. Otherwise (a stored day up to this one not folded yet, or the
compare flow's pool) from the ensemble grades: ``ix_samples_query_norm`` finds the
queries' samples on every day, their grades are found by the sample's id and date.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from monitor.store.models import PRODUCTION_SAMPLES
from monitor.store.pool import serves_as_of

__all__ = ["pooled_grades", "stratum_grades"]


def pooled_grades(
    conn: Connection, *, day: dt.date, include_compare: bool = False
) -> dict[int, tuple[float, ...]]:
    """Which grades has each of ``day``'s production samples' queries ever earned? By
    sample id: one grade per distinct result judged for the sample's query on any day up
    to ``day`` (the mean ensemble grade of that result), in no particular order. A
    sample whose query has no graded result is left out."""
    # the kept pool less what the folded days after this one added (in the daily case
    # none: the day is the newest folded, and the ``later`` part is empty)
    if not include_compare and serves_as_of(conn, day=day):
        rows = conn.execute(
            text(
                "WITH today AS (SELECT id, query_norm FROM samples "
                f"WHERE sample_date = :d AND {PRODUCTION_SAMPLES}), "
                "later AS (SELECT query_norm, result_id, sum(grade_sum) AS grade_sum, "
                "sum(n) AS n FROM pool_days WHERE sample_date > :d "
                "AND query_norm IN (SELECT query_norm FROM today) GROUP BY query_norm, result_id), "
                "pool AS (SELECT q.query_norm, "
                "q.grade_sum - coalesce(l.grade_sum, 0) AS grade_sum, "
                "q.n - coalesce(l.n, 0) AS n FROM query_pool q LEFT JOIN later l "
                "ON l.query_norm = q.query_norm AND l.result_id = q.result_id "
                "WHERE q.query_norm IN (SELECT query_norm FROM today)) "
                "SELECT t.id, array_agg(pool.grade_sum / pool.n) AS grades FROM today t "
                "JOIN pool ON pool.query_norm = t.query_norm WHERE pool.n > 0 GROUP BY t.id"
            ),
            {"d": day},
        ).all()
        return {int(i): tuple(float(g) for g in grades) for i, grades in rows}
    pool_filter = "" if include_compare else f"AND {PRODUCTION_SAMPLES} "
    rows = conn.execute(
        text(
            "WITH today AS (SELECT id, query_norm FROM samples "
            f"WHERE sample_date = :d AND {PRODUCTION_SAMPLES}), "
            "pool AS (SELECT p.query_norm, e.result_id, avg(e.grade) AS grade FROM samples p "
            "JOIN ensemble_grades e ON e.sample_id = p.id AND e.sample_date = p.sample_date "
            "WHERE p.sample_date <= :d AND e.grade IS NOT NULL "
            "AND p.query_norm IN (SELECT query_norm FROM today) "
            f"{pool_filter}"
            "GROUP BY p.query_norm, e.result_id) "
            "SELECT t.id, array_agg(pool.grade) AS grades FROM today t "
            "JOIN pool ON pool.query_norm = t.query_norm GROUP BY t.id"
        ),
        {"d": day},
    ).all()
    return {int(i): tuple(float(g) for g in grades) for i, grades in rows}


def stratum_grades(
    conn: Connection, *, first: dt.date, last: dt.date
) -> list[tuple[str, list[float | None]]]:
    """How did the ensemble grade production's samples dated ``first`` to ``last``, by
    stratum? (stratum, grades in rank order) per sample with any grade: what the Neyman
    allocation measures each stratum's spread of nDCG from."""
    rows = conn.execute(
        text(
            "SELECT s.stratum, array_agg(e.grade ORDER BY e.position) AS grades FROM samples s "
            "JOIN ensemble_grades e ON e.sample_id = s.id AND e.sample_date = s.sample_date "
            f"WHERE s.sample_date BETWEEN :a AND :b AND {PRODUCTION_SAMPLES} "
            "GROUP BY s.id, s.sample_date, s.stratum"
        ),
        {"a": first, "b": last},
    ).all()
    return [(str(stratum), list(grades)) for stratum, grades in rows]
