"""Fresh-only vs fresh + CUPED vs fresh + paired panel at the same daily budget, over seeds.

The full daily pipeline (``detection_power.py``'s default mode) costs minutes per
simulated day range, too slow for ≥ 10 seeds × 2 designs. This simulation keeps every
piece that decides detection and cost and drops only the I/O:

* traffic: ``TrecProductionSource.day_records`` (DL19 queries, Zipf popularity, a bm25
  share from the regression's first day), seeded per run;
* sampling: the real ``monitor.sampling.sample_day`` (with ``panel_share`` and the
  history of the queries sampled in the last ``baseline_days``, as ``fetch_sample`` reads
  it);
* the judge: the NIST grade of each shown passage (unjudged = 0). A perfect judge, so
  what differs between the designs is the statistics, not the judge's errors;
* cost: the verdict cache's semantics — a (query, passage) pair is paid the first time
  it is judged, never again;
* figures: the pooled nDCG@10 (``pooled_ndcg_at_k``, the pool = every passage judged for
  the query so far), the weighted daily mean with its CI (``weighted_mean``), the paired
  change (``paired_change``, each panel query's lists on its past days scored against
  today's pool, as ``panel_step`` does);
* alarms: fresh — the quality-drop rule as the rules state it (judged nDCG@10 > 0.05
  below the baseline, the mean of the last ``baseline_days`` days, and the CI's upper
  bound below it) or CUSUM > 5; panel design — either of those, or the paired rule as
  stated (the mean change below its margin and its CI's upper bound below 0); the
  thresholds are read from the rules file;
* a paid-call cap (``lists+weights@fresh-cost``): each day the design pays, in
  expectation, no more than fresh-only paid on the same seed, cell and day; the rows with
  new pairs are subsampled to fit and weighted up (``_within``).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monitor.config import SamplingConfig, SourceConfig
from monitor.export.rules import rules_by_name
from monitor.metrics.changepoint import NDCG_MIN_SD, cusum
from monitor.metrics.cuped import covariate_mean, cuped_values
from monitor.metrics.estimate import weighted_mean
from monitor.metrics.paired import PanelQuery, paired_change
from monitor.metrics.quality import pooled_ndcg_at_k
from monitor.sampling import sample_day
from monitor.sampling_budget import budget_probability
from monitor.sampling_panel import PANEL_STRATUM
from monitor.sources.trec import read_qrels
from monitor.sources.trec_production import QRELS_FILE, TrecProductionSource

BASELINE = 14
START = dt.date(2025, 1, 1)
_RULES = rules_by_name()  # the thresholds the alert rules state, not copies of them
DROP_RULE = _RULES["JudgeMonitorQualityDropVsBaseline"].thresholds[0]
CUSUM_LIMIT = _RULES["JudgeMonitorChangePoint"].thresholds[0]
PANEL_MARGIN = _RULES["JudgeMonitorPanelDrop"].thresholds[0]  # negative: a paired drop


@dataclass
class _State:
    """What the store would hold: the cache, the pool, each query's judged lists."""

    cache: set[tuple[str, str]] = field(default_factory=set)
    pool: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    lists: dict[str, list[tuple[dt.date, list[tuple[int, tuple[float, ...]]]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    sampled: dict[dt.date, set[str]] = field(default_factory=dict)
    series: list[float] = field(default_factory=list)
    centres: list[float | None] = field(default_factory=list)


@dataclass(frozen=True)
class Day:
    ndcg: float
    ci_high: float
    paired: float | None
    paired_high: float | None
    paid: int
    panel: int


def _source(data_dir: Path, seed: int, share: float, start: dt.date | None, n: int) -> Any:
    options = {
        "data_dir": str(data_dir),
        "searches_per_day": n,
        "seed": seed,
        "share": share,
        "start": start.isoformat() if start else None,
    }
    return TrecProductionSource(SourceConfig(kind="trec_production", options=options))


def _run_day(
    state: _State,
    source: Any,
    qrels: dict[tuple[str, str], int],
    day: dt.date,
    config: Any,
    *,
    cuped: bool = False,
    weighted: bool = False,
    cap: int | None = None,
) -> Day:
    """One simulated day. The sampler's rows of a query are its judged lists: one, but
    for a panel query under ``sampling.panel_lists`` > 1 (the ``all_lists`` designs),
    one per distinct list its searches were served, each weighted by its searches; the
    query's figure is their search-weighted mean. ``cuped``: the day's figure is the
    control-variate one (``monitor.metrics.cuped``). ``weighted``: the paired change
    weighs each panel query by its searches. ``cap``: the most new pairs the day pays.
    """
    history = set().union(
        *(state.sampled.get(day - dt.timedelta(days=i), set()) for i in range(1, BASELINE + 1))
    )
    sample = sample_day(source.day_records(day), day=day, config=config, history=history)
    rows = (
        sample.queries
        if cap is None
        else _within(sample.queries, state.cache, cap, random.Random(f"{config.seed}|{day}"))
    )
    rows_of: dict[str, list[Any]] = defaultdict(list)
    for sq in rows:
        rows_of[sq.record.normalized_query].append(sq)
    paid = 0
    values, weights, panel = [], [], []
    covariates: list[float | None] = []
    for q, rows in rows_of.items():
        in_panel = rows[0].stratum == PANEL_STRATUM
        lists = []
        for sq in rows:
            ids = [x.id for x in sq.record.results]
            grades = tuple(float(qrels.get((sq.record.query_id, i), 0)) for i in ids)
            for i, g in zip(ids, grades, strict=True):
                if (q, i) not in state.cache:
                    state.cache.add((q, i))
                    paid += 1
                state.pool[q][i] = g
            lists.append((sq.weight, grades))
        pool = tuple(state.pool[q].values())
        values.append(_score(lists, pool))
        weights.append(sum(sq.weight for sq in rows))  # the query's searches, estimated
        past = [_score(ls, pool) for d, ls in state.lists[q] if (day - d).days <= BASELINE]
        covariates.append(statistics.fmean(past) if past else None)
        if in_panel:
            w = weights[-1] if weighted else 1.0  # a panel query's weight is its searches
            panel.append(PanelQuery(q, values[-1], tuple(past), weight=w))
        state.lists[q].append((day, lists))
    state.sampled[day] = set(rows_of)
    past_centres = [c for c in state.centres[-BASELINE:] if c is not None]
    state.centres.append(covariate_mean(weights, covariates))  # as cuped_step stores it
    if cuped and len(state.series) >= BASELINE and past_centres:
        values, _ = cuped_values(values, weights, covariates, statistics.fmean(past_centres))
    est = weighted_mean(values, weights, seed=day.toordinal())
    pair = paired_change(panel) if panel else None
    state.series.append(est.value if est.value is not None else math.nan)
    return Day(
        ndcg=est.value if est.value is not None else math.nan,
        ci_high=est.ci_high if est.ci_high is not None else math.nan,
        paired=None if pair is None else pair.value,
        paired_high=None if pair is None else pair.ci_high,
        paid=paid,
        panel=len(panel),
    )


def _within(rows: Any, cache: set[tuple[str, str]], cap: int, draw: random.Random) -> list[Any]:
    """The rows judged under a cap of ``cap`` new pairs a day. A row that costs nothing
    is kept; when the others need more than ``cap``, each is kept with one probability p
    (Poisson sampling), the p whose expected new pairs are ``cap`` (a pair shown in m of
    them is paid with probability 1 − (1 − p)^m), and its weight is raised by 1/p
    (Horvitz–Thompson: the day's weighted mean and the paired change, ratio estimators,
    stay approximately unbiased; a query's own mean of kept and reweighted lists less so)."""
    new = [{(sq.record.normalized_query, x.id) for x in sq.record.results} - cache for sq in rows]
    p = budget_probability(new, cap)  # the pipeline's own solve (``monitor.sampling_budget``)
    if p is None:
        return list(rows)
    return [
        sq if not n else replace(sq, inclusion_probability=sq.inclusion_probability * p)
        for sq, n in zip(rows, new, strict=True)
        if not n or draw.random() < p
    ]


def _score(lists: list[tuple[int, tuple[float, ...]]], pool: tuple[float, ...]) -> float:
    """The search-weighted mean pooled nDCG@10 of a query's judged lists of a day."""
    total = sum(c for c, _ in lists)
    return sum(c * pooled_ndcg_at_k(g, 10, pool) for c, g in lists) / total


def _alarms(
    day: Day, state: _State, baseline: float, *, panel: bool, margin: float = PANEL_MARGIN
) -> set[str]:
    """Which watched rules hold on the day: the quality-drop rule, the change point, and
    for a panel design the paired rule (mean change below ``margin``, CI below 0)."""
    held = set()
    if baseline - day.ndcg > DROP_RULE and day.ci_high < baseline:
        held.add("quality_drop")
    stat = cusum(
        state.series[-2 * BASELINE :], baseline_days=BASELINE, min_sd=NDCG_MIN_SD
    ).statistic
    if stat and stat[-1] > CUSUM_LIMIT:
        held.add("change_point")
    if (
        panel
        and day.paired is not None
        and day.paired_high is not None
        and day.paired < margin
        and day.paired_high < 0
    ):
        held.add("paired")
    return held


def run_design(
    data_dir: Path,
    *,
    seed: int,
    size: int,
    searches: int,
    panel_share: float,
    shares: tuple[float, ...],
    clean_days: int,
    max_days: int,
    all_lists: bool = False,
    cuped: bool = False,
    weighted: bool = False,
    margin: float = PANEL_MARGIN,
    caps: dict[Any, list[int]] | None = None,
) -> dict[str, Any]:
    """One seed, one design: false alarms over ``clean_days`` clean days, then each
    regression cell from the same 14-day baseline. ``margin``: the paired rule's.
    ``caps``: the most each day may pay, per run (``"clean"`` or the cell's share), as
    another design's ``paid_days`` for the same seed."""
    how = {"cuped": cuped, "weighted": weighted}
    qrels = {(q, d): g for q, d, g in read_qrels(data_dir / QRELS_FILE)}
    config = SamplingConfig(
        size=size,
        seed=seed,
        strata=["traffic"],
        top_k=10,
        panel_share=panel_share,
        panel_lists=SamplingConfig().panel_lists if all_lists else 1,
    )
    clean = _source(data_dir, seed, 0.0, None, searches)
    state = _State()
    days = [START + dt.timedelta(days=i) for i in range(BASELINE + clean_days)]

    def cap(run: Any, i: int) -> int | None:
        return None if caps is None else caps[run][i]

    figures = [
        _run_day(state, clean, qrels, d, config, **how, cap=cap("clean", i))
        for i, d in enumerate(days)
    ]
    false_alarms = 0
    by_rule: dict[str, int] = defaultdict(int)
    for i in range(BASELINE, len(days)):
        base = statistics.fmean(f.ndcg for f in figures[i - BASELINE : i])
        state_series = state.series
        state.series = state_series[: i + 1]
        held = _alarms(figures[i], state, base, panel=panel_share > 0, margin=margin)
        false_alarms += bool(held)
        for rule in held:
            by_rule[rule] += 1
        state.series = state_series
    paid_per_day = statistics.fmean(f.paid for f in figures[1:])
    baseline = statistics.fmean(f.ndcg for f in figures[:BASELINE])
    cells = {}
    for share in shares:
        # the regression starts after the first 14 clean days, from the same stored state
        start = START + dt.timedelta(days=BASELINE)
        cell_state = _State()
        source = _source(data_dir, seed, share, start, searches)
        paid_days = [
            _run_day(cell_state, source, qrels, d, config, **how, cap=cap(share, i)).paid
            for i, d in enumerate(days[:BASELINE])
        ]
        detected, judged, paid, paired = None, [], [], []
        for i in range(max_days):
            day = start + dt.timedelta(days=i)
            fig = _run_day(
                cell_state, source, qrels, day, config, **how, cap=cap(share, BASELINE + i)
            )
            judged.append(fig.ndcg)
            paid.append(fig.paid)
            paid_days.append(fig.paid)
            if fig.paired is not None:
                paired.append(fig.paired)
            if detected is None and _alarms(
                fig, cell_state, baseline, panel=panel_share > 0, margin=margin
            ):
                detected = i + 1
        cells[share] = {
            "detected_day": detected,
            "judged_drop": baseline - statistics.fmean(judged),
            "paired_drop": -statistics.fmean(paired) if paired else None,
            "paid_per_day": statistics.fmean(paid),
            "paid_days": paid_days,
        }
    return {
        "false_alarms": false_alarms,
        "false_alarms_by_rule": dict(by_rule),
        "paid_per_day_clean": paid_per_day,
        "panel_queries": statistics.fmean(f.panel for f in figures[BASELINE:]),
        "paid_days": [f.paid for f in figures],
        "cells": cells,
    }


def _paid_days(run: dict[str, Any]) -> dict[Any, list[int]]:
    """A run's paid pairs per day, as ``run_design``'s ``caps``."""
    return {"clean": run["paid_days"]} | {k: c["paid_days"] for k, c in run["cells"].items()}


def true_drop(data_dir: Path, seed: int, share: float, searches: int) -> float:
    """The traffic's expected human nDCG@10 drop: share × popularity-weighted gap."""
    source = _source(data_dir, seed, share, START, searches)
    base = source.ranker_ndcg(source.scenario.base)
    other = source.ranker_ndcg(source.scenario.regression_ranker)
    pop = source.popularity()
    return share * sum(pop[q] * (base[q] - other[q]) for q in pop if not math.isnan(base[q]))


def compare(
    data_dir: Path,
    *,
    seeds: int,
    size: int,
    searches: int,
    panel_share: float,
    shares: tuple[float, ...],
    clean_days: int,
    max_days: int,
    margin: float = PANEL_MARGIN,
) -> dict[str, Any]:
    """The designs over ``seeds`` seeds: per cell the share caught on day 1, the
    median detection day (None past ``max_days``), judged vs true drop, paid calls.
    ``lists+weights`` is ``panel+lists`` with the search-weighted paired change;
    ``lists+weights@fresh-cost`` is that design paying each day at most what ``fresh``
    paid that day on the same seed."""
    designs: dict[str, Any] = {}
    fresh_runs: list[dict[str, Any]] = []
    # name, panel share, all lists, CUPED, search-weighted paired change, fresh's cost cap
    options: list[tuple[str, float, bool, bool, bool, bool]] = [
        ("fresh", 0.0, False, False, False, False),
        ("fresh+cuped", 0.0, False, True, False, False),
        ("fresh+panel", panel_share, False, False, False, False),
        ("panel+lists", panel_share, True, False, False, False),
        ("lists+weights", panel_share, True, False, True, False),
        ("lists+weights@fresh-cost", panel_share, True, False, True, True),
    ]
    for name, ps, all_lists, cv, weighted, capped in options:
        caps = [_paid_days(r) if capped else None for r in fresh_runs or [{}] * seeds]
        runs = [
            run_design(
                data_dir,
                seed=s,
                size=size,
                searches=searches,
                panel_share=ps,
                shares=shares,
                clean_days=clean_days,
                max_days=max_days,
                all_lists=all_lists,
                cuped=cv,
                weighted=weighted,
                margin=margin,
                caps=caps[s],
            )
            for s in range(seeds)
        ]
        fresh_runs = fresh_runs or runs
        cells = []
        for share in shares:
            det = [r["cells"][share]["detected_day"] for r in runs]
            days = sorted(d if d is not None else math.inf for d in det)
            median = statistics.median(days)
            paired = [r["cells"][share]["paired_drop"] for r in runs]
            paired = [p for p in paired if p is not None]
            cells.append(
                {
                    "cell": f"bm25 {share:.0%}",
                    "true_drop": round(
                        statistics.fmean(
                            true_drop(data_dir, s, share, searches) for s in range(seeds)
                        ),
                        4,
                    ),
                    "judged_drop": round(
                        statistics.fmean(r["cells"][share]["judged_drop"] for r in runs), 4
                    ),
                    "paired_drop": round(statistics.fmean(paired), 4) if paired else None,
                    "caught_day1_share": round(sum(d == 1 for d in det) / len(det), 2),
                    "median_day": None if math.isinf(median) else median,
                    "paid_per_day": round(
                        statistics.fmean(r["cells"][share]["paid_per_day"] for r in runs), 1
                    ),
                }
            )
        designs[name] = {
            "panel_share": ps,
            "panel_all_lists": all_lists,
            "cuped": cv,
            "paired_weighted_by_searches": weighted,
            "paid_capped_at_fresh": capped,
            "false_alarms_per_clean_run": round(
                statistics.fmean(r["false_alarms"] for r in runs), 2
            ),
            "false_alarm_days_by_rule": {  # summed over the seeds
                rule: sum(r["false_alarms_by_rule"].get(rule, 0) for r in runs)
                for rule in ("quality_drop", "change_point", "paired")
            },
            "paid_per_day_clean": round(statistics.fmean(r["paid_per_day_clean"] for r in runs), 1),
            "panel_queries_per_day": round(statistics.fmean(r["panel_queries"] for r in runs), 1),
            "cells": cells,
        }
    return designs
