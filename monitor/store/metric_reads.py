"""Reading what the metrics step computes a day's figures from.

Production's samples of a date range (never the compare flow's, ``PRODUCTION_SAMPLES``),
their ensemble grades, the judges' pointwise verdicts and the human labels on the same
pairs. Split from ``reads`` (the stored figures themselves) because these are the
step's inputs, read once a day in bulk: rows come back as plain tuples, since a day holds
tens of thousands of verdicts and building a dataclass here and again in the step would
cost twice.

A judge whose prompt or cut points changed gets a new ``judges`` row; a day rerun after
such a change holds both generations' verdicts. Judges' verdicts are read, per day and
judge name, from the newest generation only.

Verdicts and ensemble grades carry their sample's date (their partition key): every join
to ``samples`` matches it too, so that Postgres reads only the month partitions of the
days asked for, however many months are stored.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, text

from monitor.store.models import PRODUCTION_SAMPLES

__all__ = [
    "consistency_flags",
    "ensemble_grades_between",
    "ensemble_label_pairs",
    "graded_queries",
    "judge_grades_between",
    "judge_label_pairs",
    "judges_per_result",
    "pointwise_verdicts",
    "result_lengths",
    "sample_mix",
    "stored_grade_counts",
]

# The newest generation of each judge per sample day; bound to ``:a``/``:b``, the dates read.
# The (day, judge) pairs come from the verdicts' own date, a range Postgres prunes the
# month partitions by (a range on a joined table's date would not prune them).
_CURRENT = (
    "(s.sample_date, v.judge_id) IN (SELECT DISTINCT ON (p.sample_date, j2.name) "
    "p.sample_date, j2.id FROM (SELECT DISTINCT sample_date, judge_id FROM verdicts "
    "WHERE sample_date BETWEEN :a AND :b) p JOIN judges j2 ON j2.id = p.judge_id "
    "ORDER BY p.sample_date, j2.name, j2.id DESC)"
)

#: (sample id, segment, weight, ensemble grades in rank order)
GradedRow = tuple[
    int, dict[str, Any] | None, float, list[float | None] | None, str, list[str] | None
]

#: (sample id, result id, judge, grade, status, latency ms, input tokens, output tokens,
#: cost, cache hit)
VerdictRow = tuple[int, str, str, int | None, str, float, int, int, float, bool]


def graded_queries(conn: Connection, *, day: dt.date) -> list[GradedRow]:
    """How did the ensemble grade each of the day's production samples? One row per
    sample, in id order, its grades by position (None for a sample with none), and its
    query (``query_norm``: a panel query's lists are several samples of one query) and
    the graded results' ids by position."""
    # one row per sample: a row per graded position would decode the sample's segment
    # JSON once per position
    rows = conn.execute(
        text(
            "SELECT s.id, s.segment, s.weight, "
            "array_agg(e.grade ORDER BY e.position, e.result_id) "
            "FILTER (WHERE e.position IS NOT NULL), "
            "s.query_norm, "
            "array_agg(e.result_id ORDER BY e.position, e.result_id) "
            "FILTER (WHERE e.position IS NOT NULL) "
            "FROM samples s LEFT JOIN ensemble_grades e ON e.sample_id = s.id "
            "AND e.sample_date = s.sample_date "
            f"WHERE s.sample_date = :d AND {PRODUCTION_SAMPLES} "
            "GROUP BY s.id, s.sample_date ORDER BY s.id"
        ),
        {"d": day},
    ).all()
    return [
        (int(i), segment, float(weight), grades, str(query), results)
        for i, segment, weight, grades, query, results in rows
    ]


def result_lengths(conn: Connection, *, day: dt.date) -> dict[tuple[int, str], int]:
    """How long (title plus text, in characters) is each result of the day's production
    samples? By (sample id, result id)."""
    # counted by Postgres: fetching the results' JSON to count them in Python would move
    # every judged text of the day (megabytes) for a few integers
    rows = conn.execute(
        text(
            "SELECT s.id, item->>'id' AS result_id, "
            "coalesce(length(item->>'text'), 0) + coalesce(length(item->>'title'), 0) "
            "AS length FROM samples s CROSS JOIN LATERAL jsonb_array_elements(s.results) "
            f"AS item WHERE s.sample_date = :d AND {PRODUCTION_SAMPLES}"
        ),
        {"d": day},
    ).all()
    return {(int(r.id), r.result_id): int(r.length) for r in rows}


def pointwise_verdicts(conn: Connection, *, day: dt.date) -> list[VerdictRow]:
    """What did each current judge answer on the day's production samples, and what did
    it cost? Pointwise verdicts only, as ``VerdictRow`` tuples."""
    rows = conn.execute(
        text(
            "SELECT v.sample_id, v.result_id, j.name, v.grade, v.status, v.latency_ms, "
            "v.input_tokens, v.output_tokens, v.cost_usd, v.cache_hit FROM verdicts v "
            "JOIN samples s ON s.id = v.sample_id AND s.sample_date = v.sample_date "
            "JOIN judges j ON j.id = v.judge_id "
            f"WHERE s.sample_date = :d AND {PRODUCTION_SAMPLES} AND v.mode <> 'pairwise' "
            f"AND {_CURRENT}"
        ),
        {"d": day, "a": day, "b": day},
    ).all()
    # tuple(r), not r.name: reading a Row's columns by name costs several times more
    return [tuple(r) for r in rows]


def judge_label_pairs(conn: Connection, *, day: dt.date) -> list[tuple[str, int, int]]:
    """Where did a person label a pair a current judge graded on the day's production
    samples? (judge, judge's grade, person's grade) for each valid verdict; a result a
    query showed in several lists (a panel query's) is one pair."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (j.name, s.ranker, s.query_norm, v.result_id, h.annotator) "
            "j.name AS judge, v.grade, h.grade AS human FROM verdicts v "
            "JOIN samples s ON s.id = v.sample_id AND s.sample_date = v.sample_date "
            "JOIN judges j ON j.id = v.judge_id "
            "JOIN human_labels h ON h.query_norm = s.query_norm AND h.result_id = v.result_id "
            "WHERE s.sample_date = :d AND v.status = 'ok' AND v.grade IS NOT NULL "
            f"AND {PRODUCTION_SAMPLES} AND {_CURRENT}"
        ),
        {"d": day, "a": day, "b": day},
    ).all()
    return [(r.judge, int(r.grade), int(r.human)) for r in rows]


def ensemble_label_pairs(conn: Connection, *, day: dt.date) -> list[tuple[float, int]]:
    """Where did a person label a pair the ensemble graded on the day's production
    samples? (ensemble grade, person's grade) for each; a result a query showed in
    several lists (a panel query's) is one pair."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (s.ranker, s.query_norm, e.result_id, h.annotator) "
            "e.grade, h.grade AS human FROM ensemble_grades e "
            "JOIN samples s ON s.id = e.sample_id AND s.sample_date = e.sample_date "
            "JOIN human_labels h ON h.query_norm = s.query_norm AND h.result_id = e.result_id "
            "WHERE s.sample_date = :d AND e.grade IS NOT NULL "
            f"AND {PRODUCTION_SAMPLES}"
        ),
        {"d": day},
    ).all()
    return [(float(r.grade), int(r.human)) for r in rows]


def judge_grades_between(
    conn: Connection, *, first: dt.date, last: dt.date
) -> list[tuple[str, float]]:
    """Which valid pointwise grades did the current judges give production's samples
    dated ``first`` to ``last``? (judge, grade) pairs, in no particular order; a result
    a query showed in several lists of a day (a panel query's) is one grade."""
    # Counted by Postgres in one pass over the window's verdicts: it holds days x the
    # day's verdicts, and only how many of each grade matter (the pairs are rebuilt by
    # list repetition). The (day, judge id) pairs also give each day's newest generation
    # of each judge (as ``_CURRENT`` does, from every verdict of the day). A result a
    # query showed in several lists is the valid grade of its lowest-id list, as the
    # metrics step counts the day (two lists can ask it apart: "Foo" and "foo").
    rows = conn.execute(
        text(
            "WITH v AS (SELECT v.sample_date, v.judge_id, v.grade, v.sample_id, v.result_id, "
            "s.query_norm, (v.status = 'ok' AND v.mode <> 'pairwise' AND s.id IS NOT NULL "
            "AND v.grade IS NOT NULL) AS counted "
            "FROM verdicts v LEFT JOIN samples s ON s.id = v.sample_id "
            "AND s.sample_date = v.sample_date AND s.sample_date BETWEEN :a AND :b "
            f"AND {PRODUCTION_SAMPLES} WHERE v.sample_date BETWEEN :a AND :b), "
            "cur AS (SELECT DISTINCT ON (d.sample_date, j.name) d.sample_date, j.id "
            "FROM (SELECT DISTINCT sample_date, judge_id FROM v) d "
            "JOIN judges j ON j.id = d.judge_id ORDER BY d.sample_date, j.name, j.id DESC), "
            "one AS (SELECT DISTINCT ON (sample_date, judge_id, query_norm, result_id) "
            "sample_date, judge_id, grade FROM v WHERE counted "
            "ORDER BY sample_date, judge_id, query_norm, result_id, sample_id) "
            "SELECT j.name, one.grade, count(*) AS n FROM one JOIN cur "
            "ON cur.sample_date = one.sample_date AND cur.id = one.judge_id "
            "JOIN judges j ON j.id = one.judge_id GROUP BY j.name, one.grade"
        ),
        {"a": first, "b": last},
    ).all()
    pairs: list[tuple[str, float]] = []
    for name, grade, n in rows:
        pairs += [(name, float(grade))] * int(n)
    return pairs


def stored_grade_counts(
    conn: Connection, *, first: dt.date, last: dt.date
) -> dict[dt.date, dict[str, dict[int, int]]]:
    """Which grade histograms did the metrics step store for the days ``first`` to
    ``last``? By day, then judge (and the ensemble): count by grade. A day that has
    none is absent (its figures predate them, or it had no valid grade)."""
    rows = conn.execute(
        text(
            "SELECT metric_date, judge, k, value FROM daily_metrics "
            "WHERE metric = 'grade_count' AND segment = 'all' AND value IS NOT NULL "
            "AND metric_date BETWEEN :a AND :b"
        ),
        {"a": first, "b": last},
    ).all()
    out: dict[dt.date, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for day, judge, grade, count in rows:
        out[day][judge][int(grade)] = int(count)
    return {day: dict(judges) for day, judges in out.items()}


def ensemble_grades_between(conn: Connection, *, first: dt.date, last: dt.date) -> list[float]:
    """Which grades did the ensemble give production's samples dated ``first`` to
    ``last``? (Results it could not grade left out; in no particular order; a result a
    query showed in several lists of a day is one grade, its lowest-id list's.)"""
    rows = conn.execute(
        text(
            "SELECT grade, count(*) AS n FROM (SELECT DISTINCT ON "
            "(e.sample_date, s.query_norm, e.result_id) e.grade "
            "FROM ensemble_grades e JOIN samples s "
            "ON s.id = e.sample_id AND s.sample_date = e.sample_date "
            f"WHERE e.sample_date BETWEEN :a AND :b AND {PRODUCTION_SAMPLES} "
            "AND e.grade IS NOT NULL "
            "ORDER BY e.sample_date, s.query_norm, e.result_id, e.sample_id) one GROUP BY grade"
        ),
        {"a": first, "b": last},
    ).all()
    grades: list[float] = []
    for grade, n in rows:
        grades += [float(grade)] * int(n)
    return grades


def sample_mix(
    conn: Connection, *, first: dt.date, last: dt.date, segment_of: str
) -> list[tuple[str, float, str, dict[str, Any], int]]:
    """What was sampled from production on the days ``first`` to ``last``? (stratum,
    weight, normalized query, segment, list_no) per sample; the segment only for
    samples of the stratum ``segment_of`` (empty for the others: the window holds
    thousands of rows a day, and only those need it)."""
    rows = conn.execute(
        text(
            "SELECT stratum, weight, query_norm, "
            "CASE WHEN stratum = :p THEN segment END AS segment, list_no FROM samples "
            f"WHERE sample_date BETWEEN :a AND :b AND {PRODUCTION_SAMPLES}"
        ),
        {"a": first, "b": last, "p": segment_of},
    ).all()
    return [
        (r.stratum, float(r.weight), r.query_norm, r.segment or {}, int(r.list_no)) for r in rows
    ]


def consistency_flags(conn: Connection, *, day: dt.date) -> list[tuple[str, bool]]:
    """Did each pairwise judgment of ``day`` give the same winner in both orders?
    (judge, consistent) per judgment."""
    rows = conn.execute(
        text(
            "SELECT j.name, p.consistent FROM pairwise_judgments p JOIN judges j "
            "ON j.id = p.judge_id WHERE p.judgment_date = :d"
        ),
        {"d": day},
    ).all()
    return [(r.name, bool(r.consistent)) for r in rows]


def judges_per_result(conn: Connection, *, day: dt.date) -> list[int]:
    """How many judges graded each result of the day's production samples, as its
    ensemble grade records it (``ensemble_grades.n_judges``)."""
    rows = conn.execute(
        text(
            "SELECT e.n_judges FROM ensemble_grades e JOIN samples s ON s.id = e.sample_id "
            f"AND s.sample_date = e.sample_date WHERE e.sample_date = :d AND {PRODUCTION_SAMPLES}"
        ),
        {"d": day},
    ).scalars()
    return [int(n) for n in rows]
