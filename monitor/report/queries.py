"""The queries a person clicks into: the day's worst, its biggest drops, the judges' splits.

A day's figure says *that* quality fell; these say *what users saw*. Each query comes
with the results search showed, the ensemble's grade of each and what every judge
answered (grade and reasoning), so a reader can tell a real failure from a judge's
mistake without opening the database.

* the **lowest** nDCG@k of the day's sampled queries;
* the **biggest drops against their own history**: queries sampled in the baseline
  window too, by how far today's nDCG@k fell below their mean there;
* the **judges' biggest disagreements**: results the ensemble's judges graded furthest
  apart (only when two or more judges graded them).

Per query, nDCG@k has the ideal from the query's own judged list (how well search
ordered what it showed; ``ndcg_at_k``); a judged list in which nothing earns a gain
counts 0 and a list with nothing judged is left out, as in the daily figures.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from monitor.metrics.quality import ndcg_at_k, served_mean
from monitor.store import report_reads
from monitor.store.sample_reads import pointwise_opinions
from monitor.types import in_segment

__all__ = [
    "Disagreement",
    "JudgeOpinion",
    "QueryView",
    "ResultView",
    "disagreements",
    "segment_label",
    "worst_queries",
]

#: How many results of a query the report shows (the top of the list nDCG@10 reads).
SHOWN_RESULTS = 10
#: Body text is cut to this many characters (the title and the judges' reasoning are not).
BODY_CHARS = 160


@dataclass(frozen=True, slots=True)
class JudgeOpinion:
    """What one judge answered on one result."""

    judge: str
    grade: int | None
    status: str
    reasoning: str


@dataclass(frozen=True, slots=True)
class ResultView:
    """One result as search showed it, the ensemble's grade and each judge's answer."""

    position: int
    result_id: str
    title: str
    body: str
    grade: float | None
    disagreement: float | None
    opinions: tuple[JudgeOpinion, ...]


@dataclass(frozen=True, slots=True)
class QueryView:
    """A sampled query of the day, its nDCG@k, its history and what it showed."""

    sample_id: int
    query: str
    segment: str
    ndcg: float
    history_mean: float | None
    history_n: int
    results: tuple[ResultView, ...]
    #: a query served several lists that day (a panel query): ``ndcg`` is their
    #: search-weighted mean, the results shown are of its worst list, whose nDCG this is
    shown_ndcg: float | None = None

    @property
    def drop(self) -> float | None:
        """How far below its own baseline-window mean the query is today (None: no history)."""
        return None if self.history_mean is None else self.history_mean - self.ndcg


def segment_label(segment: Mapping[str, Any]) -> str:
    """``locale=fr, band=head``: a sample's segment values, by key."""
    return ", ".join(f"{key}={segment[key]}" for key in sorted(segment))


def _ndcg(grades: Sequence[float | None], k: int) -> float:
    """nDCG@k as ``query_figures`` has it: 0 for a judged list with no gain."""
    value = ndcg_at_k(grades, k)
    if math.isnan(value) and any(g is not None for g in grades):
        return 0.0
    return value


def _cut(body: str) -> str:
    body = " ".join(body.split())
    return body if len(body) <= BODY_CHARS else body[: BODY_CHARS - 1].rstrip() + "…"


def _opinions(
    conn: Connection, pairs: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], tuple[JudgeOpinion, ...]]:
    """Each judge's newest pointwise answer on each pair, by judge name."""
    wanted = list(dict.fromkeys(pairs))
    found: dict[tuple[int, str], dict[str, JudgeOpinion]] = defaultdict(dict)
    if wanted:
        for o in pointwise_opinions(conn, pairs=wanted):  # oldest first: the newest wins
            found[(o.sample_id, o.result_id)][o.judge] = JudgeOpinion(
                o.judge, o.grade, o.status, o.reasoning
            )
    return {pair: tuple(found[pair][j] for j in sorted(found[pair])) for pair in wanted}


#: a query picked for the report: its sample shown, its day's nDCG, its history's mean
#: and days, the nDCG of the list shown when the day had several
_Picked = tuple[report_reads.GradedSample, float, float | None, int, float | None]


def _views(conn: Connection, day: dt.date, picked: Sequence[_Picked]) -> tuple[QueryView, ...]:
    ids = [s.sample_id for s, *_ in picked]
    shown = report_reads.shown_results(conn, day=day, sample_ids=ids, top=SHOWN_RESULTS)
    opinions = _opinions(conn, ((r.sample_id, r.result_id) for r in shown))
    by_sample: dict[int, list[ResultView]] = defaultdict(list)
    for r in shown:
        by_sample[r.sample_id].append(
            ResultView(
                position=r.position,
                result_id=r.result_id,
                title=r.title,
                body=_cut(r.body),
                grade=r.grade,
                disagreement=r.disagreement,
                opinions=opinions.get((r.sample_id, r.result_id), ()),
            )
        )
    return tuple(
        QueryView(
            sample_id=s.sample_id,
            query=s.query_text,
            segment=segment_label(s.segment),
            ndcg=ndcg,
            history_mean=mean,
            history_n=n,
            results=tuple(by_sample.get(s.sample_id, ())),
            shown_ndcg=worst_list,
        )
        for s, ndcg, mean, n, worst_list in picked
    )


def worst_queries(
    conn: Connection,
    *,
    day: dt.date,
    baseline_start: dt.date,
    k: int = 10,
    limit: int = 5,
    segment: str | None = None,
) -> tuple[tuple[QueryView, ...], tuple[QueryView, ...]]:
    """The day's ``limit`` lowest-nDCG@k queries, and its ``limit`` biggest drops against
    the same query's mean over its days ``baseline_start`` … the day before (only of
    ``segment`` when given)."""
    samples = report_reads.graded_samples_between(conn, first=baseline_start, last=day)
    samples = tuple(s for s in samples if in_segment(s.segment, segment))
    # a panel query's day may hold several lists (samples.list_no): every day of it, today
    # included, is their search-weighted mean, and it shows once, with its worst list
    days: dict[str, dict[dt.date, list[tuple[float, float]]]] = defaultdict(dict)
    worst: dict[str, tuple[report_reads.GradedSample, float]] = {}
    for s in samples:
        value = _ndcg(s.grades, k)
        if math.isnan(value):
            continue
        days[s.query_norm].setdefault(s.day, []).append((s.weight, value))
        if s.day == day and (s.query_norm not in worst or value < worst[s.query_norm][1]):
            worst[s.query_norm] = (s, value)
    # (the sample shown, the day's mean, its worst list's figure when it had several)
    today: list[tuple[report_reads.GradedSample, float, float | None]] = []
    for s, v in worst.values():
        lists = days[s.query_norm][day]
        today.append((s, served_mean(lists), v if len(lists) > 1 else None))
    history = {
        q: [served_mean(lists) for d, lists in by_day.items() if d != day]
        for q, by_day in days.items()
    }

    def entry(s: report_reads.GradedSample, v: float, shown: float | None) -> _Picked:
        past = history.get(s.query_norm, [])
        return (s, v, sum(past) / len(past) if past else None, len(past), shown)

    # ties (many lists score 0) go to the query that fell furthest from its own history
    ranked = sorted(
        (entry(*t) for t in today),
        key=lambda e: (e[1], -(e[2] if e[2] is not None else -1.0), e[0].query_text),
    )
    dropped = [entry(*t) for t in today if history.get(t[0].query_norm)]
    dropped = [e for e in dropped if e[2] is not None and e[2] - e[1] > 0]
    dropped.sort(key=lambda e: (-(e[2] or 0.0) + e[1], e[0].query_text))
    return _views(conn, day, ranked[:limit]), _views(conn, day, dropped[:limit])


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A result the judges split on: the query, the result, and every judge's answer."""

    query: str
    segment: str
    result: ResultView
    spread: float


def disagreements(
    conn: Connection, *, day: dt.date, limit: int = 5, segment: str | None = None
) -> tuple[Disagreement, ...]:
    """The day's ``limit`` results the judges disagreed on most, with their answers."""
    rows = report_reads.production_disagreements(conn, day=day, limit=limit * 4)
    rows = tuple(r for r in rows if in_segment(r.segment, segment))[:limit]
    opinions = _opinions(conn, ((r.sample_id, r.result_id) for r in rows))
    return tuple(
        Disagreement(
            query=r.query_text,
            segment=segment_label(r.segment),
            result=ResultView(
                position=r.position,
                result_id=r.result_id,
                title=r.title,
                body=_cut(r.body),
                grade=r.grade,
                disagreement=r.disagreement,
                opinions=opinions.get((r.sample_id, r.result_id), ()),
            ),
            spread=r.spread,
        )
        for r in rows
    )
