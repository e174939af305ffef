"""Calibration as a pipeline step: judges against human labels, stored for the ensemble.

Reads TREC qrels and one or more runs, judges every human-labelled (query, passage) of
each run's top k through the verdict cache (an LLM judge is never paid twice for the
same question), fits the cut points of local judges (cross-validated, so the reported
kappa is not measured on the data it was fitted on) and stores each judge's agreement,
weight and thresholds in ``judge_calibrations``. Printing lives in the CLI.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config import JudgeConfig, Settings, SourceConfig
from monitor.errors import InputError
from monitor.judges.base import Judge, Scorer
from monitor.judges.factory import build_ensemble, close_judges
from monitor.judging.cache import JudgeTally, Progress
from monitor.judging.ensemble import judge_with_cache
from monitor.labels.calibration import (
    ENSEMBLE,
    CalibrationReport,
    LabeledPair,
    build_report,
    distinct_pairs,
    ensemble_grades,
    ensemble_weight,
    labeled_pairs,
    qrels_index,
    score_correlation,
)
from monitor.metrics.estimate import Estimate
from monitor.metrics.thresholds import ThresholdFit, fit_thresholds
from monitor.sources.trec import TrecSource, read_qrels
from monitor.store.calibrations import upsert_calibration
from monitor.store.db import Database
from monitor.types import JudgeItem, Result, SearchRecord, Verdict, VerdictStatus

__all__ = [
    "CalibrationOutcome",
    "judge_pairs",
    "lexical_guard",
    "read_runs",
    "run_calibration",
    "store_calibration",
]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def read_runs(
    paths: Sequence[Path], *, passages: Path | None = None, topics: Path | None = None
) -> dict[str, list[SearchRecord]]:
    """ranker -> its records, for JSONL runs or TREC run files (with passages and topics)."""
    runs: dict[str, list[SearchRecord]] = {}
    for path in paths:
        options: dict[str, Any] = {}
        if passages is not None:
            options["passages"] = str(passages)
        if topics is not None:
            options["topics"] = str(topics)
        source = TrecSource(SourceConfig(kind="trec", path=str(path), options=options))
        records = list(source.fetch(_EPOCH, _EPOCH + dt.timedelta(days=1)))
        if source.ranker in runs:
            raise InputError(f"{path}: a run for ranker {source.ranker!r} was already given")
        if not records:
            raise InputError(f"{path}: no usable query in this run ({source.report})")
        runs[source.ranker] = records
    return runs


def _items(pairs: Sequence[LabeledPair]) -> list[JudgeItem]:
    return [
        JudgeItem(query=p.query, result=Result(id=p.docid, position=p.rank, text=p.text))
        for p in pairs
    ]


def judge_pairs(
    database: Database,
    judges: Sequence[Judge],
    pairs: Sequence[LabeledPair],
    progress: Progress | None = None,
    errors: list[str] | None = None,
    processes: int = 1,
) -> dict[str, list[float | None]]:
    """Each judge's grade of each pair through the verdict cache (None: no valid grade)."""

    async def run() -> tuple[dict[str, list[Verdict | None]], dict[str, JudgeTally]]:
        try:
            return await judge_with_cache(
                database,
                judges,
                _items(pairs),
                progress=progress,
                processes=processes,
            )
        finally:
            await close_judges(judges)  # on the loop that opened their clients

    verdicts, tallies = asyncio.run(run())
    for name, tally in tallies.items():
        failed = [f"{tally.failed} calls failed, e.g. {tally.failures[0]}"] if tally.failed else []
        for error in [*tally.errors, *failed]:  # a judge with failed calls is not measured
            if errors is not None:
                errors.append(f"judge {name}: {error}")
    return {
        name: [
            float(v.grade)
            if v is not None and v.status is VerdictStatus.OK and v.grade is not None
            else None
            for v in answers
        ]
        for name, answers in verdicts.items()
    }


def _num(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def _estimate_json(estimate: Estimate) -> dict[str, Any]:
    return {
        "value": estimate.value,
        "ci_low": estimate.ci_low,
        "ci_high": estimate.ci_high,
        "n": estimate.n,
        "reason": estimate.reason,
    }


def lexical_guard(
    runs: dict[str, list[SearchRecord]],
    pairs: Sequence[LabeledPair],
    grades: dict[str, list[float | None]],
    lexical: Sequence[str],
) -> list[str]:
    """Warnings for lexical judges that follow a lexical ranker's own score."""
    messages: list[str] = []
    others = [name for name in grades if name not in lexical]
    columns: dict[str, Sequence[float | None]] = dict(grades)
    if len(grades) > 1:
        columns[ENSEMBLE] = ensemble_grades(grades)
    reference = ENSEMBLE if ENSEMBLE in columns else None

    def grade_of(grades: Sequence[float | None]) -> Any:
        table = {(p.qid, p.docid): g for p, g in zip(pairs, grades, strict=True)}
        return lambda q, d: table.get((q, d))

    for ranker, records in runs.items():
        if "bm25" not in ranker.casefold():
            continue
        people = score_correlation(records, grade_of([float(p.human) for p in pairs]))
        for name in lexical:
            mine = score_correlation(records, grade_of(columns[name]))
            if reference is not None and others:
                theirs = score_correlation(records, grade_of(columns[reference]))
                against = f"the ensemble's ({_num(theirs)})"
            else:
                theirs, against = people, f"the human grades' ({_num(people)})"
            if not math.isnan(mine) and (math.isnan(theirs) or mine > theirs):
                messages.append(
                    f"guard: lexical judge {name!r} follows {ranker}'s own score "
                    f"(within-query rho {mine:.2f}) more than {against}; humans: "
                    f"{_num(people)}. It shares the lexical ranker's bias: do not trust it "
                    f"to compare {ranker} with neural rankers."
                )
    return messages


@dataclass
class CalibrationOutcome:
    report: CalibrationReport
    fits: dict[str, ThresholdFit]
    judges: list[Judge]
    pairs: int
    unjudged: int
    warnings: list[str]
    stored: int = 0


def run_calibration(
    database: Database,
    settings: Settings,
    *,
    labels: Path,
    runs: Sequence[Path],
    passages: Path | None = None,
    topics: Path | None = None,
    k: int = 10,
    fit: bool = True,
    bootstrap: int = 1000,
    progress: Progress | None = None,
) -> CalibrationOutcome:
    """Judge the labelled top-k pairs, fit local judges, measure, and store the result."""
    judges = build_ensemble(settings.judges)
    qrels = qrels_index(read_qrels(labels))
    records = read_runs(runs, passages=passages, topics=topics)
    all_pairs, unjudged = labeled_pairs(records, qrels, k)
    pairs = distinct_pairs(all_pairs)
    if not pairs:
        raise InputError(f"{labels}: no result in the top {k} of the runs has a human label")
    warnings: list[str] = []
    grades = judge_pairs(
        database, judges, pairs, progress, warnings, processes=settings.judge_processes
    )
    fits: dict[str, ThresholdFit] = {}
    fitted: dict[str, Judge] = {}
    human = [p.human for p in pairs]
    for judge in judges:
        if not fit or not isinstance(judge, Scorer):
            continue
        scores = judge.scores(_items(pairs))
        fits[judge.name] = fit_thresholds(scores, human, groups=[p.qid for p in pairs])
        fitted[judge.name] = judge.with_thresholds(fits[judge.name].thresholds)
    if fitted:
        grades.update(judge_pairs(database, list(fitted.values()), pairs, progress, warnings))
    report = build_report(records, qrels, pairs, grades, k=k, unjudged=unjudged, n_boot=bootstrap)
    lexical = [j.name for j in judges if j.config.kind == "lexical"]
    warnings += lexical_guard(records, pairs, grades, lexical)
    # a judge whose endpoint failed was not measured: storing it would weigh it 0
    failed = {j.name for j in judges if any(w.startswith(f"judge {j.name}:") for w in warnings)}
    warnings += [f"{name}: not stored, its endpoint failed during calibration" for name in failed]
    measured = [j for j in judges if j.name not in failed]
    store_calibration(database, report, measured, fits, str(labels.resolve()), k)
    return CalibrationOutcome(
        report=report,
        fits=fits,
        judges=judges,
        pairs=len(pairs),
        unjudged=unjudged.total_unjudged,
        warnings=warnings,
        stored=len(measured),
    )


def store_calibration(
    database: Database,
    report: CalibrationReport,
    judges: Sequence[Judge],
    fits: dict[str, ThresholdFit],
    labels_source: str,
    k: int,
) -> int:
    """Store each judge's agreement, ensemble weight and fitted thresholds."""
    with database.engine.begin() as conn:
        for judge in judges:
            row = report.agreement[judge.name]
            metrics: dict[str, Any] = {
                name: _estimate_json(getattr(row, name))
                for name in ("precision", "recall", "f1", "kappa", "tau", "rho")
            }
            metrics["confusion"] = row.confusion.tolist()
            metrics["k"] = k
            metrics["ranker_tau"] = _nan_none(report.ranker_tau[judge.name])
            metrics["judge_ndcg"] = {
                r: _nan_none(v) for r, v in report.judge_ndcg[judge.name].items()
            }
            metrics["human_ndcg"] = {r: _nan_none(v) for r, v in report.human_ndcg.items()}
            fit_result = fits.get(judge.name)
            if fit_result is not None:
                metrics["cv_kappa"] = fit_result.cv_kappa
                metrics["fitted_kappa"] = fit_result.fitted_kappa
            config: JudgeConfig = judge.config
            upsert_calibration(
                conn,
                judge_name=judge.name,
                config_hash=config.identity_hash(),
                labels_source=labels_source,
                n=row.n,
                metrics=metrics,
                # a fitted judge's in-sample kappa flatters it: weigh it by the held-out one
                weight=ensemble_weight(row)
                if fit_result is None
                else max(fit_result.cv_kappa, 0.0),
                thresholds=None if fit_result is None else fit_result.thresholds,
            )
    return len(judges)


def _nan_none(value: float) -> float | None:
    return None if math.isnan(value) else value
