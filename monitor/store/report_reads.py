"""Reading what the daily report shows beyond the stored figures.

The report's figures come from ``reads`` (``daily_metrics``); this module reads what a
person clicks into next: the day's graded queries and their history (for the worst
queries), the results of a few samples with the ensemble's grade (what the search
showed), the pairs the judges disagreed on most, and the days the daily flow's
configuration changed (an annotation on the charts).

Production's samples only (``PRODUCTION_SAMPLES``): the report is about what users saw.
Every join of verdicts or ensemble grades to ``samples`` matches the sample's date too,
so that Postgres reads only the month partitions of the days asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from monitor.store.models import PRODUCTION_SAMPLES
from monitor.store.sample_reads import DisagreedPair, most_disagreed

__all__ = [
    "ConfigChange",
    "DisagreedResult",
    "GradedSample",
    "ShownResult",
    "config_changes",
    "graded_samples_between",
    "production_disagreements",
    "shown_results",
]


@dataclass(frozen=True, slots=True)
class GradedSample:
    """A production sample of a day and the ensemble's grades of its results, by position."""

    sample_id: int
    day: dt.date
    query_norm: str
    query_text: str
    segment: dict[str, Any]
    weight: float
    grades: tuple[float | None, ...]


def graded_samples_between(
    conn: Connection, *, first: dt.date, last: dt.date
) -> tuple[GradedSample, ...]:
    """How did the ensemble grade each production sample dated ``first`` to ``last``?
    One per sample, oldest day first, its grades in rank order (empty when none)."""
    rows = conn.execute(
        text(
            "SELECT s.id, s.sample_date, s.query_norm, s.query_text, s.segment, s.weight, "
            "array_agg(e.grade ORDER BY e.position) FILTER (WHERE e.position IS NOT NULL) "
            "AS grades FROM samples s LEFT JOIN ensemble_grades e ON e.sample_id = s.id "
            "AND e.sample_date = s.sample_date "
            f"WHERE s.sample_date BETWEEN :a AND :b AND {PRODUCTION_SAMPLES} "
            "GROUP BY s.id, s.sample_date ORDER BY s.sample_date, s.id"
        ),
        {"a": first, "b": last},
    ).all()
    return tuple(
        GradedSample(
            sample_id=int(r.id),
            day=r.sample_date,
            query_norm=r.query_norm,
            query_text=r.query_text,
            segment=r.segment or {},
            weight=float(r.weight),
            grades=tuple(r.grades or ()),
        )
        for r in rows
    )


@dataclass(frozen=True, slots=True)
class ShownResult:
    """One result of a sample as search showed it, with the ensemble's grade."""

    sample_id: int
    position: int
    result_id: str
    title: str
    body: str
    grade: float | None
    disagreement: float | None


def shown_results(
    conn: Connection, *, day: dt.date, sample_ids: Sequence[int], top: int
) -> tuple[ShownResult, ...]:
    """What did search show for these samples of ``day``? Their first ``top`` results in
    rank order, each with the ensemble's grade and disagreement (None: not graded)."""
    rows = conn.execute(
        text(
            "SELECT s.id, r.pos, r.item->>'id' AS result_id, "
            "coalesce(r.item->>'title', '') AS title, coalesce(r.item->>'text', '') AS body, "
            "e.grade, e.disagreement FROM samples s "
            "CROSS JOIN LATERAL jsonb_array_elements(s.results) WITH ORDINALITY AS r(item, pos) "
            "LEFT JOIN ensemble_grades e ON e.sample_id = s.id "
            "AND e.sample_date = s.sample_date AND e.result_id = r.item->>'id' "
            "WHERE s.sample_date = :d AND s.id = ANY(:ids) AND r.pos <= :top "
            "ORDER BY s.id, r.pos"
        ),
        {"d": day, "ids": list(sample_ids), "top": top},
    ).all()
    return tuple(
        ShownResult(
            sample_id=int(r.id),
            position=int(r.pos),
            result_id=str(r.result_id),
            title=r.title,
            body=r.body,
            grade=r.grade,
            disagreement=r.disagreement,
        )
        for r in rows
    )


#: A result the judges split on, as the report shows it (``sample_reads.most_disagreed``).
DisagreedResult = DisagreedPair


def production_disagreements(
    conn: Connection, *, day: dt.date, limit: int
) -> tuple[DisagreedResult, ...]:
    """Which ``limit`` results of the day's production samples did the judges split on
    most? Only results two or more judges graded apart (one judge cannot disagree with
    itself); the same read as the label export's, kept to what users saw."""
    return most_disagreed(conn, day=day, limit=limit, production_only=True)


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A day whose daily run ran under another configuration than the day before it."""

    day: dt.date
    config_hash: str
    previous: str


def config_changes(
    conn: Connection, *, flow: str, first: dt.date, last: dt.date
) -> tuple[ConfigChange, ...]:
    """On which days from ``first`` to ``last`` did ``flow`` run under a configuration
    other than that of its previous run day? Oldest first."""
    rows = conn.execute(
        text(
            "SELECT run_date, config_hash, prev FROM ("
            "SELECT run_date, config_hash, lag(config_hash) OVER (ORDER BY run_date) AS prev "
            "FROM runs WHERE flow = :f AND run_key = '' AND run_date <= :b) x "
            "WHERE run_date >= :a AND prev IS NOT NULL AND prev <> config_hash "
            "ORDER BY run_date"
        ),
        {"f": flow, "a": first, "b": last},
    ).all()
    return tuple(ConfigChange(r.run_date, r.config_hash, r.prev) for r in rows)
