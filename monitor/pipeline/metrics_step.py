"""The metrics step: read a day's stored verdicts, compute its figures, store them.

Production's samples are every ranker's except the ``compare:*`` rankings that the
compare flow stores beside them (``monitor.store.models.PRODUCTION_SAMPLES``).

The queries are ``monitor.store.metric_reads``; the statistics are the pure functions of
``monitor.metrics``; this step puts the one into the other. Recomputing a day replaces
its ``daily_metrics`` rows, so the step is idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from monitor.config import Settings
from monitor.metrics import drift
from monitor.metrics.daily import (
    ALL,
    ENSEMBLE,
    GradedQuery,
    JudgeVerdictRow,
    LabelPair,
    MetricRow,
    compute_changepoint,
    compute_drift,
    compute_grade_counts,
    compute_human_agreement,
    compute_judge_health,
    compute_quality,
)
from monitor.pipeline.budget_step import ceiling_rows
from monitor.pipeline.canary import canary_rows
from monitor.pipeline.corrected_step import corrected_rows
from monitor.pipeline.cuped_step import cuped_rows
from monitor.pipeline.panel_step import panel_rows
from monitor.sampling import stratum_key
from monitor.sampling_panel import PANEL_STRATUM
from monitor.store import metric_reads, pool, pool_reads
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.store.reads import daily_series

__all__ = ["compute_day_metrics", "ndcg_history", "partial_ensemble_share"]

CHANGEPOINT_K = 10


def _graded_queries(conn: Connection, day: dt.date) -> list[GradedQuery]:
    """The day's production samples with their grades and their query's judgment pool
    (``pool_reads``: every result judged for the query up to the day, the pooled ideal)."""
    pools = pool_reads.pooled_grades(conn, day=day)
    return [
        GradedQuery.from_row(row, pool=pools.get(row[0], ()))
        for row in metric_reads.graded_queries(conn, day=day)
    ]


def _verdict_rows(conn: Connection, day: dt.date) -> list[JudgeVerdictRow]:
    lengths = metric_reads.result_lengths(conn, day=day)
    return [
        JudgeVerdictRow(*row, lengths.get((row[0], row[1]), 0))
        for row in metric_reads.pointwise_verdicts(conn, day=day)
    ]


def _label_pairs(conn: Connection, day: dt.date) -> list[LabelPair]:
    """Judges' and the ensemble's grades next to human labels for the same pairs."""
    pairs = [
        LabelPair(judge, grade, human)
        for judge, grade, human in metric_reads.judge_label_pairs(conn, day=day)
    ]
    pairs += [
        LabelPair(ENSEMBLE, int(grade + 0.5), human)
        for grade, human in metric_reads.ensemble_label_pairs(conn, day=day)
    ]
    return pairs


def _grades_by_judge(
    conn: Connection, start: dt.date, end: dt.date
) -> dict[str, list[float | None]]:
    """Valid grades per judge (and the ensemble) for samples dated in [start, end].

    From the grade histograms the metrics step stored for those days
    (``compute_grade_counts``); a day without them is counted from its verdicts.
    """
    out: dict[str, list[float | None]] = defaultdict(list)
    stored = metric_reads.stored_grade_counts(conn, first=start, last=end)
    for day in sorted(stored):
        for name, counts in stored[day].items():
            for value, n in sorted(counts.items()):
                out[name] += [float(value)] * n
    for first, last in _runs_without(stored.keys(), start, end):
        for name, grade in metric_reads.judge_grades_between(conn, first=first, last=last):
            out[name].append(grade)
        for grade in metric_reads.ensemble_grades_between(conn, first=first, last=last):
            out[ENSEMBLE].append(grade)
    return dict(out)


def _runs_without(
    days: Iterable[dt.date], start: dt.date, end: dt.date
) -> list[tuple[dt.date, dt.date]]:
    """The runs of consecutive days in [start, end] that are not in ``days``."""
    have, runs = set(days), []
    day, first = start, None
    while day <= end:
        if day not in have and first is None:
            first = day
        if day in have and first is not None:
            runs.append((first, day - dt.timedelta(days=1)))
            first = None
        day += dt.timedelta(days=1)
    if first is not None:
        runs.append((first, end))
    return runs


def _day_grades(
    verdicts: Sequence[JudgeVerdictRow], queries: Sequence[GradedQuery]
) -> dict[str, list[float | None]]:
    """``_grades_by_judge`` for the day itself, from the rows already read for it.

    A result a query showed in several lists (a panel query's) is one grade, its
    lowest-id list's valid one, as the window's recount has it: counted once per list, a
    day whose regression served a share of traffic a new list would count the results
    both lists share twice.
    """
    query_of = {q.sample_id: q.query if q.query is not None else q.sample_id for q in queries}
    first: dict[tuple[str, object, str], tuple[int, float]] = {}
    for row in verdicts:
        if row.status == "ok" and row.grade is not None:
            key = (row.judge, query_of.get(row.sample_id, row.sample_id), row.result_id)
            if key not in first or row.sample_id < first[key][0]:
                first[key] = (row.sample_id, float(row.grade))
    for q in sorted(queries, key=lambda q: q.sample_id):
        results = q.results or tuple(f"#{q.sample_id}-{i}" for i in range(len(q.grades)))
        for result, grade in zip(results, q.grades, strict=True):
            key = (ENSEMBLE, query_of[q.sample_id], result)
            if grade is not None and key not in first:
                first[key] = (q.sample_id, float(grade))
    out: dict[str, list[float | None]] = defaultdict(list)
    for (name, _, _), (_, grade) in first.items():
        out[name].append(grade)
    return dict(out)


def _mix(
    conn: Connection, start: dt.date, end: dt.date, strata: Sequence[str]
) -> tuple[dict[str, float], list[float], dict[str, float]]:
    """Segment shares (by searches represented), query lengths and the searches each
    query stands for (its samples' weights).

    A panel sample counts in the stratum of its segment, not in ``panel``: the panel is
    how queries were drawn, not where they were searched, so switching it on must not
    read as a change in the query mix (a panel sample's weight is its searches).
    """
    weights: dict[str, float] = defaultdict(float)
    lengths: list[float] = []
    queries: dict[str, float] = defaultdict(float)
    for stratum, weight, query_norm, segment, list_no in metric_reads.sample_mix(
        conn, first=start, last=end, segment_of=PANEL_STRATUM
    ):
        if stratum == PANEL_STRATUM:
            stratum = stratum_key(segment, strata)
        weights[stratum] += weight
        if list_no == 0:  # a query's further lists (a panel query's) are the same query
            lengths.append(float(len(query_norm.split())))
        queries[query_norm] += weight
    total = sum(weights.values())
    shares = {k: v / total for k, v in weights.items()} if total else {}
    return shares, lengths, dict(queries)


def ndcg_history(
    conn: Connection, *, end: dt.date, days: int, k: int = CHANGEPOINT_K
) -> list[float | None]:
    """Stored daily nDCG@k (overall, ensemble) for the ``days`` days before ``end``."""
    start = end - dt.timedelta(days=days)
    stored = {
        p.day: p.value
        for p in daily_series(
            conn,
            metric="ndcg",
            segment=ALL,
            judge=ENSEMBLE,
            k=k,
            first=start,
            last=end - dt.timedelta(days=1),
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
    for judge, consistent in metric_reads.consistency_flags(conn, day=day):
        flags[judge].append(consistent)
    return dict(flags)


def partial_ensemble_share(answered: Sequence[int], ensemble_size: int) -> MetricRow:
    """The share of the day's results whose ensemble grade lacks a judge: graded by fewer
    judges than the ensemble has (a call failed or its answer was invalid), none included.

    A day's ensemble is never written from a subset of its judges without this saying
    so: 0 on a day every judge answered for every result.
    """
    if not answered:
        return MetricRow(
            "partial_ensemble_share", ALL, ENSEMBLE, 0, None, None, None, 0, "no ensemble grades"
        )
    partial = sum(1 for n in answered if n < ensemble_size)
    share = partial / len(answered)
    return MetricRow(
        "partial_ensemble_share", ALL, ENSEMBLE, 0, share, None, None, len(answered), None
    )


def compute_day_metrics(database: Database, day: dt.date, settings: Settings) -> list[MetricRow]:
    """Compute and store every figure of ``day``; return the rows stored."""
    baseline_start = day - dt.timedelta(days=settings.baseline_days)
    baseline_end = day - dt.timedelta(days=1)
    with database.engine.begin() as conn:  # the judgment pool up to the day, kept
        pool.fold_through(conn, day=day)
    with database.engine.connect() as conn:
        queries = _graded_queries(conn, day)
        verdicts = _verdict_rows(conn, day)
        pairs = _label_pairs(conn, day)
        flags = _consistency_flags(conn, day)
        baseline_grades = _grades_by_judge(conn, baseline_start, baseline_end)
        strata = settings.sampling.strata
        shares, lengths, today_queries = _mix(conn, day, day, strata)
        base_shares, base_lengths, seen = _mix(conn, baseline_start, baseline_end, strata)
        history = ndcg_history(conn, end=day, days=2 * settings.baseline_days)
        answered = metric_reads.judges_per_result(conn, day=day)
        cuped = cuped_rows(conn, day, settings, queries)  # if configured

    current_grades = _day_grades(verdicts, queries)
    rows = compute_quality(queries, ks=settings.ks, relevant=settings.relevant_grade)
    rows += compute_grade_counts(current_grades)  # later days' baselines sum these
    rows += compute_judge_health(verdicts, flags or None)
    if pairs:
        rows += compute_human_agreement(pairs, relevant=settings.relevant_grade)
    # by the searches each query stands for: a capped day judges a share of its new lists
    new_share = (
        drift.new_query_share(list(today_queries), seen, list(today_queries.values()))
        if seen and today_queries
        else None
    )
    rows += compute_drift(
        current_grades, baseline_grades, shares, base_shares, lengths, base_lengths, new_share
    )
    series = [*history, _today_ndcg(rows, CHANGEPOINT_K)]
    rows += compute_changepoint(series, baseline_days=settings.baseline_days, cutoff=CHANGEPOINT_K)
    rows += canary_rows(database, day)  # the judge canary's grades of the day
    rows += corrected_rows(database, day, settings)  # human labels correct the judge's
    rows += panel_rows(database, day, settings)  # the paired panel's change (if configured)
    rows += cuped
    rows.append(partial_ensemble_share(answered, len(settings.judges)))
    rows += ceiling_rows(database, day, settings)
    with database.engine.begin() as conn:
        # recomputing a day replaces all its figures: none left over from a former run
        repo.replace_daily_metrics(
            conn,
            day=day,
            rows=[
                (r.metric, r.segment, r.judge, r.k, r.value, r.ci_low, r.ci_high, r.n, r.reason)
                for r in rows
            ],
        )
    return rows
