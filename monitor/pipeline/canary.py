"""The judge canary: a fixed set of (query, result) anchors every judge re-grades daily.

A judge can change without its configuration changing: the provider serves another model
or version under the same name. The verdict cache cannot see that — it would keep
serving last month's answers — so the canary asks each judge about the same anchors
every day *without* the cache, stores the grades (``canary_grades``, per judge
configuration: a new model or prompt version is a new configuration and starts a new
reference), and the metrics step compares them with the configuration's first
``REFERENCE_DAYS`` days (``monitor.metrics.canary``): ``canary_changed_share`` and
``canary_grade_shift``, with the rule ``JudgeMonitorJudgeChanged``.

The anchors (``canary_size`` of them, settings) are chosen once, from the first day the
canary runs: the top results of that day's sampled queries, round-robin by position so
they span good and bad results, kept with their texts so they outlive sample retention.
A judge that fails on the canary does not fail the day: the canary logs it and that
judge has no canary figure that day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence

from monitor.config import Settings
from monitor.errors import JudgeMonitorError
from monitor.judges.base import Judge, gather_or_raise
from monitor.metrics.canary import canary_figures, reference_grades
from monitor.metrics.daily import ALL, MetricRow
from monitor.pipeline.steps import StoredSample, judge_ids_for
from monitor.store.canary import (
    Anchor,
    CanaryGrade,
    canary_anchors,
    canary_grades_for,
    canary_judges_graded,
    store_anchors,
    store_canary_grades,
)
from monitor.store.db import Database
from monitor.types import JudgeItem, Result

__all__ = ["REFERENCE_DAYS", "canary_rows", "choose_anchors", "judge_canary"]

log = logging.getLogger(__name__)

#: How many first days of a judge configuration make its reference grades.
REFERENCE_DAYS = 3


def _anchor_key(query: str, result_id: str) -> str:
    return hashlib.sha256(f"{query}\x00{result_id}".encode()).hexdigest()[:32]


def choose_anchors(samples: Sequence[StoredSample], size: int) -> list[Anchor]:
    """Up to ``size`` anchors from a day's samples: every query's first result, then
    every query's second, and so on (queries in sample order, empty results skipped)."""
    chosen: list[Anchor] = []
    seen: set[str] = set()
    depth = max((len(s.results) for s in samples), default=0)
    for index in range(depth):
        for sample in samples:
            if len(chosen) >= size:
                return chosen
            if index >= len(sample.results):
                continue
            result = sample.results[index]
            key = _anchor_key(sample.query_norm, result.id)
            if not result.content.strip() or key in seen:
                continue
            seen.add(key)
            chosen.append(Anchor(key, len(chosen), sample.query, result.id, result.content))
    return chosen


async def judge_canary(
    database: Database,
    settings: Settings,
    judges: Sequence[Judge],
    samples: Sequence[StoredSample],
    day: dt.date,
) -> int:
    """Grade the anchors with every judge, bypassing the cache; the grades stored."""
    if settings.canary_size <= 0 or not judges:
        return 0
    with database.engine.begin() as conn:
        anchors = canary_anchors(conn)
        if not anchors:
            store_anchors(
                conn, anchors=choose_anchors(samples, settings.canary_size), chosen_from=day
            )
            anchors = canary_anchors(conn)
    if not anchors:
        return 0
    ids = judge_ids_for(database, judges)
    with database.engine.connect() as conn:
        done = canary_judges_graded(conn, day=day)
    judges = [judge for judge in judges if ids[judge.name] not in done]  # a rerun pays nothing
    if not judges:
        return 0
    items = [
        JudgeItem(a.query_text, Result(a.result_id, position=a.position + 1, text=a.result_text))
        for a in anchors
    ]

    async def graded(judge: Judge) -> list[CanaryGrade]:
        try:
            verdicts = await judge.judge(items)  # the judge itself: no verdict cache
        except (JudgeMonitorError, OSError) as exc:
            log.warning("judge canary: %s did not answer: %s", judge.name, exc)
            return []
        return [
            CanaryGrade(day, ids[judge.name], judge.name, a.anchor, v.grade)
            for a, v in zip(anchors, verdicts, strict=True)
        ]

    # the judges side by side, as the day's judging asks them: one round trip, not one each
    grades = [g for each in await gather_or_raise([graded(j) for j in judges]) for g in each]
    with database.engine.begin() as conn:
        return store_canary_grades(conn, grades=grades)


def canary_rows(database: Database, day: dt.date) -> list[MetricRow]:
    """The canary figures of ``day``, one pair per judge graded that day."""
    with database.engine.connect() as conn:
        stored = canary_grades_for(conn, day=day, reference_days=REFERENCE_DAYS)
    by_config: dict[int, list[CanaryGrade]] = defaultdict(list)
    for grade in stored:
        by_config[grade.judge_id].append(grade)
    # one configuration per judge name: the one graded last on the day
    latest = {grades[-1].judge_name: grades for grades in by_config.values()}
    rows: list[MetricRow] = []
    for name, grades in sorted(latest.items()):
        reference = reference_grades(
            [(g.day, g.anchor, g.grade) for g in grades], days=REFERENCE_DAYS
        )
        figures = canary_figures(reference, {g.anchor: g.grade for g in grades if g.day == day})
        for metric, value in (
            ("canary_changed_share", figures.changed_share),
            ("canary_grade_shift", figures.grade_shift),
        ):
            rows.append(
                MetricRow(metric, ALL, name, 0, value, None, None, figures.n, figures.reason)
            )
    return rows
