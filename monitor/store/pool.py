"""The judgment pool kept up to date day by day, so that reading it stays flat in the history.

The pooled nDCG's ideal is, for each of the day's queries, the mean ensemble grade of
every result judged for the query on any day up to the day (``pool_reads``). Read from
the ensemble grades, that touches every stored day on which the query was sampled: a
head query sampled daily for a year is 365 samples to join, every day. Here the pool is
summed once per day instead:

* ``pool_days`` holds what each day adds (per normalized query and result: the sum of
  its production ensemble grades and their count);
* ``query_pool`` holds every folded day's part summed: one row per result ever judged
  for a query, the pool as of the newest folded day;
* ``pool_folds`` says which days are in it.

``fold_through(day)`` (the metrics step, before it reads) folds every stored day up to
``day`` that is not folded yet, and folds ``day`` again: a rerun may have changed its
grades (a valid answer replacing an invalid one), so its old part is taken out before
the new one goes in, and the pool is the same as if the day had been graded once. Sums
commute, so days folded out of order (a backfill) give the same pool.

``pool_reads.pooled_grades`` serves the day from ``query_pool`` minus the ``pool_days``
of the folded days after it (``serves_as_of``: every stored day up to it folded; in the
daily case there is no later day and ``query_pool`` is the pool, ``serves_day``);
otherwise (a stored day up to it not folded yet) it reads the ensemble grades as before;
the two agree while nothing was pruned. Retention (``partitions.prune``) drops the ``pool_days``
months it drops for the other tables but leaves ``query_pool`` alone: the pooled ideal
remembers every judgment ever made, so pruning a month does not move the next day's
nDCG, nor a retained day's when it is recomputed after later days (it reads the kept
pool less the later days' parts, the pruned judgments still in it, as on the day
itself). One writer at a time: the fold holds a transaction-level advisory lock.
"""

from __future__ import annotations

import datetime as dt
import zlib

from sqlalchemy import Connection, text

from monitor.store.models import PRODUCTION_SAMPLES

__all__ = ["fold_through", "serves_as_of", "serves_day"]

#: The advisory lock the folds take (one pool, one writer; a second waits, briefly).
_LOCK = zlib.crc32(b"judge-monitor:query_pool") - (1 << 31)


def _unfolded_days(conn: Connection, through: dt.date) -> list[dt.date]:
    """The days up to ``through`` with stored samples that are not folded yet: one
    index probe per stored day (a loose scan of ``ix_samples_sample_date``)."""
    rows = conn.execute(
        text(
            "WITH RECURSIVE d(day) AS ("
            "SELECT min(sample_date) FROM samples WHERE sample_date <= :t "
            "UNION ALL SELECT (SELECT min(s.sample_date) FROM samples s "
            "WHERE s.sample_date > d.day AND s.sample_date <= :t) FROM d WHERE d.day IS NOT NULL) "
            "SELECT day FROM d WHERE day IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM pool_folds f WHERE f.sample_date = d.day) ORDER BY day"
        ),
        {"t": through},
    )
    return [r.day for r in rows]


def _fold(conn: Connection, day: dt.date) -> None:
    """Replace ``day``'s part of the pool by what its ensemble grades say now."""
    conn.execute(text("DROP TABLE IF EXISTS _pool_new"))
    conn.execute(
        text(
            "CREATE TEMP TABLE _pool_new ON COMMIT DROP AS "
            "SELECT s.query_norm, e.result_id, sum(e.grade) AS grade_sum, count(*)::int AS n "
            "FROM samples s JOIN ensemble_grades e "
            "ON e.sample_id = s.id AND e.sample_date = s.sample_date "
            f"WHERE s.sample_date = :d AND e.sample_date = :d AND {PRODUCTION_SAMPLES} "
            "AND e.grade IS NOT NULL GROUP BY s.query_norm, e.result_id"
        ),
        {"d": day},
    )
    # the day's new part minus its old one, added to the running sums
    conn.execute(
        text(
            "INSERT INTO query_pool (query_norm, result_id, grade_sum, n) "
            "SELECT query_norm, result_id, sum(grade_sum), sum(n) FROM ("
            "SELECT query_norm, result_id, grade_sum, n FROM _pool_new UNION ALL "
            "SELECT query_norm, result_id, -grade_sum, -n FROM pool_days WHERE sample_date = :d"
            ") delta GROUP BY query_norm, result_id HAVING sum(n) <> 0 OR sum(grade_sum) <> 0 "
            "ON CONFLICT (query_norm, result_id) DO UPDATE SET "
            "grade_sum = query_pool.grade_sum + EXCLUDED.grade_sum, n = query_pool.n + EXCLUDED.n"
        ),
        {"d": day},
    )
    # results whose only judgments were the day's old part: no longer judged for the query
    # (only the old part's keys can have come down to zero; found by the primary key)
    conn.execute(
        text(
            "DELETE FROM query_pool q USING pool_days p WHERE p.sample_date = :d "
            "AND q.query_norm = p.query_norm AND q.result_id = p.result_id AND q.n <= 0"
        ),
        {"d": day},
    )
    conn.execute(text("DELETE FROM pool_days WHERE sample_date = :d"), {"d": day})
    conn.execute(
        text(
            "INSERT INTO pool_days (sample_date, query_norm, result_id, grade_sum, n) "
            "SELECT :d, query_norm, result_id, grade_sum, n FROM _pool_new"
        ),
        {"d": day},
    )
    conn.execute(
        text(
            "INSERT INTO pool_folds (sample_date) VALUES (:d) "
            "ON CONFLICT (sample_date) DO UPDATE SET folded_at = now()"
        ),
        {"d": day},
    )
    conn.execute(text("DROP TABLE _pool_new"))


def fold_through(conn: Connection, *, day: dt.date) -> list[dt.date]:
    """Bring the pool up to ``day``: fold every stored day before it not folded yet, and
    ``day`` itself again (its grades may have changed since). Return the days folded.
    Call inside a transaction (``engine.begin()``)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    days = sorted({*_unfolded_days(conn, day), day})
    for each in days:
        _fold(conn, each)
    return days


def serves_day(conn: Connection, *, day: dt.date) -> bool:
    """Is ``query_pool`` exactly the pool up to ``day``? (The day is folded, no later day
    is, and no stored day before it is waiting to be: the usual daily case, not a day
    recomputed after later ones, nor a read such as ``plan --labels`` between a backfill
    and its metrics step.)"""
    folded = conn.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pool_folds WHERE sample_date = :d) "
            "AND NOT EXISTS (SELECT 1 FROM pool_folds WHERE sample_date > :d)"
        ),
        {"d": day},
    ).scalar_one()
    return bool(folded) and not _unfolded_days(conn, day)


def serves_as_of(conn: Connection, *, day: dt.date) -> bool:
    """Is the pool up to ``day`` ``query_pool`` minus the ``pool_days`` of the folded
    days after it? So when every stored day up to ``day`` is folded (one index probe
    per stored day): what a folded day after it added is all that separates the two."""
    return not _unfolded_days(conn, day)
