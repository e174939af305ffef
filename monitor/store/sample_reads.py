"""Reading samples back: for judging, for the compare flow, for the label import and export.

Split from ``reads`` (the stored figures) and ``metric_reads`` (the metrics step's
inputs): these read single samples, their grades and the labels about them, for the
steps that act on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from monitor.store.models import PRODUCTION_SAMPLES

__all__ = [
    "DisagreedPair",
    "Opinion",
    "SampleRow",
    "any_sample_stored",
    "ensemble_grades_of",
    "label_grades",
    "most_disagreed",
    "pairwise_judgments_of",
    "pointwise_opinions",
    "query_results",
    "stored_samples",
]

#: How many keys one ``= ANY`` / ``unnest`` query binds at most.
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class SampleRow:
    """A stored sample as the judges read it: its results as stored (JSON objects)."""

    id: int
    query_text: str
    query_norm: str
    segment: dict[str, Any]
    weight: float
    results: list[dict[str, Any]]


def stored_samples(
    conn: Connection, *, day: dt.date, ranker: str | None = None
) -> tuple[SampleRow, ...]:
    """Which samples are stored for ``day``? Production's (``PRODUCTION_SAMPLES``), or
    one ranker's when ``ranker`` is given; in id order."""
    where = "ranker = :r" if ranker else PRODUCTION_SAMPLES
    rows = conn.execute(
        text(
            "SELECT id, query_text, query_norm, segment, weight, results FROM samples "
            f"WHERE sample_date = :d AND {where} ORDER BY id"
        ),
        {"d": day, "r": ranker},
    ).all()
    return tuple(
        SampleRow(
            id=int(r.id),
            query_text=r.query_text,
            query_norm=r.query_norm,
            segment=r.segment or {},
            weight=float(r.weight),
            results=r.results,
        )
        for r in rows
    )


def ensemble_grades_of(
    conn: Connection, *, sample_ids: Sequence[int]
) -> dict[tuple[int, int], float | None]:
    """What did the ensemble grade each result of these samples? By (sample id, position)."""
    rows = conn.execute(
        text("SELECT sample_id, position, grade FROM ensemble_grades WHERE sample_id = ANY(:ids)"),
        {"ids": list(sample_ids)},
    )
    return {(int(r.sample_id), int(r.position)): r.grade for r in rows}


def pairwise_judgments_of(
    conn: Connection, *, day: dt.date, a: str, b: str
) -> dict[tuple[str, int], tuple[str, bool]]:
    """Which pairwise judgments of rankings ``a`` against ``b`` are stored for ``day``?
    (winner, consistent) by (normalized query, judge id)."""
    rows = conn.execute(
        text(
            "SELECT query_norm, judge_id, winner, consistent FROM pairwise_judgments "
            "WHERE judgment_date = :d AND a_id = :a AND b_id = :b"
        ),
        {"d": day, "a": a, "b": b},
    )
    return {(r.query_norm, int(r.judge_id)): (r.winner, bool(r.consistent)) for r in rows}


def any_sample_stored(conn: Connection) -> bool:
    """Is any sample stored at all (of any day and ranker)?"""
    return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM samples)")).scalar_one())


def query_results(
    conn: Connection, *, query_norms: Sequence[str]
) -> dict[str, list[tuple[str, str, str]]]:
    """Which results did any sample show for these normalized queries? (id, title, text)
    per query, each once."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT s.query_norm, r->>'id' AS id, coalesce(r->>'title', '') AS title, "
            "coalesce(r->>'text', '') AS body FROM samples s "
            "CROSS JOIN LATERAL jsonb_array_elements(s.results) r "
            "WHERE s.query_norm = ANY(:q)"
        ),
        {"q": list(set(query_norms))},
    )
    found: dict[str, list[tuple[str, str, str]]] = {}
    for r in rows:
        found.setdefault(r.query_norm, []).append((r.id, r.title, r.body))
    return found


def label_grades(
    conn: Connection, *, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], int]:
    """Which of these (normalized query, result id, annotator) keys are labelled, and
    with which grade?"""
    found: dict[tuple[str, str, str], int] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = conn.execute(
            text(
                "SELECT h.query_norm, h.result_id, h.annotator, h.grade FROM human_labels h "
                "JOIN unnest(CAST(:q AS text[]), CAST(:r AS text[]), CAST(:a AS text[])) "
                "AS k(q, r, a) ON h.query_norm = k.q AND h.result_id = k.r AND h.annotator = k.a"
            ),
            {
                "q": [q for q, _, _ in chunk],
                "r": [r for _, r, _ in chunk],
                "a": [a for _, _, a in chunk],
            },
        )
        for q, r, a, g in rows:
            found[(q, r, a)] = int(g)
    return found


@dataclass(frozen=True, slots=True)
class DisagreedPair:
    """A graded (sample, result) of a day, with how much the judges split on it."""

    sample_id: int
    ranker: str
    query_id: str
    query_text: str
    segment: dict[str, Any]
    result_id: str
    position: int
    title: str
    body: str
    grade: float | None
    disagreement: float | None
    spread: float


#: What ``production_only`` keeps: production's samples, and results two or more judges
#: graded apart (one judge cannot disagree with itself).
_SPLIT_IN_PRODUCTION = f"AND e.n_judges >= 2 AND e.disagreement > 0 AND {PRODUCTION_SAMPLES}"


def most_disagreed(
    conn: Connection, *, day: dt.date, limit: int, production_only: bool = False
) -> tuple[DisagreedPair, ...]:
    """Which ``limit`` graded pairs of ``day`` did the judges split on most? By the
    ensemble's disagreement, then the spread of the valid pointwise grades. Any ranker's
    (the label export picks them for annotators), or with ``production_only`` only what
    users saw, split by two or more judges (the report). A result a query showed in
    several lists (a panel query's, ``samples.list_no``) is one pair."""
    where = _SPLIT_IN_PRODUCTION if production_only else ""
    rows = conn.execute(
        text(
            f"""
    SELECT * FROM (
    SELECT DISTINCT ON (s.ranker, s.query_norm, e.result_id)
           e.sample_id, s.ranker, s.query_id, s.query_text, s.query_norm, s.segment,
           e.result_id, e.position, e.grade, e.disagreement,
           coalesce(r.title, '') AS title, coalesce(r.body, '') AS body,
           coalesce(v.spread, 0) AS spread
    FROM ensemble_grades e
    JOIN samples s ON s.id = e.sample_id AND s.sample_date = e.sample_date
    LEFT JOIN LATERAL (
        SELECT x->>'title' AS title, x->>'text' AS body
        FROM jsonb_array_elements(s.results) x WHERE x->>'id' = e.result_id LIMIT 1
    ) r ON true
    LEFT JOIN LATERAL (
        SELECT stddev_pop(grade) AS spread FROM verdicts
        WHERE sample_id = e.sample_id AND result_id = e.result_id AND status = 'ok'
          AND mode = 'pointwise' AND sample_date = e.sample_date
    ) v ON true
    WHERE s.sample_date = :day {where}
    ORDER BY s.ranker, s.query_norm, e.result_id, e.disagreement DESC NULLS LAST,
             coalesce(v.spread, 0) DESC, e.position, s.list_no
    ) pairs
    ORDER BY disagreement DESC NULLS LAST, spread DESC, query_norm, position, ranker
    LIMIT :limit
    """
        ),
        {"day": day, "limit": limit},
    ).all()
    return tuple(
        DisagreedPair(
            sample_id=int(r.sample_id),
            ranker=r.ranker,
            query_id=r.query_id,
            query_text=r.query_text,
            segment=r.segment or {},
            result_id=r.result_id,
            position=int(r.position),
            title=r.title,
            body=r.body,
            grade=r.grade,
            disagreement=r.disagreement,
            spread=float(r.spread),
        )
        for r in rows
    )


@dataclass(frozen=True, slots=True)
class Opinion:
    """One judge's pointwise verdict on one (sample, result)."""

    sample_id: int
    result_id: str
    judge: str
    grade: int | None
    status: str
    reasoning: str


def pointwise_opinions(
    conn: Connection, *, pairs: Sequence[tuple[int, str]]
) -> tuple[Opinion, ...]:
    """What did each judge answer on these (sample id, result id) pairs? Pointwise
    verdicts, by judge name, then in the order they were stored."""
    rows = conn.execute(
        text(
            """
    SELECT v.sample_id, v.result_id, j.name, v.grade, v.status, v.reasoning
    FROM verdicts v JOIN judges j ON j.id = v.judge_id
    JOIN unnest(CAST(:s AS bigint[]), CAST(:r AS text[])) AS k(s, r)
      ON v.sample_id = k.s AND v.result_id = k.r
    WHERE v.mode = 'pointwise'
    ORDER BY j.name, v.id
    """
        ),
        {"s": [s for s, _ in pairs], "r": [r for _, r in pairs]},
    )
    return tuple(
        Opinion(
            sample_id=int(r.sample_id),
            result_id=r.result_id,
            judge=r.name,
            grade=r.grade,
            status=r.status,
            reasoning=r.reasoning,
        )
        for r in rows
    )
