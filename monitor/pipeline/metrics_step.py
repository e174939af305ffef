"""The metrics step: read a day's stored verdicts, compute its figures, store them.

Production's samples are every ranker's except the ``compare:*`` rankings that the
compare flow stores beside them.

The reading is here; the statistics are the pure functions of ``monitor.metrics``.
Recomputing a day replaces its ``daily_metrics`` rows, so the step is idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, text

from monitor.config import Settings
from monitor.metrics.daily import (
    ALL,
    ENSEMBLE,
    GradedQuery,
    JudgeVerdictRow,
    LabelPair,
    MetricRow,
    compute_changepoint,
    compute_drift,
    compute_human_agreement,
    compute_judge_health,
    compute_quality,
)
from monitor.store import repository as repo
from monitor.store.db import Database

__all__ = ["compute_day_metrics", "ndcg_history"]

CHANGEPOINT_K = 10

# A judge whose prompt or cut points changed gets a new ``judges`` row; a day rerun
# after such a change holds both generations' verdicts. Figures use, per day and judge
# name, the newest generation only. Bound to ``:a``/``:b``, the dates read.
_CURRENT = (
    "(s.sample_date, v.judge_id) IN (SELECT DISTINCT ON (s2.sample_date, j2.name) "
    "s2.sample_date, j2.id FROM verdicts v2 JOIN samples s2 ON s2.id = v2.sample_id "
    "JOIN judges j2 ON j2.id = v2.judge_id WHERE s2.sample_date BETWEEN :a AND :b "
    "ORDER BY s2.sample_date, j2.name, j2.id DESC)"
)


def _graded_queries(conn: Connection, day: dt.date) -> list[GradedQuery]:
    # one row per sample, its ensemble grades in rank order: a row per graded position
    # would decode the sample's segment JSON once per position
    rows = conn.execute(
        text(
            "SELECT s.id, s.segment, s.weight, "
            "array_agg(e.grade ORDER BY e.position) FILTER (WHERE e.position IS NOT NULL) "
            "FROM samples s LEFT JOIN ensemble_grades e ON e.sample_id = s.id "
            "WHERE s.sample_date = :d AND s.ranker NOT LIKE 'compare:%' "
            "GROUP BY s.id ORDER BY s.id"
        ),
        {"d": day},
    ).all()
    return [
        GradedQuery(
            sample_id=int(sample_id),
            segment={str(k): str(v) for k, v in (segment or {}).items()},
            weight=float(weight),
            grades=tuple(grades or ()),
        )
        for sample_id, segment, weight, grades in rows
    ]


def _verdict_rows(conn: Connection, day: dt.date) -> list[JudgeVerdictRow]:
    # Result lengths are counted by Postgres: fetching the results' JSON to count them
    # here would move every judged text of the day (megabytes) for a few integers.
    lengths = {
        (int(r.id), r.result_id): int(r.length)
        for r in conn.execute(
            text(
                "SELECT s.id, item->>'id' AS result_id, "
                "coalesce(length(item->>'text'), 0) + coalesce(length(item->>'title'), 0) "
                "AS length FROM samples s CROSS JOIN LATERAL jsonb_array_elements(s.results) "
                "AS item WHERE s.sample_date = :d AND s.ranker NOT LIKE 'compare:%'"
            ),
            {"d": day},
        ).all()
    }
    rows = conn.execute(
        text(
            "SELECT v.sample_id, v.result_id, j.name, v.grade, v.status, v.latency_ms, "
            "v.input_tokens, v.output_tokens, v.cost_usd, v.cache_hit FROM verdicts v "
            "JOIN samples s ON s.id = v.sample_id JOIN judges j ON j.id = v.judge_id "
            "WHERE s.sample_date = :d AND s.ranker NOT LIKE 'compare:%' AND v.mode <> 'pairwise' "
            f"AND {_CURRENT}"
        ),
        {"d": day, "a": day, "b": day},
    ).all()
    # unpacked as tuples: a day has tens of thousands of verdicts, and reading a Row's
    # columns by name costs several times more
    return [
        JudgeVerdictRow(
            sample_id=sample_id,
            result_id=result_id,
            judge=judge,
            grade=grade,
            status=status,
            latency_ms=latency_ms,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost_usd,
            cache_hit=cache_hit,
            text_length=lengths.get((sample_id, result_id), 0),
        )
        for (
            sample_id,
            result_id,
            judge,
            grade,
            status,
            latency_ms,
            input_tokens,
            output_tokens,
            cost_usd,
            cache_hit,
        ) in rows
    ]


def _label_pairs(conn: Connection, day: dt.date) -> list[LabelPair]:
    """Judges' and the ensemble's grades next to human labels for the same pairs."""
    judged = conn.execute(
        text(
            "SELECT j.name AS judge, v.grade, h.grade AS human FROM verdicts v "
            "JOIN samples s ON s.id = v.sample_id JOIN judges j ON j.id = v.judge_id "
            "JOIN human_labels h ON h.query_norm = s.query_norm AND h.result_id = v.result_id "
            "WHERE s.sample_date = :d AND v.status = 'ok' AND v.grade IS NOT NULL "
            f"AND s.ranker NOT LIKE 'compare:%' AND {_CURRENT}"
        ),
        {"d": day, "a": day, "b": day},
    ).all()
    ensemble = conn.execute(
        text(
            "SELECT e.grade, h.grade AS human FROM ensemble_grades e "
            "JOIN samples s ON s.id = e.sample_id "
            "JOIN human_labels h ON h.query_norm = s.query_norm AND h.result_id = e.result_id "
            "WHERE s.sample_date = :d AND e.grade IS NOT NULL "
            "AND s.ranker NOT LIKE 'compare:%'"
        ),
        {"d": day},
    ).all()
    pairs = [LabelPair(r.judge, int(r.grade), int(r.human)) for r in judged]
    pairs += [LabelPair(ENSEMBLE, int(float(r.grade) + 0.5), int(r.human)) for r in ensemble]
    return pairs


def _grades_by_judge(
    conn: Connection, start: dt.date, end: dt.date
) -> dict[str, list[float | None]]:
    """Valid grades per judge (and the ensemble) for samples dated in [start, end]."""
    out: dict[str, list[float | None]] = defaultdict(list)
    for r in conn.execute(
        text(
            "SELECT j.name, v.grade FROM verdicts v JOIN samples s ON s.id = v.sample_id "
            "JOIN judges j ON j.id = v.judge_id WHERE s.sample_date BETWEEN :a AND :b "
            "AND s.ranker NOT LIKE 'compare:%' AND v.status = 'ok' AND v.mode <> 'pairwise' "
            f"AND {_CURRENT}"
        ),
        {"a": start, "b": end},
    ).all():
        name, grade = r
        out[name].append(float(grade))
    for r in conn.execute(
        text(
            "SELECT e.grade FROM ensemble_grades e JOIN samples s ON s.id = e.sample_id "
            "WHERE s.sample_date BETWEEN :a AND :b AND s.ranker NOT LIKE 'compare:%' "
            "AND e.grade IS NOT NULL"
        ),
        {"a": start, "b": end},
    ).all():
        out[ENSEMBLE].append(float(r.grade))
    return dict(out)


def _day_grades(
    verdicts: Sequence[JudgeVerdictRow], queries: Sequence[GradedQuery]
) -> dict[str, list[float | None]]:
    """``_grades_by_judge`` for the day itself, from the rows already read for it."""
    out: dict[str, list[float | None]] = defaultdict(list)
    for row in verdicts:
        if row.status == "ok" and row.grade is not None:
            out[row.judge].append(float(row.grade))
    ensemble: list[float | None] = [float(g) for q in queries for g in q.grades if g is not None]
    if ensemble:
        out[ENSEMBLE] = ensemble
    return dict(out)


def _mix(
    conn: Connection, start: dt.date, end: dt.date
) -> tuple[dict[str, float], list[float], set[str]]:
    """Segment shares (by searches represented), query lengths and query keys."""
    weights: dict[str, float] = defaultdict(float)
    lengths: list[float] = []
    queries: set[str] = set()
    for r in conn.execute(
        text(
            "SELECT stratum, weight, query_norm FROM samples WHERE sample_date BETWEEN :a AND :b "
            "AND ranker NOT LIKE 'compare:%'"
        ),
        {"a": start, "b": end},
    ).all():
        weights[r.stratum] += float(r.weight)
        lengths.append(float(len(r.query_norm.split())))
        queries.add(r.query_norm)
    total = sum(weights.values())
    shares = {k: v / total for k, v in weights.items()} if total else {}
    return shares, lengths, queries


def ndcg_history(
    conn: Connection, *, end: dt.date, days: int, k: int = CHANGEPOINT_K
) -> list[float | None]:
    """Stored daily nDCG@k (overall, ensemble) for the ``days`` days before ``end``."""
    start = end - dt.timedelta(days=days)
    stored = {
        r.metric_date: r.value
        for r in conn.execute(
            text(
                "SELECT metric_date, value FROM daily_metrics WHERE metric = 'ndcg' AND k = :k "
                "AND segment = :s AND judge = :j AND metric_date >= :a AND metric_date < :b"
            ),
            {"k": k, "s": ALL, "j": ENSEMBLE, "a": start, "b": end},
        )
    }
    return [stored.get(start + dt.timedelta(days=i)) for i in range(days)]


def _today_ndcg(rows: Sequence[MetricRow], k: int) -> float | None:
    for row in rows:
        if row.metric == "ndcg" and row.k == k and row.segment == ALL and row.judge == ENSEMBLE:
            return row.value
    return None


def _consistency_flags(conn: Connection, day: dt.date) -> dict[str, list[bool]]:
    flags: dict[str, list[bool]] = defaultdict(list)
    for r in conn.execute(
        text(
            "SELECT j.name, p.consistent FROM pairwise_judgments p JOIN judges j "
            "ON j.id = p.judge_id WHERE p.judgment_date = :d"
        ),
        {"d": day},
    ).all():
        flags[r.name].append(bool(r.consistent))
    return dict(flags)


def compute_day_metrics(database: Database, day: dt.date, settings: Settings) -> list[MetricRow]:
    """Compute and store every figure of ``day``; return the rows stored."""
    baseline_start = day - dt.timedelta(days=settings.baseline_days)
    baseline_end = day - dt.timedelta(days=1)
    with database.engine.connect() as conn:
        queries = _graded_queries(conn, day)
        verdicts = _verdict_rows(conn, day)
        pairs = _label_pairs(conn, day)
        flags = _consistency_flags(conn, day)
        baseline_grades = _grades_by_judge(conn, baseline_start, baseline_end)
        shares, lengths, today_queries = _mix(conn, day, day)
        base_shares, base_lengths, seen = _mix(conn, baseline_start, baseline_end)
        history = ndcg_history(conn, end=day, days=2 * settings.baseline_days)

    current_grades = _day_grades(verdicts, queries)
    rows = compute_quality(queries, ks=settings.ks, relevant=settings.relevant_grade)
    rows += compute_judge_health(verdicts, flags or None)
    if pairs:
        rows += compute_human_agreement(pairs, relevant=settings.relevant_grade)
    new_share = (len(today_queries - seen) / len(today_queries)) if seen and today_queries else None
    rows += compute_drift(
        current_grades, baseline_grades, shares, base_shares, lengths, base_lengths, new_share
    )
    series = [*history, _today_ndcg(rows, CHANGEPOINT_K)]
    rows += compute_changepoint(series, baseline_days=settings.baseline_days, cutoff=CHANGEPOINT_K)
    with database.engine.begin() as conn:
        # recomputing a day replaces all its figures: none left over from a former run
        conn.execute(text("DELETE FROM daily_metrics WHERE metric_date = :d"), {"d": day})
        repo.upsert_daily_metrics(
            conn,
            day=day,
            rows=[
                (r.metric, r.segment, r.judge, r.k, r.value, r.ci_low, r.ci_high, r.n, r.reason)
                for r in rows
            ],
        )
    return rows
