"""The corrected figures of a day: the judge's quality figures corrected by human labels.

The metrics step calls ``corrected_rows`` once a day. It reads the samples picked for
annotation in the label window (``label_window_days``: the day, or the day and the ones
before it), their human grades, the window's graded queries and their design strata
(``store.label_reads``, ``store.metric_reads``, ``store.pool_reads``), and hands them to
the pure ``metrics.corrected.compute_corrected``: judge ``"corrected"`` (PPI++) and
``"humans"`` (humans-only) rows for both nDCGs (the headline pooled ``ndcg`` and the
list-ideal ``ndcg_list``), precision and the bad-top-1 rate, overall and per segment.

Only the window's days that have an annotation batch take part: the picked samples are a
random subset of *their* day's sample, not of a day nobody sent to annotators, whose
queries the labels of another day would then stand for without any design saying so.
A window with no human grade at all gives no row (no NULL row for every day of every
installation that never labels); with grades but too few for a segment, that segment's
rows are NULL with ``compute_corrected``'s reason.

The judge-only side of the pooled ``ndcg`` is each query's ensemble grades against the
judgment pool of its day (``pool_reads.pooled_grades``), as the dashboards' figure is; the
human side is the labelled list against every human label of a result production
showed for the query up to the sample's day (``label_reads.selected_samples``,
``metrics.corrected.human_pool``), whenever it was imported.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection

from monitor.config import Settings
from monitor.metrics.corrected import compute_corrected, human_grades, human_pool
from monitor.metrics.daily import ALL, GradedQuery, MetricRow
from monitor.metrics.quality import query_figures
from monitor.store import label_reads, metric_reads, pool_reads
from monitor.store.db import Database
from monitor.store.label_reads import SelectedSample
from monitor.types import in_segment

__all__ = ["LabelledWindow", "agreement_pairs", "corrected_rows", "read_window"]


@dataclass(frozen=True, slots=True)
class LabelledWindow:
    """What the correction of a window is computed from.

    ``selected``: the picked samples of the window (labelled or not); ``labelled``: the
    human grades by position of the fully labelled ones; ``pools``: their queries' human
    pools (``human_pool``); ``queries``: the graded queries of the window's days that have
    an annotation batch, each with its judgment pool; ``strata``: every such query's
    design stratum, ``"<day>|<ranker>|<stratum>"`` (``"<day>|*|*"`` for a day whose pick
    was a simple random sample).
    """

    selected: tuple[SelectedSample, ...]
    labelled: dict[int, tuple[float, ...]]
    pools: dict[int, tuple[float, ...]]
    queries: list[GradedQuery]
    strata: dict[int, str]

    @property
    def graded(self) -> bool:
        """Has any picked sample of the window a human grade?"""
        return any(s.grades for s in self.selected)


def _queries(conn: Connection, days: Sequence[dt.date]) -> list[GradedQuery]:
    out: list[GradedQuery] = []
    for day in days:
        pools = pool_reads.pooled_grades(conn, day=day)
        rows = metric_reads.graded_queries(conn, day=day)
        out.extend(GradedQuery.from_row(row, pool=pools.get(row[0], ())) for row in rows)
    return out


def read_window(database: Database, *, first: dt.date, last: dt.date, top_k: int) -> LabelledWindow:
    """The picked samples of ``first``..``last``, their labels and their days' queries."""
    with database.engine.connect() as conn:
        selected = label_reads.selected_samples(conn, first=first, last=last)
        if not any(s.grades for s in selected):
            return LabelledWindow(selected, {}, {}, [], {})
        days = sorted({s.day for s in selected})
        simple = {s.day for s in selected if s.selection.get("design") == "simple"}
        design = label_reads.design_strata(conn, first=days[0], last=days[-1])
        queries = _queries(conn, days)
    strata = {}
    for sample_id, (day, ranker, stratum) in design.items():
        strata[sample_id] = f"{day}|*|*" if day in simple else f"{day}|{ranker}|{stratum}"
    labelled = {
        s.id: grades
        for s in selected
        if (grades := human_grades(s.results, s.grades, top_k=top_k)) is not None
    }
    pools = {s.id: human_pool(s.pool) for s in selected if s.id in labelled}
    return LabelledWindow(selected, labelled, pools, queries, strata)


def corrected_rows(database: Database, day: dt.date, settings: Settings) -> list[MetricRow]:
    """The day's corrected and humans-only rows from the label window ending on ``day``;
    none when the window holds no human grade."""
    first = day - dt.timedelta(days=settings.label_window_days - 1)
    window = read_window(database, first=first, last=day, top_k=settings.sampling.top_k)
    if not window.graded:
        return []
    return compute_corrected(
        window.queries,
        window.labelled,
        window.strata,
        ks=settings.ks,
        relevant=settings.relevant_grade,
        pools=window.pools,
    )


def agreement_pairs(
    window: LabelledWindow,
    *,
    segment: str = ALL,
    k: int = 10,
    relevant: float = 2,
    metric: str = "ndcg",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The human and judge nDCG@k (``metric``: the pooled ``ndcg``, the headline figure
    corrected, or ``ndcg_list``) of the window's labelled queries in ``segment``, their
    weights (sampling weight over selection probability) and the mean judged queries a
    labelled day has in the segment: the inputs of ``ppi.agreement_moments`` and
    ``ppi.labels_needed``."""
    picked = {s.id: s for s in window.selected}
    key = f"{metric}@{k}"
    y, yhat, w = [], [], []
    per_day: dict[str, int] = {}
    for q in window.queries:
        if not in_segment(q.segment, segment):
            continue
        day = window.strata.get(q.sample_id, "").split("|", 1)[0]
        per_day[day] = per_day.get(day, 0) + 1
        if q.sample_id not in window.labelled:
            continue
        s = picked[q.sample_id]
        human = window.labelled[q.sample_id]
        y.append(query_figures(human, (k,), relevant, pool=window.pools.get(q.sample_id))[key])
        yhat.append(query_figures(q.grades, (k,), relevant, pool=q.pool)[key])
        w.append(s.weight / float(s.selection.get("probability") or 1.0))
    queries = sum(per_day.values()) / len(per_day) if per_day else 0.0
    return np.array(y), np.array(yhat), np.array(w), queries
