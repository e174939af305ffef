"""Detection power of the daily pipeline on real human-labelled search data (TREC DL19).

A simulated production (``monitor.sources.trec_production``) serves the DL19 queries
with splade-pp-ed; from a given day a share of its traffic is served by bm25 instead
(5, 10, 25, 50, 100%), or by splade-pp-ed with its top 10 shuffled. The real daily steps
(``monitor.pipeline.day.run_day``: sample → judge through the verdict cache → store → metrics)
run on a scratch PostgreSQL with a local judge, and the alert conditions are read back
with ``monitor.export.alerts.firing_alerts`` on segment ``all``:

* ``JudgeMonitorQualityDropVsBaseline`` (judged nDCG@10 > 0.05 below its baseline — the
  last ``baseline_days`` in-control days — and the CI's upper bound below it) and
  ``JudgeMonitorChangePoint`` (CUSUM > 5), both as the rules YAML states them;
* per cell: the true nDCG@10 drop (NIST grades, traffic-weighted), the judged drop (of
  ``ndcg``, the pooled ideal, and of ``ndcg_list``, the list's own ideal: "per-list"), and
  the days from the regression's first day until either alert fires (1 = that day);
* per sample size: false alarms over 60 clean days (alarm days / days with a full
  14-day baseline) and the paid (non-cached) judgments per day after day 1.

"Queries/day" is both the searches per day and ``sampling.size``. The sampler judges
each *distinct* query of the day once (weighted by its searches), and DL19 has 43
queries, so a day judges min(distinct queries, 43): the table prints how many.

One scratch database for the whole bench, so the verdict cache is shared: each sample
size uses its own block of dates in 2025 (days must be in the past). The 14 clean days
before a regression are the first 14 of the clean run; after each cell the later days
are deleted ("rewound") so the next cell starts from the same baseline.

    .venv/bin/python bench/detection_power.py            # semantic judge, full grid
    .venv/bin/python bench/detection_power.py --quick    # 100 queries/day, 3 cells
    .venv/bin/python bench/detection_power.py --judge lexical
    .venv/bin/python bench/detection_power.py --disagreements  # one day, both judges
    .venv/bin/python bench/detection_power.py --designs --seeds 10  # the six designs

``--designs`` compares the fresh-only design with fresh + CUPED (a control variate from
each query's own history), fresh + a paired panel (``sampling.panel_share``) and the
panel judged on every served list, at the same daily budget of queries, over ``--seeds``
seeds, in a simulation of the daily steps that keeps sampling, the cache's cost and the
statistics and drops the I/O (``bench/_panel_sim.py`` says what it keeps); and the last
of them at the same paid calls as fresh-only, day by day (``lists+weights@fresh-cost``).

Needs the TREC DL19 data: ``--data-dir`` or ``$JUDGE_MONITOR_TREC_DL19`` (``make data``).
Prints a table; the last line is the JSON report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.cli._prefect import quiet_prefect

quiet_prefect()

from _common import add_data_dir_option, report, require_data_dir, scratch_database  # noqa: E402
from sqlalchemy import text  # noqa: E402  (after Prefect's logging defaults are set)

from monitor.config import JudgeConfig, SamplingConfig, Settings, SourceConfig  # noqa: E402
from monitor.export.alerts import firing_alerts  # noqa: E402
from monitor.pipeline.panel_step import panel_rows  # noqa: E402
from monitor.sources.trec_production import TrecProductionSource  # noqa: E402
from monitor.store.db import Database  # noqa: E402

WATCHED = ("JudgeMonitorQualityDropVsBaseline", "JudgeMonitorChangePoint", "JudgeMonitorPanelDrop")
PANEL_ALARM = "JudgeMonitorPanelPairedDrop"  # the bench's own: paired CI upper bound < 0
SIZES = (50, 100, 300)
SHARES = (0.05, 0.10, 0.25, 0.50, 1.0)
BASELINE = 14
CLEAN_DAYS = 60
FIRST_DAY = dt.date(2025, 1, 1)
BLOCK_DAYS = 120  # > clean run + 2 x baseline window, so blocks never see each other
SEED = 0


@dataclass(frozen=True)
class Cell:
    """One regression: a bm25 share, or the shuffled top 10 (share 1)."""

    label: str
    share: float
    shuffle: bool = False


CELLS = (*(Cell(f"bm25 {s:.0%}", s) for s in SHARES), Cell("shuffle 100%", 1.0, True))
QUICK_CELLS = (Cell("bm25 10%", 0.10), Cell("bm25 25%", 0.25), Cell("shuffle 100%", 1.0, True))


@dataclass
class DayFigures:
    day: dt.date
    alerts: tuple[str, ...]
    judged_ndcg: float | None
    judged_ndcg_list: float | None
    paid: int
    cached: int
    distinct: int


@dataclass
class CellResult:
    cell: Cell
    true_drop: float
    days: list[DayFigures] = field(default_factory=list)

    @property
    def detected_on(self) -> int | None:
        for i, d in enumerate(self.days, start=1):
            if d.alerts:
                return i
        return None


def judges_for(name: str) -> list[JudgeConfig]:
    """The local judge(s) the bench runs: semantic, lexical, or both as an ensemble."""
    names = ["semantic", "lexical"] if name == "both" else [name]
    return [JudgeConfig(name=n, kind=n, api_key_env=None) for n in names]


def settings_for(
    size: int,
    judge: str,
    cell: Cell | None,
    start: dt.date | None,
    data_dir: Path,
    panel_share: float = 0.0,
    panel_lists: int = SamplingConfig().panel_lists,
) -> Settings:
    options: dict[str, Any] = {
        "data_dir": str(data_dir),
        "searches_per_day": size,
        "seed": SEED,
        "share": cell.share if cell else 0.0,
        "shuffle": cell.shuffle if cell else False,
        "start": start.isoformat() if start and cell else None,
    }
    return Settings(
        judges=judges_for(judge),
        source=SourceConfig(kind="trec_production", options=options),
        sampling=SamplingConfig(
            size=size,
            seed=SEED,
            strata=["traffic"],
            top_k=10,
            panel_share=panel_share,
            panel_lists=panel_lists,
        ),
        ks=[10],
        baseline_days=BASELINE,
    )


def run_one(database: Database, settings: Settings, day: dt.date) -> DayFigures:
    """One real daily run, then the watched alerts and the judged nDCG@10 it stored."""
    from monitor.pipeline.day import run_day

    outcome = run_day(database, settings, day)
    with database.engine.connect() as conn:
        fired = tuple(
            sorted(
                {
                    f.alert
                    for f in firing_alerts(conn, day, baseline_days=settings.baseline_days)
                    if f.segment == "all"
                }
                & set(WATCHED)
            )
        )
        # the paired panel's figure with its CI entirely below 0 (looser than the
        # JudgeMonitorPanelDrop rule above, which also wants the mean below its margin)
        for row in panel_rows(conn, day, settings):
            if row.ci_high is not None and row.ci_high < 0:
                fired += (PANEL_ALARM,)
        values = dict(
            conn.execute(
                text(
                    "SELECT metric, value FROM daily_metrics WHERE metric_date = :d "
                    "AND metric IN ('ndcg', 'ndcg_list') "
                    "AND k = 10 AND segment = 'all' AND judge = 'ensemble'"
                ),
                {"d": day},
            ).all()
        )
    value, value_list = values.get("ndcg"), values.get("ndcg_list")
    return DayFigures(
        day=day,
        alerts=fired,
        judged_ndcg=None if value is None else float(value),
        judged_ndcg_list=None if value_list is None else float(value_list),
        paid=int(outcome.counts["judged"]),
        cached=int(outcome.counts["cached"]),
        distinct=int(outcome.counts["sampled"]),
    )


def rewind(database: Database, after: dt.date) -> None:
    """Forget every day after ``after`` (the verdict cache stays: it is a cache)."""
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM samples WHERE sample_date > :d"), {"d": after})
        conn.execute(text("DELETE FROM daily_metrics WHERE metric_date > :d"), {"d": after})
        conn.execute(text("DELETE FROM runs WHERE run_date > :d"), {"d": after})
        conn.execute(text("DELETE FROM day_designs WHERE sample_date > :d"), {"d": after})


def true_drop(source: TrecProductionSource, cell: Cell) -> float:
    """Expected drop of the traffic's human nDCG@10: share x popularity-weighted gap."""
    sc = source.scenario
    base = source.ranker_ndcg(sc.base)
    pop = source.popularity()
    if cell.shuffle:
        # the shuffled top 10's expected nDCG: average over many shuffles per query
        probe = TrecProductionSource(
            SourceConfig(
                kind="trec_production",
                options={
                    "data_dir": str(sc.data_dir),
                    "share": 1.0,
                    "shuffle": True,
                    "start": "2000-01-01",
                    "searches_per_day": 20_000,
                    "seed": SEED,
                },
            )
        )
        records = probe.day_records(dt.date(2000, 1, 2))
        worse = statistics.fmean(probe.true_ndcg(r) for r in records)
        better = statistics.fmean(base[r.query_id] for r in records)
        return cell.share * (better - worse)
    other = source.ranker_ndcg(sc.regression_ranker)
    return cell.share * sum(pop[q] * (base[q] - other[q]) for q in pop)


def fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def clean_ndcg(days: list[DayFigures]) -> float:
    vals = [d.judged_ndcg for d in days if d.judged_ndcg is not None]
    return statistics.fmean(vals) if vals else math.nan


def run_size(
    database: Database,
    size: int,
    block: dt.date,
    *,
    judge: str,
    cells: tuple[Cell, ...],
    clean_days: int,
    max_days: int,
    data_dir: Path,
    panel_share: float = 0.0,
    panel_lists: int = SamplingConfig().panel_lists,
) -> dict[str, Any]:
    """The clean run and every regression cell for one sample size."""
    t0 = time.perf_counter()
    design = (panel_share, panel_lists)
    clean_settings = settings_for(size, judge, None, None, data_dir, *design)
    clean = [
        run_one(database, clean_settings, block + dt.timedelta(days=i)) for i in range(clean_days)
    ]
    evaluable = clean[BASELINE:]
    false_alarm_days = sum(bool(d.alerts) for d in evaluable)
    paid_after_1 = [d.paid for d in clean[1:]]
    baseline_end = block + dt.timedelta(days=BASELINE - 1)
    baseline_ndcg = clean_ndcg(clean[:BASELINE])
    start = baseline_end + dt.timedelta(days=1)
    rewind(database, baseline_end)
    source = TrecProductionSource(clean_settings.source)
    results = []
    for cell in cells:
        settings = settings_for(size, judge, cell, start, data_dir, *design)
        result = CellResult(cell=cell, true_drop=true_drop(source, cell))
        for i in range(max_days):
            figures = run_one(database, settings, start + dt.timedelta(days=i))
            result.days.append(figures)
            if figures.alerts:
                break
        rewind(database, baseline_end)
        results.append(result)
    print(
        f"\n{size} queries/day ({statistics.fmean(d.distinct for d in clean):.1f} distinct "
        f"judged/day), judge {judge}: clean judged nDCG@10 {fmt(baseline_ndcg)}; "
        f"false alarms {false_alarm_days}/{len(evaluable)} clean days "
        f"({', '.join(sorted({a for d in evaluable for a in d.alerts})) or 'none'}); "
        f"paid judgments day 1: {clean[0].paid}, after: max {max(paid_after_1, default=0)}, "
        f"total {sum(paid_after_1)} over {len(paid_after_1)} days, "
        f"{sum(d.paid for d in evaluable)} over days {BASELINE + 1}-{len(clean)} "
        f"[{time.perf_counter() - t0:.0f} s]"
    )
    header = (
        f"{'regression':<14}{'true drop':>10}{'judged drop':>12}{'per-list':>10}"
        f"{'detected':>10}{'paid/day':>9}  alerts"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for r in results:
        judged = [d.judged_ndcg for d in r.days if d.judged_ndcg is not None]
        judged_drop = baseline_ndcg - statistics.fmean(judged) if judged else math.nan
        listed = [d.judged_ndcg_list for d in r.days if d.judged_ndcg_list is not None]
        base_list = [d.judged_ndcg_list for d in clean[:BASELINE] if d.judged_ndcg_list is not None]
        list_drop = (
            statistics.fmean(base_list) - statistics.fmean(listed)
            if listed and base_list
            else math.nan
        )
        det = r.detected_on
        fired = r.days[-1].alerts if det else ()
        paid = statistics.fmean(d.paid for d in r.days)
        print(
            f"{r.cell.label:<14}{fmt(r.true_drop):>10}{fmt(judged_drop):>12}{fmt(list_drop):>10}"
            f"{(f'day {det}' if det else f'>{max_days} d'):>10}{paid:>9.1f}  "
            f"{', '.join(a.removeprefix('JudgeMonitor') for a in fired) or '-'}"
        )
        rows.append(
            {
                "cell": r.cell.label,
                "true_drop": round(r.true_drop, 4),
                "judged_drop": None if math.isnan(judged_drop) else round(judged_drop, 4),
                "judged_drop_per_list": None if math.isnan(list_drop) else round(list_drop, 4),
                "detected_day": det,
                "paid_per_day": round(paid, 1),
                "alerts": list(fired),
            }
        )
    return {
        "size": size,
        "distinct_per_day": round(statistics.fmean(d.distinct for d in clean), 1),
        "clean_judged_ndcg": round(baseline_ndcg, 4),
        "false_alarm_days": false_alarm_days,
        "evaluable_days": len(evaluable),
        "paid_day1": clean[0].paid,
        "paid_after_day1_max": max(paid_after_1, default=0),
        "paid_after_day1_total": sum(paid_after_1),
        "paid_after_baseline_total": sum(d.paid for d in evaluable),
        "cells": rows,
    }


def disagreements(database: Database, data_dir: Path, limit: int) -> None:
    """One clean day judged by the semantic and lexical judges; worst splits vs NIST."""
    from monitor.labels.files import export_disagreements
    from monitor.sources.trec import read_qrels

    day = FIRST_DAY
    settings = settings_for(100, "both", None, None, data_dir)
    run_one(database, settings, day)
    qrels = {(q, d): g for q, d, g in read_qrels(data_dir / "qrels.dl19-passage.txt")}
    rows = export_disagreements(database, day=day, limit=limit)
    out = []
    for row in rows:
        grades = {j.judge: j.grade for j in row.judges}
        nist = qrels.get((row.query_id, row.result_id))
        print(
            f"\n[{row.query_id}] {row.query!r} pos {row.position} doc {row.result_id}: "
            f"semantic {grades.get('semantic')} lexical {grades.get('lexical')} "
            f"NIST {nist if nist is not None else 'unjudged'}\n  {row.text[:300]!r}"
        )
        out.append({"qid": row.query_id, "docid": row.result_id, "nist": nist, **grades})
    report("detection_power_disagreements", {"day": day.isoformat(), "rows": out})


def designs(args: argparse.Namespace, started: float) -> None:
    """The designs (fresh, fresh + CUPED, fresh + panel, panel+lists, the last with the
    search-weighted paired change too, and that one at fresh-only's paid calls) at the
    same budget, side by side, over seeds."""
    from _panel_sim import PANEL_MARGIN, compare

    margin = PANEL_MARGIN if args.panel_margin is None else -abs(args.panel_margin)

    shares = (0.05, 0.10, 0.25)
    clean_days = 30 if args.quick else CLEAN_DAYS
    figures = compare(
        args.data_dir,
        seeds=args.seeds,
        size=args.size,
        searches=args.searches,
        panel_share=args.panel_share,
        shares=shares,
        clean_days=clean_days,
        max_days=args.max_days,
        margin=margin,
    )
    print(
        f"\n{args.searches} searches/day, sampling.size {args.size}, {args.seeds} seeds, "
        f"judge = NIST grades; detection within {args.max_days} days; paired margin {margin}"
    )
    header = (
        f"{'design':<26}{'regression':<11}{'true':>7}{'judged':>8}{'paired':>8}"
        f"{'day-1 share':>12}{'median day':>11}{'paid/day':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, d in figures.items():
        for c in d["cells"]:
            print(
                f"{name:<26}{c['cell']:<11}{fmt(c['true_drop']):>7}{fmt(c['judged_drop']):>8}"
                f"{fmt(c['paired_drop']):>8}{c['caught_day1_share']:>12.0%}"
                f"{(str(c['median_day']) if c['median_day'] else f'>{args.max_days}'):>11}"
                f"{c['paid_per_day']:>9.1f}"
            )
        print(
            f"{name:<26}clean: false alarms {d['false_alarms_per_clean_run']} per "
            f"{clean_days} days, paid/day {d['paid_per_day_clean']}, "
            f"panel queries/day {d['panel_queries_per_day']}; alarm days over the seeds by "
            "rule: " + ", ".join(f"{k} {v}" for k, v in d["false_alarm_days_by_rule"].items())
        )
    print()
    report(
        "detection_power_designs",
        {
            "seeds": args.seeds,
            "size": args.size,
            "searches_per_day": args.searches,
            "panel_share": args.panel_share,
            "clean_days": clean_days,
            "max_days": args.max_days,
            "paired_margin": margin,
            "seconds": round(time.perf_counter() - started, 1),
            "designs": figures,
        },
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--judge", choices=["semantic", "lexical", "both"], default="semantic")
    parser.add_argument("--quick", action="store_true", help="100 queries/day, 3 cells")
    parser.add_argument("--max-days", type=int, default=7, help="regression days per cell")
    parser.add_argument("--disagreements", action="store_true")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--designs", action="store_true", help="fresh, +CUPED, +panel; seeds")
    parser.add_argument("--seeds", type=int, default=10, help="with --designs")
    parser.add_argument("--size", type=int, default=20, help="with --designs: sampling.size")
    parser.add_argument("--searches", type=int, default=100, help="with --designs: per day")
    parser.add_argument("--panel-share", type=float, default=0.5, help="with --designs")
    parser.add_argument(
        "--panel-margin",
        type=float,
        default=None,
        help="with --designs: a what-if paired-rule margin (a drop, e.g. 0.01) instead of "
        "the rules file's",
    )
    parser.add_argument(
        "--pipeline-panel-share",
        type=float,
        default=0.0,
        help="without --designs: the real pipeline with this panel_share (its paired CI "
        "below 0 counts as an alert)",
    )
    parser.add_argument(
        "--pipeline-panel-lists",
        type=int,
        default=SamplingConfig().panel_lists,
        help="without --designs: sampling.panel_lists (distinct lists judged per panel query)",
    )
    add_data_dir_option(parser)
    args = parser.parse_args(argv)
    args.data_dir = require_data_dir(args.data_dir)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    if args.designs:
        designs(args, started)
        return
    with scratch_database() as database:
        if args.disagreements:
            disagreements(database, args.data_dir, args.limit)
            return
        sizes = (100,) if args.quick else SIZES
        cells = QUICK_CELLS if args.quick else CELLS
        clean_days = 30 if args.quick else CLEAN_DAYS
        figures = [
            run_size(
                database,
                size,
                FIRST_DAY + dt.timedelta(days=BLOCK_DAYS * i),
                judge=args.judge,
                cells=cells,
                clean_days=clean_days,
                max_days=args.max_days,
                data_dir=args.data_dir,
                panel_share=args.pipeline_panel_share,
                panel_lists=args.pipeline_panel_lists,
            )
            for i, size in enumerate(sizes)
        ]
    print()
    report(
        "detection_power",
        {
            "judge": args.judge,
            "quick": args.quick,
            "panel_share": args.pipeline_panel_share,
            "panel_lists": args.pipeline_panel_lists,
            "clean_days": clean_days,
            "max_days": args.max_days,
            "seconds": round(time.perf_counter() - started, 1),
            "sizes": json.loads(json.dumps(figures)),
        },
    )


if __name__ == "__main__":
    main()
