"""The judge canary's tables: its fixed anchors and each day's grades of them.

``monitor.pipeline.canary`` chooses the anchors once and re-judges them every day
without the verdict cache; the metrics step reads the grades back to compare each judge
configuration with its first days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert

from monitor.store import models

__all__ = [
    "Anchor",
    "CanaryGrade",
    "canary_anchors",
    "canary_grades_for",
    "store_anchors",
    "store_canary_grades",
]


@dataclass(frozen=True, slots=True)
class Anchor:
    """One (query, result) the canary re-judges every day."""

    anchor: str
    position: int
    query_text: str
    result_id: str
    result_text: str


@dataclass(frozen=True, slots=True)
class CanaryGrade:
    """A judge configuration's grade of an anchor on a day (None: no valid answer)."""

    day: dt.date
    judge_id: int
    judge_name: str
    anchor: str
    grade: int | None


def canary_anchors(conn: Connection) -> tuple[Anchor, ...]:
    """The canary's anchors, in the order they were chosen."""
    rows = conn.execute(
        text(
            "SELECT anchor, position, query_text, result_id, result_text FROM canary_anchors "
            "ORDER BY position"
        )
    )
    return tuple(
        Anchor(r.anchor, int(r.position), r.query_text, r.result_id, r.result_text) for r in rows
    )


def store_anchors(conn: Connection, *, anchors: Sequence[Anchor], chosen_from: dt.date) -> None:
    """Keep these anchors (those already kept stay as they are)."""
    if not anchors:
        return
    stmt = insert(models.CanaryAnchor).values(
        [
            {
                "anchor": a.anchor,
                "position": a.position,
                "query_text": a.query_text,
                "result_id": a.result_id,
                "result_text": a.result_text,
                "chosen_from": chosen_from,
            }
            for a in anchors
        ]
    )
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["anchor"]))


def store_canary_grades(conn: Connection, *, grades: Iterable[CanaryGrade]) -> int:
    """Store (or, on a rerun of the day, replace) canary grades; how many were written."""
    rows = [
        {
            "canary_date": g.day,
            "judge_id": g.judge_id,
            "judge_name": g.judge_name,
            "anchor": g.anchor,
            "status": "ok" if g.grade is not None else "invalid",
            "grade": g.grade,
        }
        for g in grades
    ]
    if not rows:
        return 0
    stmt = insert(models.CanaryGrade).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["canary_date", "judge_id", "anchor"],
        set_={"status": stmt.excluded.status, "grade": stmt.excluded.grade},
    )
    conn.execute(stmt)
    return len(rows)


def canary_grades_for(
    conn: Connection, *, day: dt.date, reference_days: int
) -> tuple[CanaryGrade, ...]:
    """The grades of ``day`` and of the first ``reference_days`` days of every judge
    configuration graded on ``day`` (its reference), oldest first."""
    rows = conn.execute(
        text(
            "WITH graded AS (SELECT DISTINCT judge_id FROM canary_grades WHERE canary_date = :d), "
            "ranked AS (SELECT g.canary_date, g.judge_id, g.judge_name, g.anchor, g.grade, "
            "dense_rank() OVER (PARTITION BY g.judge_id ORDER BY g.canary_date) AS nth "
            "FROM canary_grades g JOIN graded USING (judge_id) WHERE g.canary_date <= :d) "
            "SELECT canary_date, judge_id, judge_name, anchor, grade FROM ranked "
            "WHERE nth <= :n OR canary_date = :d ORDER BY canary_date, judge_id, anchor"
        ),
        {"d": day, "n": reference_days},
    )
    return tuple(
        CanaryGrade(r.canary_date, int(r.judge_id), r.judge_name, r.anchor, r.grade) for r in rows
    )


def canary_judges_graded(conn: Connection, *, day: dt.date) -> set[int]:
    """The judges (ids) whose canary grades for ``day`` are stored: a rerun of the day
    does not ask them again."""
    rows = conn.execute(
        text("SELECT DISTINCT judge_id FROM canary_grades WHERE canary_date = :d"), {"d": day}
    )
    return {int(r.judge_id) for r in rows}
